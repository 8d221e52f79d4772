import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.layers.pooling import (
    AdaptiveAveragePooling,
    CaffeMaxPooling2D,
    adaptive_bins,
    caffe_pooled_size,
    pooling_layer,
)


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


# --- adaptive average pooling ------------------------------------------------------------------


def adaptive_average_pool(x, bins):
    """PyTorch's adaptive average pooling written out with loops: bin i of b over n samples
    averages samples floor(i n / b) to ceil((i + 1) n / b) - 1, along each axis."""
    _, height, width, _ = x.shape
    rows, columns = bins
    out = np.empty((x.shape[0], rows, columns, x.shape[3]))
    for i in range(rows):
        for j in range(columns):
            top, bottom = (i * height) // rows, -(-((i + 1) * height) // rows)
            left, right = (j * width) // columns, -(-((j + 1) * width) // columns)
            out[:, i, j] = x[:, top:bottom, left:right].mean(axis=(1, 2), dtype=np.float64)
    return out


def test_adaptive_bins_by_hand():
    # 13 rows in 6 bins: starts ⌊13 i / 6⌋ = 0, 2, 4, 6, 8, 10; ends ⌈13 (i + 1) / 6⌉ = 3, 5,
    # 7, 9, 11, 13: every bin 3 rows, overlapping by one. 12 rows in 3: 0–3, 4–7, 8–11.
    starts, ends = adaptive_bins(13, 6)
    assert (list(np.asarray(starts)), list(np.asarray(ends))) == (
        [0, 2, 4, 6, 8, 10],
        [3, 5, 7, 9, 11, 13],
    )
    starts, ends = adaptive_bins(12, 3)
    assert (list(np.asarray(starts)), list(np.asarray(ends))) == ([0, 4, 8], [4, 8, 12])


@pytest.mark.parametrize("bins", [1, 2, 3, 6, (2, 5)])
def test_adaptive_pooling_averages_pytorchs_bins(bins):
    x = np.random.default_rng(11).normal(size=(2, 13, 17, 4)).astype("float32")
    pair = (bins, bins) if isinstance(bins, int) else bins
    pooled = AdaptiveAveragePooling(bins)(x)
    np.testing.assert_allclose(pooled, adaptive_average_pool(x, pair), rtol=1e-5, atol=1e-6)
    # Keras' static-size layer computes the same bins.
    keras_pooled = keras.layers.AdaptiveAveragePooling2D(pair)(x)
    np.testing.assert_allclose(pooled, keras_pooled, rtol=1e-5, atol=1e-6)


def test_adaptive_pooling_is_average_pooling_where_the_bins_divide_the_size():
    x = np.random.default_rng(12).normal(size=(1, 12, 18, 3)).astype("float32")
    expected = keras.layers.AveragePooling2D((4, 3), strides=(4, 3))(x)
    np.testing.assert_allclose(AdaptiveAveragePooling((3, 6))(x), expected, atol=1e-6)


def test_adaptive_pooling_follows_traced_dynamic_sizes_and_round_trips():
    layer = AdaptiveAveragePooling((3, 2), name="pool3")
    restored = AdaptiveAveragePooling.from_config(layer.get_config())
    assert (restored.output_size, restored.name) == ((3, 2), "pool3")
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, restored(inputs))
    assert model.output.shape == (None, 3, 2, 2)
    rng = np.random.default_rng(13)
    for size in ((13, 17), (5, 4), (2, 1)):
        x = rng.normal(size=(1, *size, 2)).astype("float32")
        pooled = model.predict(x, verbose=0)
        np.testing.assert_allclose(pooled, adaptive_average_pool(x, (3, 2)), atol=1e-6)


@pytest.mark.parametrize("output_size", [0, (2, 0), (1, 2, 3), 1.5])
def test_adaptive_pooling_refuses_bad_bins(output_size):
    with pytest.raises(ValueError, match="output_size must be a positive int"):
        AdaptiveAveragePooling(output_size)
