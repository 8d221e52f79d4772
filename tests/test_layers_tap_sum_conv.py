"""`keras_fcn.layers.tap_sum_conv`: `TapSumConv2D` computes a (dilated) convolution's formula and
`keras.layers.Conv2D`'s values, at any size."""

import keras
import numpy as np
import pytest
from test_layers_dilated_conv import CASES, dilated_convolution

from keras_fcn.layers.tap_sum_conv import TapSumConv2D

pytestmark = pytest.mark.backends


@pytest.mark.parametrize(
    "kernel_size, rates, padding, size",
    [*CASES, (3, 1, "same", (6, 5)), ((15, 1), 1, "same", (17, 4))],
)
def test_tap_sum_conv_computes_the_formula_and_conv2d(kernel_size, rates, padding, size):
    options = {"padding": padding, "dilation_rate": rates}
    layer = TapSumConv2D(6, kernel_size, **options)
    reference = keras.layers.Conv2D(6, kernel_size, **options)
    for built in (layer, reference):
        built.build((None, None, None, 5))
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=layer.kernel.shape), rng.normal(size=6)
    layer.set_weights([kernel, bias])
    reference.set_weights([kernel, bias])
    x = rng.normal(size=(2, *size, 5))
    expected = dilated_convolution(x, kernel, layer.dilation_rate, padding) + bias
    actual = keras.ops.convert_to_numpy(layer(x.astype("float32")))
    keras_conv = keras.ops.convert_to_numpy(reference(x.astype("float32")))
    assert actual.shape == expected.shape == keras_conv.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(actual, keras_conv, rtol=1e-5, atol=1e-5)


def test_tap_sum_conv_takes_any_size_in_one_graph():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function needs the TensorFlow backend")
    import tensorflow as tf

    options = {"padding": "same", "dilation_rate": 6}
    layer, reference = TapSumConv2D(3, 3, **options), keras.layers.Conv2D(3, 3, **options)
    for built in (layer, reference):
        built.build((None, None, None, 8))
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])
    reference.set_weights(layer.get_weights())

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 8])])
    def both(x):  # one graph for every size: the shapes are unknown when it is traced
        return layer(x), reference(x)

    for batch, size in ((1, (3, 5)), (2, (17, 13))):  # rate 6 beyond and within the map
        x = tf.constant(rng.normal(size=(batch, *size, 8)).astype("float32"))
        ours, theirs = both(x)
        assert ours.shape == (batch, *size, 3)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    assert len(both._list_all_concrete_functions()) == 1


def test_tap_sum_conv_rejects_strides_and_round_trips_its_config():
    with pytest.raises(ValueError, match="TapSumConv2D supports strides=1"):
        TapSumConv2D(4, 3, strides=2)
    layer = TapSumConv2D(21, 3, padding="same", dilation_rate=6, name="fc1_voc12_c0")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is TapSumConv2D and restored.get_config() == layer.get_config()
