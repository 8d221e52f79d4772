"""The Keras metrics of the paper's four scores: one score each, or all four from one matrix.

Each accumulates the confusion matrix as `ConfusionMatrixMetric` does and scores it with the
functions of `keras_fcn.metrics.scores`.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 5 and table 3.
"""

import math

import keras
from keras import ops

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.metrics.confusion_matrix import ConfusionMatrixMetric
from keras_fcn.metrics.scores import (
    frequency_weighted_iou,
    mean_accuracy,
    mean_iou,
    pixel_accuracy,
)

SCORES = (pixel_accuracy, mean_accuracy, mean_iou, frequency_weighted_iou)
"""The paper's four scores, in its order; each metric is named as its function."""


class ScoreMetric(ConfusionMatrixMetric):
    """Base of the score metrics: a confusion matrix whose `result()` is a score of it.

    A subclass sets `score(counts)`, its score (or a dict of scores) of the accumulated matrix,
    and may set `default_name`, its name unless another is given (the name of a `score`
    function of `keras_fcn.metrics.scores` if not). The matrix is float32 there (float64
    if `dtype="float64"`), so that the scores compile on every device. `result()` returns each
    score in the metric's dtype, NaN while out-of-range pixels were left out of the matrix. See
    `ConfusionMatrixMetric` for the inputs, `ignore_class`, `sample_weight` and the config,
    which are the same for every score metric.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        num_classes: number of classes, at least 1.
        ignore_class: label of the pixels that count nowhere, or `None`.
        name: name of the metric, the default name if `None`.
        dtype: dtype of the result.
    """

    default_name: str | None = None

    def __init__(
        self,
        num_classes: int,
        ignore_class: int | None = IGNORE_LABEL,
        name: str | None = None,
        dtype=None,
    ):
        if name is None:
            name = self.default_name or self.score.__name__
        super().__init__(num_classes, ignore_class=ignore_class, name=name, dtype=dtype)

    def score(self, counts):
        """Returns the score (or a dict of scores) of the matrix `counts`."""
        raise NotImplementedError(f"{type(self).__name__} must define score(counts).")

    def result(self):
        counts = self._matrix("float64" if self.dtype == "float64" else "float32")
        return keras.tree.map_structure(self._as_result, self.score(counts))

    def _as_result(self, score):
        """`score` in the metric's dtype, NaN once an out-of-range pixel was left out."""
        score = ops.where(self.out_of_range_pixels > 0, math.nan, score)
        return ops.cast(score, self.dtype)


@keras.saving.register_keras_serializable(package="keras_fcn")
class PixelAccuracy(ScoreMetric):
    """Pixel accuracy over a whole split: `sum_i n_ii / sum_i t_i`.

    Example:

    >>> metric = PixelAccuracy(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> round(float(metric.result()), 4)  # 2 of the 3 labelled pixels are right
    0.6667
    """

    score = staticmethod(pixel_accuracy)


@keras.saving.register_keras_serializable(package="keras_fcn")
class MeanAccuracy(ScoreMetric):
    """Mean of the per-class accuracies `n_ii / t_i` over the classes present in the truth.

    Example:

    Class 1 is right once in two, class 2 not present in the truth:

    >>> metric = MeanAccuracy(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> float(metric.result())  # (1/1 + 1/2) / 2
    0.75
    """

    score = staticmethod(mean_accuracy)


@keras.saving.register_keras_serializable(package="keras_fcn")
class MeanIoU(ScoreMetric):
    """Mean intersection over union (the paper's mean IU), with exact counts.

    Classes absent from both the ground truth and the predictions are left out of the mean.
    Unlike `keras.metrics.MeanIoU`, the counts stay exact over a whole split.

    Example:

    >>> metric = MeanIoU(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> float(metric.result())  # (1/1 + 1/2 + 0/1) / 3
    0.5
    """

    score = staticmethod(mean_iou)


@keras.saving.register_keras_serializable(package="keras_fcn")
class FrequencyWeightedIoU(ScoreMetric):
    """Frequency-weighted IU: each class's IU weighted by its share of the labelled pixels.

    Example:

    >>> metric = FrequencyWeightedIoU(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> round(float(metric.result()), 4)  # (1 * 1/1 + 2 * 1/2) / 3
    0.6667
    """

    score = staticmethod(frequency_weighted_iou)


@keras.saving.register_keras_serializable(package="keras_fcn")
class SegmentationScores(ScoreMetric):
    """All four scores of the paper from one confusion matrix, as a dict.

    `result()` returns `{"pixel_accuracy", "mean_accuracy", "mean_iou",
    "frequency_weighted_iou"}`; compiled into a model, each key is logged on its own (and
    `val_`-prefixed for validation) in `History` and `CSVLogger`, at the cost of one matrix.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5 and table 3.

    Example:

    >>> metric = SegmentationScores(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> scores = metric.result()
    >>> sorted(scores)
    ['frequency_weighted_iou', 'mean_accuracy', 'mean_iou', 'pixel_accuracy']
    >>> float(scores["mean_iou"])  # (1/1 + 1/2 + 0/1) / 3
    0.5
    """

    default_name = "segmentation_scores"

    def score(self, counts):
        return {score.__name__: score(counts) for score in SCORES}
