"""The four scores of the FCN paper and the per-class numbers, as functions of a confusion matrix.

`n[i, j]` counts the pixels of class `i` predicted as `j` (rows = ground truth, columns =
prediction) and `t_i = sum_j n[i, j]`. The functions take any `(num_classes, num_classes)` array
of counts: the matrices of `keras_fcn.metrics.ConfusionMatrixMetric`, or one `keras_fcn.evaluate`
accumulated. Each returns a tensor (a score: a scalar; a per-class number: one per class) in the
matrix's dtype if float32 or float64, else float64.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 5 (the original `score.py`).
"""

import math

import keras
from keras import ops


def exact_dtype() -> str:
    """Dtype of the scores of a matrix given as integers or a list, and of the exact matrix.

    float64, except on JAX without `jax_enable_x64`, where JAX has no float64 (it would turn
    every float64 into float32 with a warning): float32 there.
    """
    if keras.backend.backend() == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return "float64"


def _counts(confusion_matrix):
    """The matrix as a float tensor: float32 and float64 stay as they are, others go float64."""
    counts = ops.convert_to_tensor(confusion_matrix)
    if keras.backend.standardize_dtype(counts.dtype) in ("float32", "float64"):
        return counts
    return ops.cast(counts, exact_dtype())


def _divide_where_defined(numerator, denominator):
    defined = denominator > 0
    quotient = numerator / ops.where(defined, denominator, 1.0)
    return ops.where(defined, quotient, math.nan)


def _mean_where_defined(values):
    defined = ops.logical_not(ops.isnan(values))
    total = ops.sum(ops.where(defined, values, 0.0))
    return total / ops.maximum(ops.sum(ops.cast(defined, values.dtype)), 1.0)


def per_class_accuracy(confusion_matrix):
    """Returns each class's accuracy `n_ii / t_i`, NaN for classes absent from the truth.

    Example:

    >>> per_class_accuracy([[3, 1], [0, 0]]).numpy().tolist()
    [0.75, nan]
    """
    counts = _counts(confusion_matrix)
    return _divide_where_defined(ops.diagonal(counts), ops.sum(counts, axis=1))


def per_class_iou(confusion_matrix):
    """Returns each class's intersection over union, NaN for classes absent from both sides.

    `IU_i = n_ii / (t_i + sum_j n_ji - n_ii)`: a class absent from the ground truth but
    predicted somewhere scores 0, a class absent from both is undefined.

    Example:

    >>> per_class_iou([[3, 1, 0], [0, 0, 0], [0, 0, 0]]).numpy().tolist()
    [0.75, 0.0, nan]
    """
    counts = _counts(confusion_matrix)
    intersection = ops.diagonal(counts)
    union = ops.sum(counts, axis=1) + ops.sum(counts, axis=0) - intersection
    return _divide_where_defined(intersection, union)


def pixel_accuracy(confusion_matrix):
    """Returns the fraction of labelled pixels predicted right, `sum_i n_ii / sum_i t_i`.

    An empty matrix scores 0.

    Example:

    >>> float(pixel_accuracy([[3, 1], [1, 5]]))
    0.8
    """
    counts = _counts(confusion_matrix)
    return ops.trace(counts) / ops.maximum(ops.sum(counts), 1.0)


def mean_accuracy(confusion_matrix):
    """Returns the mean of the per-class accuracies over the classes present in the truth.

    An empty matrix scores 0.

    Example:

    >>> float(mean_accuracy([[3, 1, 0], [1, 4, 0], [0, 0, 0]]))  # (3/4 + 4/5) / 2
    0.775
    """
    return _mean_where_defined(per_class_accuracy(confusion_matrix))


def mean_iou(confusion_matrix):
    """Returns the mean intersection over union over the classes present in truth or prediction.

    Classes absent from both the ground truth and the predictions are left out of the mean, as
    `numpy.nanmean` leaves them out in the original; an empty matrix scores 0.

    Example:

    >>> float(mean_iou([[3, 1, 0], [0, 0, 0], [0, 0, 0]]))  # (3/4 + 0) / 2
    0.375
    """
    return _mean_where_defined(per_class_iou(confusion_matrix))


def frequency_weighted_iou(confusion_matrix):
    """Returns the IU of each class weighted by its share of the labelled pixels.

    `(sum_k t_k)^-1 sum_i t_i IU_i`, over the classes present in the ground truth; an empty
    matrix scores 0.

    Example:

    >>> float(frequency_weighted_iou([[3, 1], [0, 0]]))  # (4 * 3/4 + 0) / 4
    0.75
    """
    counts = _counts(confusion_matrix)
    truth = ops.sum(counts, axis=1)
    weighted = ops.where(truth > 0, truth * per_class_iou(counts), 0.0)
    return ops.sum(weighted) / ops.maximum(ops.sum(truth), 1.0)
