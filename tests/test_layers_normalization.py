import keras
import numpy as np
import pytest

from keras_fcn.layers.normalization import LocalResponseNormalization


def caffe_lrn(x, local_size, alpha, beta, k):
    """Caffe's LRN, ACROSS_CHANNELS, written per channel (lrn_layer.cpp, CrossChannelForward)."""
    channels = x.shape[-1]
    pre_pad = (local_size - 1) // 2
    out = np.empty_like(x)
    for c in range(channels):
        window = x[..., max(c - pre_pad, 0) : min(c + pre_pad + 1, channels)]
        scale = k + alpha / local_size * np.sum(window.astype(np.float64) ** 2, axis=-1)
        out[..., c] = x[..., c] * scale**-beta
    return out


@pytest.mark.parametrize(
    "local_size, alpha, beta, k", [(5, 1e-4, 0.75, 1.0), (3, 0.5, 1.0, 2.0), (1, 1.0, 0.5, 1.0)]
)
def test_values_equal_caffe_across_channels(local_size, alpha, beta, k):
    # Pixel-scale activations, as after AlexNet's pool1, so that the normalisation matters.
    x = np.random.default_rng(0).normal(0, 60, (2, 5, 7, 9)).astype("float32")
    layer = LocalResponseNormalization(local_size, alpha, beta, k)
    actual = keras.ops.convert_to_numpy(layer(x))
    expected = caffe_lrn(x, local_size, alpha, beta, k)
    assert np.abs(actual - x).max() > 1e-2 * np.abs(x).max()  # it does normalise
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_works_on_symbolic_inputs_of_unknown_size():
    inputs = keras.Input((None, None, 16))
    model = keras.Model(inputs, LocalResponseNormalization()(inputs))
    assert model(np.ones((1, 3, 4, 16), "float32")).shape == (1, 3, 4, 16)


def test_config_round_trip():
    layer = LocalResponseNormalization(3, alpha=2e-4, beta=0.5, k=2.0, name="norm1")
    restored = LocalResponseNormalization.from_config(layer.get_config())
    assert (restored.local_size, restored.alpha, restored.beta, restored.k) == (3, 2e-4, 0.5, 2.0)
    assert restored.name == "norm1"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, LocalResponseNormalization)


@pytest.mark.parametrize("local_size", [0, 4])
def test_even_or_empty_windows_are_rejected(local_size):
    with pytest.raises(ValueError, match="positive odd"):
        LocalResponseNormalization(local_size)
