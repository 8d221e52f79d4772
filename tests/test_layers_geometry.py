import keras
import numpy as np
import pytest

from keras_fcn.layers.geometry import CropToReference, PadToMultiple


@pytest.mark.parametrize("size, padded", [((1, 1), (32, 32)), ((37, 64), (64, 64))])
def test_pad_to_multiple_pads_bottom_right_with_zeros(size, padded):
    images = np.ones((1, *size, 2), "float32")
    output = keras.ops.convert_to_numpy(PadToMultiple(32)(images))
    assert output.shape == (1, *padded, 2)
    np.testing.assert_array_equal(output[:, : size[0], : size[1]], images)
    assert output.sum() == images.sum()


def test_crop_to_reference_takes_the_window_at_the_offset():
    features = np.arange(20 * 20).reshape(1, 20, 20, 1).astype("float32")
    cropped = CropToReference(offset=5)([features, np.zeros((1, 8, 9, 3))])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cropped), features[:, 5:13, 5:14])


def test_crop_follows_a_dynamic_reference_size():
    features = keras.Input((None, None, 4))
    reference = keras.Input((None, None, 3))
    model = keras.Model([features, reference], CropToReference(2)([features, reference]))
    output = model([np.zeros((1, 30, 31, 4)), np.zeros((1, 11, 13, 3))])
    assert tuple(output.shape) == (1, 11, 13, 4)


@pytest.mark.parametrize(
    "layer",
    [PadToMultiple(16), CropToReference(offset=7)],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="offset"):
        CropToReference(offset=-1)
    with pytest.raises(ValueError, match="multiple"):
        PadToMultiple(0)
