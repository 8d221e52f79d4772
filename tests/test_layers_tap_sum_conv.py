"""`keras_fcn.layers.tap_sum_conv`: `TapSumConv2D` computes a (dilated) convolution's formula and
`keras.layers.Conv2D`'s values, at any size."""

import keras
import pytest
from convolution_reference import (
    CASES,
    assert_computes_the_formula_and_conv2d,
    assert_one_graph_for_every_size,
)

from keras_fcn.layers.tap_sum_conv import TapSumConv2D

pytestmark = pytest.mark.backends


@pytest.mark.parametrize(
    "kernel_size, rates, padding, size",
    # The dilated cases, an undilated one and a strip (GCN's 15 × 1).
    [*CASES, (3, 1, "same", (6, 5)), ((15, 1), 1, "same", (17, 4))],
)
def test_tap_sum_conv_computes_the_formula_and_conv2d(kernel_size, rates, padding, size):
    assert_computes_the_formula_and_conv2d(TapSumConv2D, kernel_size, rates, padding, size)


def test_tap_sum_conv_takes_any_size_in_one_graph():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function needs the TensorFlow backend")
    # Rate 6 beyond and within the map.
    assert_one_graph_for_every_size(TapSumConv2D, 6, [(3, 5), (17, 13)])
