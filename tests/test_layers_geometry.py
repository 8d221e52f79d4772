import keras
import numpy as np
import pytest

from keras_fcn.layers.geometry import CropToReference, PadToMultiple, ReflectPadding2D


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


def border_reflect_101(position, size):
    """OpenCV's borderInterpolate for BORDER_REFLECT_101, as its loop computes it."""
    if size == 1:
        return 0
    while not 0 <= position < size:
        position = -position if position < 0 else 2 * size - position - 2
    return position


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (9, 4), (20, 17)])
def test_reflect_padding_is_opencvs_reflect_101_for_any_padding(size):
    images = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    padded = keras.ops.convert_to_numpy(ReflectPadding2D(6)(images))
    rows = [border_reflect_101(i, size[0]) for i in range(-6, size[0] + 6)]
    columns = [border_reflect_101(j, size[1]) for j in range(-6, size[1] + 6)]
    np.testing.assert_array_equal(padded, images[:, rows][:, :, columns])


def test_reflect_padding_equals_numpys_reflect_mode():
    images = np.random.default_rng(1).normal(size=(1, 30, 41, 2)).astype("float32")
    expected = np.pad(images, [(0, 0), (12, 12), (12, 12), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ReflectPadding2D(12)(images)), expected
    )


@pytest.mark.parametrize("extend", [0, 8])
def test_reflect_padding_reflects_the_padded_image_up_to_a_multiple(extend):
    # predict.py: reflect the image by the margin, then each tile up to the net's input.
    images = np.random.default_rng(2).normal(size=(1, 13, 21, 1)).astype("float32")
    once = np.pad(images, [(0, 0), (5, 5), (5, 5), (0, 0)], mode="reflect")
    # 13 → 16 and 21 → 24 (+ extend) by reflecting the padded image.
    grow = [(0, 0), (0, 3 + extend), (0, 3 + extend), (0, 0)]
    expected = np.pad(once, grow, mode="reflect")
    padded = keras.ops.convert_to_numpy(ReflectPadding2D(5, multiple=8, extend=extend)(images))
    np.testing.assert_array_equal(padded, expected)


def test_reflect_padding_takes_dynamic_sizes():
    images = keras.Input((None, None, 3))
    model = keras.Model(images, ReflectPadding2D(4, multiple=8)(images))
    assert tuple(model(np.zeros((1, 9, 16, 3))).shape) == (1, 24, 24, 3)
    assert ReflectPadding2D(4, 8).compute_output_shape((None, 9, None, 3)) == (None, 24, None, 3)


@pytest.mark.parametrize(
    "layer",
    [PadToMultiple(16), CropToReference(offset=7), ReflectPadding2D(186, multiple=8, extend=8)],
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
    with pytest.raises(ValueError, match="padding"):
        ReflectPadding2D(-1)
