import numpy as np
import pytest

from keras_fcn.classes import (
    ADE20K_CLASS_NAMES,
    CAMVID_CLASS_NAMES,
    CAMVID_VOID,
    CITYSCAPES_CLASS_NAMES,
    PALETTES,
    PERSON_PARTS_CLASS_NAMES,
    SUNRGBD_CLASS_NAMES,
    camvid_palette,
    cityscapes_palette,
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


def test_refinenets_datasets_list_their_classes_in_label_order():
    # objectInfo150 rows 1, 45, 150; seg37list 1, 20, 37; Cityscapes trainIds 0, 6, 11, 18.
    assert len(ADE20K_CLASS_NAMES) == len(set(ADE20K_CLASS_NAMES)) == 150
    assert ADE20K_CLASS_NAMES[0::149] == ("wall", "flag")
    assert ADE20K_CLASS_NAMES[44] == "chest of drawers"
    assert len(SUNRGBD_CLASS_NAMES) == 37
    assert [SUNRGBD_CLASS_NAMES[i] for i in (0, 19, 36)] == ["wall", "floor_mat", "bag"]
    assert len(CITYSCAPES_CLASS_NAMES) == 19
    assert [CITYSCAPES_CLASS_NAMES[i] for i in (0, 6, 11, 18)] == [
        "road",
        "traffic light",
        "person",
        "bicycle",
    ]
    parts = "background, head, torso, upper arms, lower arms, upper legs, lower legs"
    assert tuple(parts.split(", ")) == PERSON_PARTS_CLASS_NAMES


def test_cityscapes_colours_are_the_benchmarks():
    # cityscapesScripts labels.py: road, traffic light, person, bicycle; void black.
    palette = cityscapes_palette(20)
    assert palette[[0, 6, 11, 18]].tolist() == [
        [128, 64, 128],
        [250, 170, 30],
        [220, 20, 60],
        [119, 11, 32],
    ]
    assert palette[19].tolist() == [0, 0, 0] and palette.dtype == np.uint8
    np.testing.assert_array_equal(PALETTES["cityscapes"](), cityscapes_palette())
    with pytest.raises(ValueError, match=r"\[19, 256\]"):
        cityscapes_palette(3)
