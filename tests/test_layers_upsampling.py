import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.layers.upsampling import BilinearUpsampling, bilinear_kernel


def closed_form_kernel(size):
    # upsample_filt from the original surgery.py, written out independently.
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    grid_i, grid_j = np.ogrid[:size, :size]
    return (1 - abs(grid_i - center) / factor) * (1 - abs(grid_j - center) / factor)


@pytest.mark.parametrize("size", [1, 3, 4, 5, 16, 32, 64])
def test_kernel_equals_closed_form(size):
    np.testing.assert_allclose(bilinear_kernel(size), closed_form_kernel(size), rtol=0, atol=1e-7)


def test_kernel_of_size_four_by_hand():
    # factor 2, center 1.5: profile 1 - |i - 1.5| / 2 = [0.25, 0.75, 0.75, 0.25].
    profile = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(bilinear_kernel(4), np.outer(profile, profile))


def test_initializer_is_bilinear_on_the_diagonal_and_zero_elsewhere():
    kernel = keras.ops.convert_to_numpy(BilinearUpsampling()((8, 8, 3, 3)))
    for i in range(3):
        for j in range(3):
            expected = bilinear_kernel(8) if i == j else np.zeros((8, 8))
            np.testing.assert_array_equal(kernel[:, :, i, j], expected)


def test_initializer_rejects_non_square_kernels():
    with pytest.raises(ValueError, match="square"):
        BilinearUpsampling()((4, 4, 3, 2))


@pytest.mark.parametrize("stride", [2, 8, 32])
def test_frozen_upsampler_reproduces_bilinear_resize_away_from_borders(stride):
    # Transposed conv with kernel 2s, 'same' padding and the bilinear kernel samples the input
    # at (o + 0.5) / s - 0.5, like tf.image.resize's half-pixel bilinear; away from the borders
    # both interpolate linearly between the same neighbours.
    size, channels = 6, 2
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    smooth = np.stack([np.sin(rows / 3.0) + np.cos(cols / 4.0), rows * 0.5 - cols * 0.25], -1)
    smooth = smooth[None].astype("float32")
    upsample = keras.layers.Conv2DTranspose(
        channels,
        2 * stride,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
    )
    upsampled = keras.ops.convert_to_numpy(upsample(smooth))
    expected = tf.image.resize(smooth, (size * stride, size * stride), method="bilinear").numpy()
    interior = slice(stride, (size - 1) * stride)
    np.testing.assert_allclose(
        upsampled[:, interior, interior], expected[:, interior, interior], atol=1e-5
    )


def test_config_round_trip():
    initializer = BilinearUpsampling()
    restored = keras.initializers.deserialize(keras.initializers.serialize(initializer))
    assert isinstance(restored, BilinearUpsampling)
