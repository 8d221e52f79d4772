"""The Keras metrics of the paper's four scores: one score each, or all four from one matrix.

Each accumulates the confusion matrix as `ConfusionMatrixMetric` does and scores it with the
functions of `keras_fcn.metrics.scores`.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 5 and table 3.
"""

import keras

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.metrics.confusion_matrix import ConfusionMatrixMetric
from keras_fcn.metrics.scores import (
    frequency_weighted_iou,
    mean_accuracy,
    mean_iou,
    pixel_accuracy,
)


@keras.saving.register_keras_serializable(package="keras_fcn")
class PixelAccuracy(ConfusionMatrixMetric):
    """Pixel accuracy over a whole split: `sum_i n_ii / sum_i t_i`.

    See `ConfusionMatrixMetric` for the inputs, `ignore_class` and `sample_weight`.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        num_classes: number of classes, at least 1.
        ignore_class: label of the pixels that count nowhere, or `None`.
        name: name of the metric.
        dtype: dtype of the result.

    Example:

    >>> metric = PixelAccuracy(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> round(float(metric.result()), 4)  # 2 of the 3 labelled pixels are right
    0.6667
    """

    def __init__(
        self,
        num_classes: int,
        ignore_class: int | None = IGNORE_LABEL,
        name: str = "pixel_accuracy",
        dtype=None,
    ):
        super().__init__(num_classes, ignore_class=ignore_class, name=name, dtype=dtype)

    def result(self):
        return self._score(pixel_accuracy(self._score_counts()))


@keras.saving.register_keras_serializable(package="keras_fcn")
class MeanAccuracy(ConfusionMatrixMetric):
    """Mean of the per-class accuracies `n_ii / t_i` over the classes present in the truth.

    See `ConfusionMatrixMetric` for the inputs, `ignore_class` and `sample_weight`.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        num_classes: number of classes, at least 1.
        ignore_class: label of the pixels that count nowhere, or `None`.
        name: name of the metric.
        dtype: dtype of the result.

    Example:

    >>> metric = MeanAccuracy(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> float(metric.result())  # (1/1 + 1/2) / 2
    0.75
    """

    def __init__(
        self,
        num_classes: int,
        ignore_class: int | None = IGNORE_LABEL,
        name: str = "mean_accuracy",
        dtype=None,
    ):
        super().__init__(num_classes, ignore_class=ignore_class, name=name, dtype=dtype)

    def result(self):
        return self._score(mean_accuracy(self._score_counts()))


@keras.saving.register_keras_serializable(package="keras_fcn")
class MeanIoU(ConfusionMatrixMetric):
    """Mean intersection over union (the paper's mean IU), with exact counts.

    Classes absent from both the ground truth and the predictions are left out of the mean.
    Unlike `keras.metrics.MeanIoU`, the counts stay exact over a whole split.
    See `ConfusionMatrixMetric` for the inputs, `ignore_class` and `sample_weight`.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        num_classes: number of classes, at least 1.
        ignore_class: label of the pixels that count nowhere, or `None`.
        name: name of the metric.
        dtype: dtype of the result.

    Example:

    >>> metric = MeanIoU(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> float(metric.result())  # (1/1 + 1/2 + 0/1) / 3
    0.5
    """

    def __init__(
        self,
        num_classes: int,
        ignore_class: int | None = IGNORE_LABEL,
        name: str = "mean_iou",
        dtype=None,
    ):
        super().__init__(num_classes, ignore_class=ignore_class, name=name, dtype=dtype)

    def result(self):
        return self._score(mean_iou(self._score_counts()))


@keras.saving.register_keras_serializable(package="keras_fcn")
class FrequencyWeightedIoU(ConfusionMatrixMetric):
    """Frequency-weighted IU: each class's IU weighted by its share of the labelled pixels.

    See `ConfusionMatrixMetric` for the inputs, `ignore_class` and `sample_weight`.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        num_classes: number of classes, at least 1.
        ignore_class: label of the pixels that count nowhere, or `None`.
        name: name of the metric.
        dtype: dtype of the result.

    Example:

    >>> metric = FrequencyWeightedIoU(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> round(float(metric.result()), 4)  # (1 * 1/1 + 2 * 1/2) / 3
    0.6667
    """

    def __init__(
        self,
        num_classes: int,
        ignore_class: int | None = IGNORE_LABEL,
        name: str = "frequency_weighted_iou",
        dtype=None,
    ):
        super().__init__(num_classes, ignore_class=ignore_class, name=name, dtype=dtype)

    def result(self):
        return self._score(frequency_weighted_iou(self._score_counts()))


@keras.saving.register_keras_serializable(package="keras_fcn")
class SegmentationScores(ConfusionMatrixMetric):
    """All four scores of the paper from one confusion matrix, as a dict.

    `result()` returns `{"pixel_accuracy", "mean_accuracy", "mean_iou",
    "frequency_weighted_iou"}`; compiled into a model, each key is logged on its own (and
    `val_`-prefixed for validation) in `History` and `CSVLogger`, at the cost of one matrix.
    See `ConfusionMatrixMetric` for the inputs, `ignore_class` and `sample_weight`.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5 and table 3.

    Args:
        num_classes: number of classes, at least 1.
        ignore_class: label of the pixels that count nowhere, or `None`.
        name: name of the metric.
        dtype: dtype of the scores.

    Example:

    >>> metric = SegmentationScores(num_classes=3)
    >>> metric.update_state([[[0, 1, 1, 255]]], [[[0, 1, 2, 2]]])
    >>> scores = metric.result()
    >>> sorted(scores)
    ['frequency_weighted_iou', 'mean_accuracy', 'mean_iou', 'pixel_accuracy']
    >>> float(scores["mean_iou"])  # (1/1 + 1/2 + 0/1) / 3
    0.5
    """

    def __init__(
        self,
        num_classes: int,
        ignore_class: int | None = IGNORE_LABEL,
        name: str = "segmentation_scores",
        dtype=None,
    ):
        super().__init__(num_classes, ignore_class=ignore_class, name=name, dtype=dtype)

    def result(self):
        counts = self._score_counts()
        return {
            "pixel_accuracy": self._score(pixel_accuracy(counts)),
            "mean_accuracy": self._score(mean_accuracy(counts)),
            "mean_iou": self._score(mean_iou(counts)),
            "frequency_weighted_iou": self._score(frequency_weighted_iou(counts)),
        }
