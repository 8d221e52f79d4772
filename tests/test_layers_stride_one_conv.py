import keras
import numpy as np
import pytest

from keras_fcn.layers import DilatedConv2D, MatmulConv2D, TapSumConv2D


@pytest.mark.parametrize("layer_class", [MatmulConv2D, DilatedConv2D, TapSumConv2D])
def test_refusals_name_the_layer_class(layer_class):
    with pytest.raises(ValueError, match=f"^{layer_class.__name__} supports strides=1"):
        layer_class(4, 3, strides=2)
    with pytest.raises(ValueError, match=f"^{layer_class.__name__} supports .*groups=2"):
        layer_class(4, 3, groups=2)


@pytest.mark.parametrize("layer_class", [MatmulConv2D, DilatedConv2D, TapSumConv2D])
def test_config_is_conv2ds(layer_class):
    layer = layer_class(4, 3, padding="same", dilation_rate=2)
    reference = keras.layers.Conv2D(4, 3, padding="same", dilation_rate=2)
    config, reference_config = layer.get_config(), reference.get_config()
    config.pop("name"), reference_config.pop("name")
    assert config == reference_config
    restored = layer_class.from_config(layer.get_config())
    inputs = np.random.default_rng(0).normal(size=(1, 6, 7, 2)).astype("float32")
    restored.build(inputs.shape)
    layer.build(inputs.shape)
    restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(restored(inputs), layer(inputs), rtol=1e-6, atol=1e-6)
