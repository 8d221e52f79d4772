import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.layers.pooling import CaffeMaxPooling2D, caffe_pooled_size, pooling_layer


def caffe_max_pool(x, window, stride, padding):
    """Caffe's max pooling written out with loops (pooling_layer.cpp, MAX, forward)."""
    _, height, width, _ = x.shape
    pooled_h = caffe_pooled_size(height, window, stride, padding)
    pooled_w = caffe_pooled_size(width, window, stride, padding)
    out = np.empty((x.shape[0], pooled_h, pooled_w, x.shape[3]), x.dtype)
    for i in range(pooled_h):
        for j in range(pooled_w):
            h_start, w_start = i * stride - padding, j * stride - padding
            h_end, w_end = min(h_start + window, height), min(w_start + window, width)
            h_start, w_start = max(h_start, 0), max(w_start, 0)
            out[:, i, j] = x[:, h_start:h_end, w_start:w_end].max(axis=(1, 2))
    return out


@pytest.mark.parametrize(
    "size, window, stride, padding, expected",
    [
        # ceil((321 + 2 - 3) / 2) + 1 = 161; ceil((320 + 2 - 3) / 2) + 1 = 161.
        (321, 3, 2, 1, 161),
        (320, 3, 2, 1, 161),
        # ceil((500 - 2) / 2) + 1 = 250; ceil((37 - 2) / 2) + 1 = 19.
        (500, 2, 2, 0, 250),
        (37, 2, 2, 0, 19),
        # ceil((5 + 2 - 3) / 1) + 1 = 5.
        (5, 3, 1, 1, 5),
        # AlexNet's pool1 on 55: ceil((55 - 3) / 2) + 1 = 27.
        (55, 3, 2, 0, 27),
        # ceil((4 + 4 - 3) / 4) + 1 = 3, but the third window would start at 8 >= 4 + 2: 2.
        (4, 3, 4, 2, 2),
    ],
)
def test_pooled_size_follows_caffe(size, window, stride, padding, expected):
    assert caffe_pooled_size(size, window, stride, padding) == expected


@pytest.mark.parametrize("window, stride, padding", [(3, 2, 1), (3, 2, 0), (3, 1, 1), (2, 2, 0)])
@pytest.mark.parametrize("size", [(7, 8), (13, 5), (1, 2)])
def test_values_equal_caffe_at_static_and_dynamic_sizes(window, stride, padding, size):
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    expected = caffe_max_pool(x, window, stride, padding)
    layer = CaffeMaxPooling2D(window, stride, padding)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), expected)
    dynamic = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])
    np.testing.assert_array_equal(dynamic(x).numpy(), expected)
    assert layer.compute_output_shape(x.shape) == expected.shape


@pytest.mark.parametrize("window, stride, padding", [(2, 2, 0), (3, 1, 1)])
def test_keras_pooling_is_used_where_it_equals_caffe(window, stride, padding):
    layer = pooling_layer(window, stride, padding, name="pool")
    assert isinstance(layer, keras.layers.MaxPooling2D)
    x = np.random.default_rng(1).normal(size=(1, 9, 6, 2)).astype("float32")
    expected = caffe_max_pool(x, window, stride, padding)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), expected)


def test_gradients_reach_the_maximum_of_each_window():
    x = tf.constant(np.arange(16, dtype="float32").reshape(1, 4, 4, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = CaffeMaxPooling2D(3, 2, 1)(x)
    gradient = tape.gradient(y, x).numpy()[0, ..., 0]
    # x grows along rows and columns. Along each axis the 3 windows start at -1, 1 and 3 (Caffe
    # keeps the last, which starts inside the image): their maxima are at 1, 3 and 3, so index 1
    # gets the gradient of one window and index 3 of two; in 2-D the outer product.
    per_axis = np.array([0, 1, 0, 2])
    expected = np.outer(per_axis, per_axis)
    np.testing.assert_array_equal(gradient, expected)


def test_config_round_trip_and_invalid_arguments():
    layer = CaffeMaxPooling2D(3, 2, 1, name="pool1")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is CaffeMaxPooling2D and restored.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="padding"):
        CaffeMaxPooling2D(3, 2, 3)
