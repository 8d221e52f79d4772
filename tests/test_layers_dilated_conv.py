"""`keras_fcn.layers.dilated_conv`: `DilatedConv2D` computes a dilated convolution's formula and
`keras.layers.Conv2D`'s values, at any size, rates above the map's included."""

import keras
import pytest
from convolution_reference import (
    CASES,
    assert_computes_the_formula_and_conv2d,
    assert_one_graph_for_every_size,
)

from keras_fcn.layers.dilated_conv import DilatedConv2D

pytestmark = pytest.mark.backends


@pytest.mark.parametrize("kernel_size, rates, padding, size", CASES)
def test_dilated_conv_computes_the_formula_and_conv2d(kernel_size, rates, padding, size):
    assert_computes_the_formula_and_conv2d(DilatedConv2D, kernel_size, rates, padding, size)


def test_dilated_conv_takes_any_size_in_one_graph():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function needs the TensorFlow backend")
    # Rate 12 beyond, within and inside the map.
    assert_one_graph_for_every_size(DilatedConv2D, 12, [(3, 5), (17, 13), (29, 31)])


def test_dilated_conv_rejects_strides_and_round_trips_its_config():
    with pytest.raises(ValueError, match="strides=1"):
        DilatedConv2D(4, 3, strides=2)
    with pytest.raises(ValueError, match="channels_last"):
        DilatedConv2D(4, 3, data_format="channels_first")
    layer = DilatedConv2D(4, 3, padding="same", dilation_rate=24, name="aspp_2_conv")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is DilatedConv2D and restored.get_config() == layer.get_config()
