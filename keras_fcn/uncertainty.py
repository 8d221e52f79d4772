"""Monte Carlo dropout: class probabilities and a per-pixel uncertainty from sampled passes.

Bayesian SegNet keeps its dropout layers on at test time, runs the same image several times,
and takes the mean of the softmax outputs as its prediction and their variance as the model's
uncertainty; batch normalisation stays in inference mode throughout (caffe-segnet's Dropout
with `sample_weights_test: true`, BN with `bn_mode: INFERENCE`; SegNet-Tutorial's
`Scripts/test_bayesian_segnet.py`). `predict_with_uncertainty` does that with the
`MonteCarloDropout` layers of `keras_fcn.SegNet(dropout=0.5)` and `SegNetBasic(dropout=0.5)`,
with `keras.ops` only, on any backend.

Reference: Kendall, Badrinarayanan & Cipolla, "Bayesian SegNet: Model Uncertainty in Deep
Convolutional Encoder-Decoder Architectures for Scene Understanding", BMVC 2017
(arXiv:1511.02680), sections 3.1–3.2; Gal & Ghahramani, "Dropout as a Bayesian Approximation",
ICML 2016.
"""

import contextlib
from collections.abc import Iterator

import keras
import numpy as np
from keras import ops

from keras_fcn.layers import MonteCarloDropout

UNCERTAINTIES = ("variance", "entropy")
"""Per-pixel uncertainties: the variance of the sampled softmax, averaged over the classes (as
SegNet-Tutorial's test script shows it), or the entropy of the mean softmax."""


def monte_carlo_layers(model: keras.Model) -> list[MonteCarloDropout]:
    """The `MonteCarloDropout` layers of a model, nested models included.

    Example:

    >>> len(monte_carlo_layers(keras_fcn.SegNetBasic(2, dropout=0.5)))  # encdrop3/4, decdrop4/3
    4
    """
    found = []
    for layer in model.layers:
        if isinstance(layer, MonteCarloDropout):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(monte_carlo_layers(layer))
    return found


@contextlib.contextmanager
def monte_carlo_sampling(model: keras.Model) -> Iterator[list[MonteCarloDropout]]:
    """Keeps a model's `MonteCarloDropout` layers dropping units at inference, then restores them.

    Only the dropout layers change: calling the model with `training=False` inside the block
    leaves batch normalisation in inference mode. The layers read the switch when called, so
    call the model eagerly inside the block (a function traced before it keeps what it saw).

    Example:

    >>> model = keras_fcn.SegNetBasic(2, dropout=0.5)
    >>> with monte_carlo_sampling(model) as layers:
    ...     [layer.sampling for layer in layers]
    [True, True, True, True]
    >>> [layer.sampling for layer in monte_carlo_layers(model)]
    [False, False, False, False]
    """
    layers = monte_carlo_layers(model)
    if not layers:
        raise ValueError(
            f"The model {model.name!r} has no MonteCarloDropout layers to sample; build a "
            f"Bayesian model, e.g. keras_fcn.SegNet(num_classes, dropout=0.5)."
        )
    previous = [layer.sampling for layer in layers]
    for layer in layers:
        layer.sampling = True
    try:
        yield layers
    finally:
        for layer, sampling in zip(layers, previous, strict=True):
            layer.sampling = sampling


def predict_with_uncertainty(
    model: keras.Model,
    images,
    samples: int = 10,
    uncertainty: str = "variance",
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo dropout prediction: the mean softmax of `samples` passes and its uncertainty.

    Each pass calls the model eagerly with `training=False` while its `MonteCarloDropout`
    layers drop units (`monte_carlo_sampling`), so every pass draws new dropout masks and batch
    normalisation uses its moving statistics. The class ids are the argmax of the mean
    probabilities.

    Reference: Kendall et al., "Bayesian SegNet", BMVC 2017, section 3.2.

    Args:
        model: a Bayesian segmentation model, mapping `(B, H, W, 3)` images to
            `(B, H, W, num_classes)` logits, such as `keras_fcn.SegNet(dropout=0.5)`.
        images: a batch of RGB images with values in [0, 255], `(B, H, W, 3)`.
        samples: the number of passes, at least 2.
        uncertainty: `"variance"`: each class's probability variance over the passes, averaged
            over the classes; `"entropy"`: the entropy (in nats) of the mean probabilities.

    Returns:
        `(probabilities, uncertainty)`: float32 numpy arrays `(B, H, W, num_classes)` and
        `(B, H, W)`.

    Example:

    >>> model = keras_fcn.SegNetBasic(3, dropout=0.5)
    >>> probabilities, variance = predict_with_uncertainty(model, np.zeros((1, 8, 8, 3)), 4)
    >>> probabilities.shape, variance.shape
    ((1, 8, 8, 3), (1, 8, 8))
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(
            f"samples must be an integer of at least 2 (one pass has no variance), received "
            f"{samples!r}."
        )
    if uncertainty not in UNCERTAINTIES:
        raise ValueError(f"uncertainty must be one of {UNCERTAINTIES}, received {uncertainty!r}.")
    if len(images.shape) != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"images must be a batch of RGB images (batch, height, width, 3), received shape "
            f"{tuple(images.shape)}."
        )
    # Welford's running mean and sum of squared deviations: no cancellation, one pass in memory.
    mean = squared_deviations = 0.0
    with monte_carlo_sampling(model):
        for count in range(1, samples + 1):
            logits = ops.cast(model(images, training=False), "float32")
            probabilities = ops.softmax(logits, axis=-1)
            deviation = probabilities - mean
            mean = mean + deviation / count
            squared_deviations = squared_deviations + deviation * (probabilities - mean)
    if uncertainty == "variance":
        per_pixel = ops.mean(squared_deviations / samples, axis=-1)
    else:
        terms = ops.where(mean > 0, mean * ops.log(ops.maximum(mean, 1e-30)), 0.0)
        per_pixel = -ops.sum(terms, axis=-1)
    return ops.convert_to_numpy(mean), ops.convert_to_numpy(per_pixel)
