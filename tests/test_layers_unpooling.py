import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from segnet_reference import caffe_pool_with_mask, caffe_upsample

from keras_fcn.layers.unpooling import MaxPoolingWithIndices, MaxUnpooling

ROOT = pathlib.Path(__file__).resolve().parents[1]


def window_index(mask, width):
    """Caffe's flat mask as the position inside each 2×2 window, 0–3 in row-major order."""
    rows, columns = np.divmod(mask, width)
    return (rows % 2) * 2 + columns % 2


def numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def relu_features(shape, seed):
    """Small integers after a ReLU: many tied windows, many all-zero ones."""
    values = np.random.default_rng(seed).integers(-3, 3, shape).astype("float32")
    return np.maximum(values, 0)


@pytest.mark.parametrize("size", [(6, 8), (7, 9), (1, 1), (5, 2), (360 // 8, 480 // 8)])
def test_pooling_and_mask_equal_caffe_with_ties_and_odd_sizes(size):
    x = relu_features((2, *size, 3), seed=sum(size))
    expected_pooled, expected_mask = caffe_pool_with_mask(x)
    pooled, indices = MaxPoolingWithIndices()(x)
    np.testing.assert_array_equal(numpy(pooled), expected_pooled)
    np.testing.assert_array_equal(numpy(indices), window_index(expected_mask, size[1]))
    assert numpy(indices).dtype == np.int32


def test_all_zero_windows_keep_the_top_left_position():
    pooled, indices = MaxPoolingWithIndices()(np.zeros((1, 4, 6, 2), "float32"))
    np.testing.assert_array_equal(numpy(pooled), 0)
    np.testing.assert_array_equal(numpy(indices), 0)


@pytest.mark.parametrize("size", [(6, 8), (7, 9), (45, 60), (23, 30)])
def test_unpooling_equals_caffe_upsample_and_restores_the_encoder_size(size):
    encoder = relu_features((2, *size, 4), seed=size[0])
    _, mask = caffe_pool_with_mask(encoder)
    decoder = np.random.default_rng(1).normal(size=mask.shape).astype("float32")
    expected = caffe_upsample(decoder, mask, *size)
    _, indices = MaxPoolingWithIndices()(encoder)
    unpooled = MaxUnpooling()(decoder, indices, encoder)
    assert tuple(unpooled.shape) == encoder.shape
    np.testing.assert_array_equal(numpy(unpooled), expected)


def test_segnet_sizes_round_up_and_come_back_at_360_by_480():
    features = keras.Input((360, 480, 1))
    sizes, stack = [], []
    for _ in range(5):
        stack.append(features)
        features, indices = MaxPoolingWithIndices()(features)
        stack[-1] = (stack[-1], indices)
        sizes.append(tuple(features.shape[1:3]))
    assert sizes == [(180, 240), (90, 120), (45, 60), (23, 30), (12, 15)]
    for encoder, indices in reversed(stack):
        features = MaxUnpooling()(features, indices, encoder)
        assert features.shape[1:3] == encoder.shape[1:3]
    assert tuple(features.shape[1:3]) == (360, 480)


@pytest.mark.parametrize("size", [(8, 10), (7, 9)])
def test_values_and_unpooling_equal_tensorflow_argmax_and_scatter(size):
    # Normal values have no ties; TensorFlow's argmax is the flat (y * width + x) * channels + c.
    x = tf.random.stateless_normal((2, *size, 3), seed=(1, 2))
    tf_pooled, tf_argmax = tf.nn.max_pool_with_argmax(x, 2, 2, padding="SAME")
    pooled, indices = MaxPoolingWithIndices()(x)
    np.testing.assert_array_equal(numpy(pooled), tf_pooled.numpy())
    expected_mask = tf_argmax.numpy() // 3  # the pixel, y * width + x
    np.testing.assert_array_equal(numpy(indices), window_index(expected_mask, size[1]))

    values = tf.random.stateless_normal(tf_pooled.shape, seed=(3, 4))
    batch_offsets = tf.reshape(tf.range(2, dtype=tf.int64) * size[0] * size[1] * 3, (2, 1, 1, 1))
    scattered = tf.scatter_nd(
        tf.reshape(tf_argmax + batch_offsets, (-1, 1)),
        tf.reshape(values, (-1,)),
        [2 * size[0] * size[1] * 3],
    )
    expected = tf.reshape(scattered, x.shape).numpy()
    np.testing.assert_array_equal(numpy(MaxUnpooling()(values, indices, x)), expected)


def test_pooling_gradient_reaches_the_first_maximum_only():
    x = tf.constant(relu_features((1, 5, 7, 2), seed=3))
    weights = tf.random.stateless_normal((1, 3, 4, 2), seed=(5, 6))
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled, _ = MaxPoolingWithIndices()(x)
        loss = tf.reduce_sum(pooled * weights)
    gradient = tape.gradient(loss, x).numpy()
    _, mask = caffe_pool_with_mask(x.numpy())
    # Each window's weight goes to the position Caffe's mask names; ties get nothing more.
    expected = caffe_upsample(weights.numpy(), mask, 5, 7)
    np.testing.assert_array_equal(gradient, expected)


def test_unpooling_gradient_reads_the_stored_positions():
    encoder = relu_features((2, 7, 6, 3), seed=4)
    _, indices = MaxPoolingWithIndices()(encoder)
    _, mask = caffe_pool_with_mask(encoder)
    values = tf.random.stateless_normal((2, 4, 3, 3), seed=(7, 8))
    weights = tf.random.stateless_normal((2, 7, 6, 3), seed=(9, 10))
    with tf.GradientTape() as tape:
        tape.watch(values)
        loss = tf.reduce_sum(MaxUnpooling()(values, indices, encoder) * weights)
    gradient = tape.gradient(loss, values).numpy()
    flat = weights.numpy().reshape(2, -1, 3)
    expected = np.stack(
        [np.take_along_axis(flat[n], mask[n].reshape(-1, 3), axis=0) for n in range(2)]
    ).reshape(values.shape)
    np.testing.assert_array_equal(gradient, expected)


def test_unknown_sizes_in_a_function_and_under_xla_give_the_same_values():
    pool, unpool = MaxPoolingWithIndices(), MaxUnpooling()

    def round_trip(x):
        pooled, indices = pool(x)
        return pooled, indices, unpool(pooled * 2.0, indices, x)

    x = tf.constant(relu_features((2, 9, 11, 3), seed=5))
    expected = [t.numpy() for t in round_trip(x)]
    signature = [tf.TensorSpec([None, None, None, 3])]
    dynamic = tf.function(round_trip, input_signature=signature)
    xla = tf.function(round_trip, jit_compile=True)
    for function in (dynamic, xla):
        for result, reference in zip(function(x), expected, strict=True):
            np.testing.assert_array_equal(result.numpy(), reference)


def test_layers_save_and_load_in_a_model(tmp_path):
    images = keras.Input((None, None, 2))
    pooled, indices = MaxPoolingWithIndices(name="pool1")(images)
    outputs = MaxUnpooling(name="upsample1")(pooled, indices, images)
    model = keras.Model(images, outputs)
    path = tmp_path / "unpooling.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    x = relu_features((1, 5, 6, 2), seed=6)
    np.testing.assert_array_equal(numpy(restored(x)), numpy(model(x)))
    for layer in (MaxPoolingWithIndices(name="p"), MaxUnpooling(name="u")):
        clone = keras.layers.deserialize(keras.layers.serialize(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_a_reference_of_another_size_is_a_clear_error():
    pooled = keras.Input((5, 6, 2))
    indices = keras.Input((5, 6, 2), dtype="int32")
    with pytest.raises(ValueError, match=r"upsample3.*axis 1 \(12\).*\(5\)"):
        MaxUnpooling(name="upsample3")(pooled, indices, keras.Input((12, 12, 2)))
    with pytest.raises(ValueError, match=r"pool1.*\(batch, height, width, channels\)"):
        MaxPoolingWithIndices(name="pool1")(keras.Input((5, 6)))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_compute_the_same_values(backend, tmp_path):
    pytest.importorskip(backend)
    x = relu_features((2, 7, 9, 3), seed=7)
    pooled, mask = caffe_pool_with_mask(x)
    np.savez(tmp_path / "inputs.npz", x=x)
    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        from keras_fcn.layers.unpooling import MaxPoolingWithIndices, MaxUnpooling
        x = np.load({str(tmp_path / "inputs.npz")!r})["x"]
        pooled, indices = MaxPoolingWithIndices()(x)
        unpooled = MaxUnpooling()(pooled, indices, x)
        np.savez({str(tmp_path / "outputs.npz")!r}, pooled=keras.ops.convert_to_numpy(pooled),
                 indices=keras.ops.convert_to_numpy(indices),
                 unpooled=keras.ops.convert_to_numpy(unpooled))
        """
    )
    environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    environment["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(ROOT), os.environ.get("PYTHONPATH")) if path
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = np.load(tmp_path / "outputs.npz")
    np.testing.assert_array_equal(outputs["pooled"], pooled)
    np.testing.assert_array_equal(outputs["indices"], window_index(mask, 9))
    np.testing.assert_array_equal(outputs["unpooled"], caffe_upsample(pooled, mask, 7, 9))
