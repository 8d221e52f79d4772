import numpy as np
import pytest

from keras_fcn.classes import (
    CAMVID_CLASS_NAMES,
    CAMVID_VOID,
    CITYSCAPES_CLASS_NAMES,
    PALETTES,
    camvid_palette,
    voc_palette,
)


def test_camvid_classes_and_colours_are_segnet_tutorials():
    assert CAMVID_CLASS_NAMES[2] == "Pole" and CAMVID_CLASS_NAMES[10] == "Bicyclist"
    assert len(CAMVID_CLASS_NAMES) == CAMVID_VOID == 11
    palette = camvid_palette()
    # Scripts/test_segmentation_camvid.py: Sky, Road, Pavement, Bicyclist, Unlabelled.
    assert palette[0].tolist() == [128, 128, 128]
    assert palette[3].tolist() == [128, 64, 128]
    assert palette[4].tolist() == [60, 40, 222]
    assert palette[10].tolist() == [0, 128, 192]
    assert palette[255].tolist() == [0, 0, 0]
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    assert len({tuple(colour) for colour in palette[:11]}) == 11


def test_cityscapes_classes_are_its_train_ids():
    # cityscapesScripts helpers/labels.py: trainId 0 road, 6 traffic light, 11 person, 18 bicycle.
    assert len(set(CITYSCAPES_CLASS_NAMES)) == len(CITYSCAPES_CLASS_NAMES) == 19
    named = {0: "road", 6: "traffic light", 11: "person", 17: "motorcycle", 18: "bicycle"}
    assert {index: CITYSCAPES_CLASS_NAMES[index] for index in named} == named


def test_palettes_by_name():
    np.testing.assert_array_equal(PALETTES["voc"](), voc_palette())
    np.testing.assert_array_equal(PALETTES["camvid"](), camvid_palette())
    with pytest.raises(ValueError, match=r"\[11, 256\]"):
        camvid_palette(5)
