"""`keras_fcn.layers.phases`: a map's phases against numpy's strided slices, their merge, their
validity, and `PhaseConv2D` against a dilated convolution's formula, whatever the padding holds."""

import keras
import numpy as np
import pytest
from convolution_reference import dilated_convolution

from keras_fcn.layers.phases import PhaseConv2D, PhasesToSpace, PhaseValidity, SpaceToPhases

pytestmark = pytest.mark.backends

SIZES = [(5, 7), (6, 9), (8, 8), (1, 2)]
"""Odd and even sides, and a map smaller than the rate."""


def numpy_phases(maps: np.ndarray, rate: int) -> np.ndarray:
    """Phase `(p, q)` of batch item `b` at `(p·rate + q)·B + b`: `maps[b, p::rate, q::rate]`,
    zero-padded at the bottom and right to `ceil(H / rate) × ceil(W / rate)`."""
    batch, height, width, channels = maps.shape
    rows, columns = -(-height // rate), -(-width // rate)
    phases = np.zeros((rate * rate * batch, rows, columns, channels), maps.dtype)
    for p in range(rate):
        for q in range(rate):
            for b in range(batch):
                phase = maps[b, p::rate, q::rate]
                phases[(p * rate + q) * batch + b, : phase.shape[0], : phase.shape[1]] = phase
    return phases


@pytest.mark.parametrize("rate", [2, 3])
@pytest.mark.parametrize("size", SIZES)
def test_phases_are_the_strided_slices_and_merge_back(rate, size):
    maps = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")

    phases = keras.ops.convert_to_numpy(SpaceToPhases(rate)(maps))
    merged = keras.ops.convert_to_numpy(PhasesToSpace(rate)([phases, maps]))
    validity = keras.ops.convert_to_numpy(PhaseValidity(rate)(maps))

    np.testing.assert_array_equal(phases, numpy_phases(maps, rate))
    np.testing.assert_array_equal(merged, maps)
    np.testing.assert_array_equal(validity, numpy_phases(np.ones((2, *size, 1), "float32"), rate))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("rate", [2, 3])
def test_phase_conv_is_the_dilated_convolution_whatever_the_padding_holds(size, rate):
    rng = np.random.default_rng(1)
    layer = PhaseConv2D(4, 3, padding="same", dilation_rate=rate, activation="relu")
    maps = rng.normal(size=(2, *size, 5)).astype("float32")
    validity = PhaseValidity(rate)(maps)
    phases = keras.ops.convert_to_numpy(SpaceToPhases(rate)(maps))
    # What the layers before it may leave where the phases are padding.
    phases = np.where(keras.ops.convert_to_numpy(validity) > 0, phases, 1e3).astype("float32")
    layer.build([phases.shape, validity.shape])
    kernel, bias = rng.normal(size=layer.kernel.shape), rng.normal(size=4)
    layer.set_weights([kernel, bias])

    outputs = PhasesToSpace(rate)([layer([phases, validity]), maps])

    expected = np.maximum(dilated_convolution(maps, kernel, (rate, rate), "same") + bias, 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), expected, atol=1e-4)


def test_phase_conv_rejects_what_phases_do_not_compute():
    for options in (
        {"kernel_size": 3, "dilation_rate": 1, "padding": "same"},
        {"kernel_size": 2, "dilation_rate": 2, "padding": "same"},
        {"kernel_size": 3, "dilation_rate": (2, 4), "padding": "same"},
        {"kernel_size": 3, "dilation_rate": 2, "padding": "valid"},
        {"kernel_size": (3, 1), "dilation_rate": 2, "padding": "same"},
    ):
        with pytest.raises(ValueError, match="PhaseConv2D computes"):
            PhaseConv2D(4, **options)
    with pytest.raises(ValueError, match="strides=1"):
        PhaseConv2D(4, 3, strides=2, padding="same")
    with pytest.raises(ValueError, match="rate of 2 or more"):
        SpaceToPhases(1)


def test_phase_layers_round_trip_their_config_in_a_saved_model(tmp_path):
    maps = keras.Input((None, None, 3), name="maps")
    phases = SpaceToPhases(2, name="split")(maps)
    validity = PhaseValidity(2, name="validity")(maps)
    convolved = PhaseConv2D(2, 3, padding="same", dilation_rate=2, name="conv")([phases, validity])
    model = keras.Model(maps, PhasesToSpace(2, name="merge")([convolved, maps]))
    path = str(tmp_path / "phases.keras")

    model.save(path)
    restored = keras.saving.load_model(path)

    assert [type(layer) for layer in restored.layers] == [type(layer) for layer in model.layers]
    assert restored.get_layer("conv").get_config() == model.get_layer("conv").get_config()
    x = np.random.default_rng(2).normal(size=(1, 7, 6, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )
    assert tuple(restored(x).shape) == (1, 7, 6, 2)
