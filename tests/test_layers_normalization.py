import keras
import numpy as np
import pytest
import tensorflow as tf
from segnet_reference import caffe_lrn

from keras_fcn.layers.normalization import LocalResponseNormalization, channel_window


@pytest.mark.parametrize(
    "channels, local_size, alpha, beta, k",
    [
        (3, 5, 1e-4, 0.75, 1.0),
        (96, 5, 1e-4, 0.75, 1.0),
        (7, 3, 0.5, 0.5, 2.0),
        (4, 1, 1.0, 1.0, 1.0),
    ],
)
def test_values_equal_caffe_and_tensorflow(channels, local_size, alpha, beta, k):
    # Pixel-scale inputs, as SegNet-Basic's norm layer sees raw BGR values.
    x = np.random.default_rng(channels).uniform(0, 255, (2, 5, 6, channels)).astype("float32")
    layer = LocalResponseNormalization(local_size, alpha, beta, k)
    output = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(output, caffe_lrn(x, local_size, alpha, beta, k), rtol=1e-5)
    # TensorFlow's op takes alpha per channel summed and the window's radius.
    expected = tf.nn.local_response_normalization(
        x, depth_radius=(local_size - 1) // 2, bias=k, alpha=alpha / local_size, beta=beta
    )
    np.testing.assert_allclose(output, expected.numpy(), rtol=1e-5)


def test_channel_window_is_banded():
    window = channel_window(6, 5)
    assert window.shape == (6, 6)
    np.testing.assert_array_equal(window.sum(axis=0), [3, 4, 5, 5, 4, 3])
    np.testing.assert_array_equal(window, window.T)


def test_gradient_matches_tensorflow():
    x = tf.random.stateless_uniform((1, 3, 3, 8), seed=(1, 2), maxval=10.0)
    layer = LocalResponseNormalization(5, 0.1, 0.75, 1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(layer(x) * tf.range(8, dtype=tf.float32))
        theirs = tf.reduce_sum(
            tf.nn.local_response_normalization(x, 2, 1.0, 0.1 / 5, 0.75)
            * tf.range(8, dtype=tf.float32)
        )
    np.testing.assert_allclose(tape.gradient(ours, x), tape.gradient(theirs, x), rtol=1e-4)


def test_float32_layer_under_a_float16_policy_does_not_overflow():
    # 3 · 255² = 195,075 exceeds float16's largest value, 65,504.
    x = np.full((1, 2, 2, 3), 255.0, "float32")
    layer = LocalResponseNormalization(5, 1e-4, 0.75, dtype="float32")
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential([keras.Input((2, 2, 3)), layer])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    output = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(output, caffe_lrn(x, 5, 1e-4, 0.75, 1.0), rtol=1e-6)


def test_config_round_trip_and_invalid_arguments():
    layer = LocalResponseNormalization(local_size=3, alpha=2e-4, beta=0.5, k=2.0, name="norm")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is LocalResponseNormalization
    assert restored.get_config() == layer.get_config()
    with pytest.raises(ValueError, match=r"odd local_size.*received 4"):
        LocalResponseNormalization(local_size=4)
    with pytest.raises(ValueError, match="k > 0 or alpha > 0"):
        LocalResponseNormalization(alpha=0.0, k=0.0)
    with pytest.raises(ValueError, match="known number of channels"):
        LocalResponseNormalization(name="norm")(keras.Input((4, 4, None)))
