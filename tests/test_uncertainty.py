import keras
import numpy as np
import pytest

import keras_fcn
from keras_fcn.models.segnet import SEGNET_BASIC, build_segnet
from keras_fcn.uncertainty import monte_carlo_layers, monte_carlo_sampling, predict_with_uncertainty

IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 12, 10, 3)).astype("float32")


def bayesian_segnet_basic(dropout=0.5, seed=0):
    """A Bayesian SegNet-Basic whose weights and dropout masks depend on `seed` only."""
    keras.utils.set_random_seed(seed)
    model = build_segnet(SEGNET_BASIC, num_classes=4, dropout=dropout)
    generator = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.moving_mean.assign(generator.normal(0, 1, channels))
            layer.moving_variance.assign(generator.uniform(0.5, 2, channels))
    return model


def softmax(logits):
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("kind", ["variance", "entropy"])
def test_mean_and_uncertainty_of_the_sampled_softmax(kind):
    # Two copies built from the same seed draw the same dropout masks, pass after pass.
    probabilities, uncertainty = predict_with_uncertainty(
        bayesian_segnet_basic(), IMAGES, samples=5, uncertainty=kind
    )
    copy = bayesian_segnet_basic()
    with monte_carlo_sampling(copy):
        passes = np.stack(
            [softmax(keras.ops.convert_to_numpy(copy(IMAGES, training=False))) for _ in range(5)]
        )
    assert np.abs(passes[0] - passes[1]).max() > 1e-3  # the passes differ
    mean = passes.mean(axis=0)
    np.testing.assert_allclose(probabilities, mean, rtol=1e-5, atol=1e-6)
    if kind == "variance":
        # SegNet-Tutorial's test script: np.var over the samples, averaged over the classes.
        expected = passes.var(axis=0).mean(axis=-1)
    else:
        expected = -(mean * np.log(mean)).sum(axis=-1)
    np.testing.assert_allclose(uncertainty, expected, rtol=1e-4, atol=1e-6)
    assert probabilities.shape == (2, 12, 10, 4) and uncertainty.shape == (2, 12, 10)


def test_batch_normalization_stays_in_inference_while_sampling():
    # With a negligible dropout rate every pass is the inference pass: the moving statistics.
    model = bayesian_segnet_basic(dropout=1e-7, seed=1)
    probabilities, variance = predict_with_uncertainty(model, IMAGES, samples=3)
    inference = softmax(keras.ops.convert_to_numpy(model(IMAGES, training=False)))
    training = softmax(keras.ops.convert_to_numpy(model(IMAGES, training=True)))
    np.testing.assert_allclose(probabilities, inference, rtol=1e-5, atol=1e-6)
    assert np.abs(probabilities - training).max() > 1e-2
    np.testing.assert_allclose(variance, 0, atol=1e-10)


def test_sampling_is_switched_off_afterwards_even_after_an_error():
    model = bayesian_segnet_basic()
    layers = monte_carlo_layers(model)
    assert [layer.name for layer in layers] == ["encdrop3", "encdrop4", "decdrop4", "decdrop3"]
    with pytest.raises(RuntimeError), monte_carlo_sampling(model):
        assert all(layer.sampling for layer in layers)
        raise RuntimeError
    assert not any(layer.sampling for layer in layers)
    predict_with_uncertainty(model, IMAGES, samples=2)
    assert not any(layer.sampling for layer in layers)
    # The deterministic model is unchanged: the same logits twice.
    first, second = (keras.ops.convert_to_numpy(model(IMAGES)) for _ in range(2))
    np.testing.assert_array_equal(first, second)


def test_models_without_monte_carlo_dropout_and_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"no MonteCarloDropout layers.*dropout=0.5"):
        predict_with_uncertainty(keras_fcn.SegNetBasic(4), IMAGES)
    model = bayesian_segnet_basic()
    with pytest.raises(ValueError, match="samples must be an integer of at least 2"):
        predict_with_uncertainty(model, IMAGES, samples=1)
    with pytest.raises(ValueError, match="uncertainty must be one of"):
        predict_with_uncertainty(model, IMAGES, uncertainty="std")
    with pytest.raises(ValueError, match=r"\(batch, height, width, 3\).*\(12, 10, 3\)"):
        predict_with_uncertainty(model, IMAGES[0])
