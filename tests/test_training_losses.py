import keras
import numpy as np
import pytest

from keras_fcn.layers import ZoomToReference
from keras_fcn.training.losses import SubsampledSparseCategoricalCrossentropy


def cross_entropy(logits, labels):
    """Mean cross-entropy over labelled (not 255) pixels, in numpy."""
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    mask = labels != 255
    picked = np.take_along_axis(log_probs, np.where(mask, labels, 0)[..., None], -1)[..., 0]
    return -picked[mask].mean()


def test_loss_counts_every_eighth_pixel_from_the_first():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 33, 41)).astype("int32")
    labels[:, 8:16] = 255
    logits = rng.normal(size=(2, 33, 41, 3)).astype("float32")
    loss = SubsampledSparseCategoricalCrossentropy(8, from_logits=True, ignore_class=255)
    expected = cross_entropy(logits[:, ::8, ::8], labels[:, ::8, ::8])
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_on_zoomed_logits_it_is_deeplabs_loss_on_the_coarse_scores():
    # DeepLab: 321 → 41 scores, labels shrunk to rows and columns 0, 8, ..., 320 (Interp with
    # shrink_factor 8 on 8k + 1 sizes); its loss compares those directly.
    rng = np.random.default_rng(1)
    coarse = rng.normal(size=(1, 41, 41, 4)).astype("float32")
    labels = rng.integers(0, 4, (1, 321, 321)).astype("int32")
    zoomed = ZoomToReference(8)([coarse, np.zeros((1, 321, 321, 1))])
    loss = SubsampledSparseCategoricalCrossentropy(8, from_logits=True, ignore_class=255)
    expected = cross_entropy(coarse, labels[:, ::8, ::8])
    assert float(loss(labels, zoomed)) == pytest.approx(expected, rel=1e-5)


def test_summed_reduction_sums_the_subsampled_pixels():
    labels = np.zeros((1, 17, 17), "int32")
    logits = np.zeros((1, 17, 17, 2), "float32")
    loss = SubsampledSparseCategoricalCrossentropy(
        8, from_logits=True, ignore_class=255, reduction="sum"
    )
    # 3 × 3 pixels of the 8-grid, each −log(1/2).
    assert float(loss(labels, logits)) == pytest.approx(9 * np.log(2), rel=1e-6)


def test_config_round_trip_and_errors():
    loss = SubsampledSparseCategoricalCrossentropy(8, from_logits=True, ignore_class=255)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, SubsampledSparseCategoricalCrossentropy)
    assert (restored.stride, restored.get_config()["ignore_class"]) == (8, 255)
    with pytest.raises(ValueError, match="stride"):
        SubsampledSparseCategoricalCrossentropy(0)
