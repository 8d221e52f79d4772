"""The four scores of the FCN paper, streamed over a whole split from one confusion matrix.

Every score is a plain function of a confusion matrix `n` (rows = ground truth, columns =
prediction, `n[i, j]` = pixels of class `i` predicted as `j`, `t_i = sum_j n[i, j]`):

- pixel accuracy `sum_i n_ii / sum_i t_i`;
- mean accuracy, the mean of `n_ii / t_i` over the classes present in the ground truth;
- mean IU, the mean of `IU_i = n_ii / (t_i + sum_j n_ji - n_ii)` over the classes present in
  the ground truth or the predictions;
- frequency-weighted IU `(sum_k t_k)^-1 sum_i t_i IU_i`.

The Keras metrics below accumulate that matrix and apply the same functions, and so does
`keras_fcn.evaluation`. The counts stay exact over a whole split: `keras.metrics.MeanIoU`'s
float32 matrix stops counting exactly at 2^24 pixels per cell, and PASCAL VOC 2012 val alone
holds about 2.7e8 labelled pixels. Float64 would be exact but TPUs have no float64, so the
matrix is held as two float32 words, `high + low`: `high` takes whole multiples of 2^16, `low`
the rest (below 2^16, where float32 still resolves 1/128). Whole-number counts are exact up to
2^40 (about 1.1e12 pixels per cell), also summed over up to 256 replicas, and fractional sample
weights accumulate.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 5 (the original `score.py`).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_fcn.classes import IGNORE_LABEL

_COUNT_DTYPE = "float32"
"""Dtype of the two words of the metrics' state: legal on every device, TPUs included."""

_CARRY = 2.0**16
"""`high` holds multiples of `_CARRY`, `low` what is left: below `_CARRY`."""


def _exact_dtype() -> str:
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
    return ops.cast(counts, _exact_dtype())


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

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        confusion_matrix: a `(num_classes, num_classes)` array of counts, rows = ground truth,
            columns = prediction.

    Returns:
        A tensor of shape `(num_classes,)`, in the matrix's dtype if float32 or float64, else
        float64.

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

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        confusion_matrix: a `(num_classes, num_classes)` array of counts, rows = ground truth,
            columns = prediction.

    Returns:
        A tensor of shape `(num_classes,)`, in the matrix's dtype if float32 or float64, else
        float64.

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

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        confusion_matrix: a `(num_classes, num_classes)` array of counts, rows = ground truth,
            columns = prediction.

    Returns:
        A scalar tensor, in the matrix's dtype if float32 or float64, else float64.

    Example:

    >>> float(pixel_accuracy([[3, 1], [1, 5]]))
    0.8
    """
    counts = _counts(confusion_matrix)
    return ops.trace(counts) / ops.maximum(ops.sum(counts), 1.0)


def mean_accuracy(confusion_matrix):
    """Returns the mean of the per-class accuracies over the classes present in the truth.

    An empty matrix scores 0.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        confusion_matrix: a `(num_classes, num_classes)` array of counts, rows = ground truth,
            columns = prediction.

    Returns:
        A scalar tensor, in the matrix's dtype if float32 or float64, else float64.

    Example:

    >>> float(mean_accuracy([[3, 1, 0], [1, 4, 0], [0, 0, 0]]))  # (3/4 + 4/5) / 2
    0.775
    """
    return _mean_where_defined(per_class_accuracy(confusion_matrix))


def mean_iou(confusion_matrix):
    """Returns the mean intersection over union over the classes present in truth or prediction.

    Classes absent from both the ground truth and the predictions are left out of the mean, as
    `numpy.nanmean` leaves them out in the original; an empty matrix scores 0.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        confusion_matrix: a `(num_classes, num_classes)` array of counts, rows = ground truth,
            columns = prediction.

    Returns:
        A scalar tensor, in the matrix's dtype if float32 or float64, else float64.

    Example:

    >>> float(mean_iou([[3, 1, 0], [0, 0, 0], [0, 0, 0]]))  # (3/4 + 0) / 2
    0.375
    """
    return _mean_where_defined(per_class_iou(confusion_matrix))


def frequency_weighted_iou(confusion_matrix):
    """Returns the IU of each class weighted by its share of the labelled pixels.

    `(sum_k t_k)^-1 sum_i t_i IU_i`, over the classes present in the ground truth; an empty
    matrix scores 0.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 5.

    Args:
        confusion_matrix: a `(num_classes, num_classes)` array of counts, rows = ground truth,
            columns = prediction.

    Returns:
        A scalar tensor, in the matrix's dtype if float32 or float64, else float64.

    Example:

    >>> float(frequency_weighted_iou([[3, 1], [0, 0]]))  # (4 * 3/4 + 0) / 4
    0.75
    """
    counts = _counts(confusion_matrix)
    truth = ops.sum(counts, axis=1)
    weighted = ops.where(truth > 0, truth * per_class_iou(counts), 0.0)
    return ops.sum(weighted) / ops.maximum(ops.sum(truth), 1.0)


def _count_pairs(y_true, y_pred, weights, num_classes, ignore_class, metric_name):
    """Counts (label, prediction) pairs in one bincount of `num_classes * label + prediction`.

    On the TensorFlow backend the counting is TensorFlow's (`_count_pairs_tensorflow`), on the
    others `keras.ops` (`_count_pairs_ops`); both count the same pixels in the same bins.

    Args:
        y_true: integer labels.
        y_pred: class scores with one more axis than `y_true`, or class ids of its shape.
        weights: float32 per-pixel weights of `y_true`'s shape, or `None`.
        num_classes: number of classes.
        ignore_class: label of the pixels to skip, or `None`.
        metric_name: the metric's name, for error messages.

    Returns:
        The flattened `(num_classes * num_classes,)` counts as two float32 words, the whole
        multiples of `_CARRY` and the rest (see `ConfusionMatrixMetric`), and the float32
        number of out-of-range pixels left out. Unweighted counts are split as integers, so
        a batch of more than 2^24 pixels still counts exactly.
    """
    if keras.backend.backend() == "tensorflow":
        return _count_pairs_tensorflow(
            y_true, y_pred, weights, num_classes, ignore_class, metric_name
        )
    return _count_pairs_ops(y_true, y_pred, weights, num_classes, ignore_class)


def _count_pairs_ops(y_true, y_pred, weights, num_classes, ignore_class):
    """`_count_pairs` in `keras.ops`, for the JAX and PyTorch backends.

    Nothing is asserted (a JAX step is compiled, and a check would stop PyTorch's asynchronous
    GPU work at every batch): pixels with an out-of-range label or predicted class id always go
    to the discarded bin and are counted in the third output, so that the scores read NaN, as
    under XLA on TensorFlow. The bins are summed by `keras.ops.bincount`, except on JAX, whose
    bincount needs its length known when it compiles: `keras.ops.segment_sum` with a fixed
    number of segments there.
    """
    if len(y_pred.shape) != len(y_true.shape):
        y_pred = ops.argmax(y_pred, axis=-1)
    labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    predictions = ops.reshape(ops.cast(y_pred, "int32"), (-1,))
    counted = ops.ones_like(labels, "bool") if ignore_class is None else labels != ignore_class

    def outside(values):
        return ops.logical_or(values < 0, values >= num_classes)

    invalid = ops.logical_and(counted, ops.logical_or(outside(labels), outside(predictions)))
    discarded = num_classes * num_classes
    bins = ops.where(
        ops.logical_and(counted, ops.logical_not(invalid)),
        num_classes * labels + predictions,
        discarded,
    )
    if keras.backend.backend() == "jax":
        values = ops.ones_like(bins) if weights is None else ops.reshape(weights, (-1,))
        counts = ops.segment_sum(values, bins, num_segments=discarded + 1)
    else:
        weights = None if weights is None else ops.reshape(weights, (-1,))
        counts = ops.bincount(bins, weights=weights, minlength=discarded + 1)
    counts = counts[:discarded]
    carry = ops.cast(_CARRY, counts.dtype)
    high = ops.floor_divide(counts, carry) * carry
    return (
        ops.cast(high, _COUNT_DTYPE),
        ops.cast(counts - high, _COUNT_DTYPE),
        ops.sum(ops.cast(invalid, _COUNT_DTYPE)),
    )


def _count_pairs_tensorflow(y_true, y_pred, weights, num_classes, ignore_class, metric_name):
    """`_count_pairs` in TensorFlow: the fast path of the TensorFlow backend.

    The only TensorFlow in this module: `tf.argmax` skips the extra pass over the scores that
    `keras.ops.argmax` makes (about 1.5x faster on CPU); the fixed-size `DenseBincount`
    compiles under XLA (`keras.ops.bincount` does not) and is an order of magnitude faster on
    CPU than `keras.ops.segment_sum`; `tf.debugging.Assert` reports out-of-range labels. XLA
    drops assertions when it compiles (`jit_compile=True`, Keras' default on GPU); pixels with
    an out-of-range label (or predicted class id) then go to a discarded bin and are counted in
    the third output instead. Arguments and outputs as `_count_pairs`.
    """
    import tensorflow as tf

    checks_predictions = y_pred.shape.rank == y_true.shape.rank
    if not checks_predictions:
        y_pred = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
    labels = tf.reshape(tf.cast(y_true, tf.int32), [-1])
    predictions = tf.reshape(tf.cast(y_pred, tf.int32), [-1])
    shapes_match = tf.debugging.assert_equal(
        tf.shape(labels),
        tf.shape(predictions),
        message=f"Metric '{metric_name}': y_true and y_pred cover different numbers of pixels.",
    )
    counted = tf.ones_like(labels, tf.bool) if ignore_class is None else labels != ignore_class

    def out_of_range(values):
        return tf.logical_and(counted, tf.logical_or(values < 0, values >= num_classes))

    def assert_in_range(values, what):
        bad = out_of_range(values)
        largest_bad = tf.reduce_max(tf.where(bad, values, tf.int32.min))
        return tf.debugging.Assert(
            tf.logical_not(tf.reduce_any(bad)),
            [
                f"Metric '{metric_name}' received {what}",
                largest_bad,
                f"outside [0, {num_classes}) that is not the ignore_class ({ignore_class}). "
                "Check num_classes, ignore_class and the label encoding.",
            ],
        )

    invalid = out_of_range(labels)
    assertions = [shapes_match, assert_in_range(labels, "the label")]
    if checks_predictions:
        invalid = tf.logical_or(invalid, out_of_range(predictions))
        assertions.append(assert_in_range(predictions, "the predicted class id"))
    with tf.control_dependencies(assertions):
        discarded = num_classes * num_classes
        bins = tf.where(
            tf.logical_and(counted, tf.logical_not(invalid)),
            num_classes * labels + predictions,
            discarded,
        )
        if weights is None:
            no_weights = tf.zeros([0], tf.int32)
            counts = tf.raw_ops.DenseBincount(input=bins, size=discarded + 1, weights=no_weights)
        else:
            weights = tf.reshape(weights, [-1])
            counts = tf.raw_ops.DenseBincount(input=bins, size=discarded + 1, weights=weights)
    counts = counts[:discarded]
    high = counts // tf.cast(_CARRY, counts.dtype) * tf.cast(_CARRY, counts.dtype)
    return (
        tf.cast(high, _COUNT_DTYPE),
        tf.cast(counts - high, _COUNT_DTYPE),
        tf.reduce_sum(tf.cast(invalid, _COUNT_DTYPE)),
    )


@keras.saving.register_keras_serializable(package="keras_fcn")
class ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a segmentation confusion matrix over a whole split.

    Row `i`, column `j` counts the pixels labelled `i` and predicted `j`. Pixels labelled
    `ignore_class` never enter the matrix. The state is two float32 matrices, `high` (whole
    multiples of 2^16) and `low` (the rest, below 2^16), whose sum is the matrix: whole-number
    counts stay exact up to 2^40 (1.1e12) per cell, far beyond any dataset, it adds up across
    replicas under `tf.distribute` (SUM aggregation), and it needs no float64, which TPUs lack.
    The subclasses compute their scores in float32 (float64 if `dtype="float64"`), so they
    compile on every device. `result()`, `confusion_matrix()`, `per_class_iou()` and
    `per_class_accuracy()` return the exact matrix and the per-class numbers in float64, for
    use outside a compiled TPU step.

    `update_state(y_true, y_pred, sample_weight=None)` takes integer labels `(B, H, W)` or
    `(B, H, W, 1)`, and predictions as class scores `(B, H, W, num_classes)` (logits or
    probabilities: the arg-max is taken) or class ids `(B, H, W)`. `sample_weight`, if given,
    weights each pixel (a scalar, one weight per image `(B,)`, or per pixel `(B, H, W)` /
    `(B, H, W, 1)`); a pixel then counts for its weight, 0 leaves it out. Keras passes the
    dataset's sample weights only to `weighted_metrics=`.

    A label outside `[0, num_classes)` other than `ignore_class` (or a class id `y_pred` out of
    that range) raises `InvalidArgumentError` on the TensorFlow backend, naming the value and
    the metric. XLA drops that assertion (`jit_compile=True`, which Keras picks by default on
    GPU), and the JAX and PyTorch backends make none; there the offending pixels are left out
    of the matrix and the scores of the subclasses read NaN until `reset_state()`, so the
    mistake still shows in the logs.

    The metric runs on every Keras backend. JAX has no float64 unless `jax_enable_x64` is set:
    there the float64 results are float32 (the state stays exact); `exact_confusion_matrix()`
    gives the exact matrix on every backend.

    Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
    Segmentation", CVPR 2015, section 5.

    Args:
        num_classes: number of classes, at least 1.
        ignore_class: label of the pixels that count nowhere, or `None` to count every pixel.
        name: name of the metric.
        dtype: dtype of the scores returned by the subclasses' `result()`.

    Example:

    >>> metric = ConfusionMatrixMetric(num_classes=3)
    >>> metric.update_state([[[0, 1, 255]]], [[[0, 2, 1]]])
    >>> metric.result().numpy().tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """

    def __init__(
        self,
        num_classes: int,
        ignore_class: int | None = IGNORE_LABEL,
        name: str = "confusion_matrix",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"num_classes must be a positive integer, received {num_classes!r} "
                f"for metric '{name}'."
            )
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, int)
        ):
            raise ValueError(
                f"ignore_class must be an integer label or None, received {ignore_class!r} "
                f"for metric '{name}'."
            )
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.counts_high = self.add_variable(
            shape=(num_classes, num_classes),
            initializer="zeros",
            dtype=_COUNT_DTYPE,
            name="counts_high",
        )
        self.counts_low = self.add_variable(
            shape=(num_classes, num_classes),
            initializer="zeros",
            dtype=_COUNT_DTYPE,
            name="counts_low",
        )
        self.out_of_range_pixels = self.add_variable(
            shape=(), initializer="zeros", dtype=_COUNT_DTYPE, name="out_of_range_pixels"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_true.shape) == 4 and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        if len(y_pred.shape) == len(y_true.shape) + 1:
            channels, pixels = y_pred.shape[-1], y_pred.shape[:-1]
            if channels is not None and channels != self.num_classes:
                raise ValueError(
                    f"Metric '{self.name}' expects class scores with num_classes="
                    f"{self.num_classes} channels, received y_pred of shape {tuple(y_pred.shape)}."
                )
        elif len(y_pred.shape) == len(y_true.shape):
            pixels = y_pred.shape
        else:
            raise ValueError(
                f"Metric '{self.name}' expects y_pred as class scores (B, H, W, num_classes) or "
                f"class ids (B, H, W) for y_true of shape {tuple(y_true.shape)}; received "
                f"y_pred of shape {tuple(y_pred.shape)}."
            )
        if any(
            a is not None and b is not None and a != b
            for a, b in zip(y_true.shape, pixels, strict=True)
        ):
            raise ValueError(
                f"Metric '{self.name}': y_true of shape {tuple(y_true.shape)} and y_pred of shape "
                f"{tuple(y_pred.shape)} do not cover the same pixels."
            )
        weights = None
        if sample_weight is not None:
            # Straight to float32: JAX would first narrow int64 weights to int32.
            weights = ops.convert_to_tensor(sample_weight, dtype=_COUNT_DTYPE)
            if len(weights.shape) == len(y_true.shape) + 1 and weights.shape[-1] == 1:
                weights = ops.squeeze(weights, axis=-1)
            while 0 < len(weights.shape) < len(y_true.shape):
                weights = ops.expand_dims(weights, axis=-1)
            weights = ops.broadcast_to(weights, ops.shape(y_true))
        high, low, out_of_range = _count_pairs(
            y_true, y_pred, weights, self.num_classes, self.ignore_class, self.name
        )
        shape = (self.num_classes, self.num_classes)
        low = self.counts_low + ops.reshape(low, shape)
        carry = ops.floor(low / _CARRY) * _CARRY
        self.counts_high.assign_add(ops.reshape(high, shape) + carry)
        self.counts_low.assign(low - carry)
        self.out_of_range_pixels.assign_add(out_of_range)

    def _matrix(self, dtype):
        """The accumulated matrix, `high + low`, in `dtype` (exact in float64)."""
        return ops.cast(self.counts_high, dtype) + ops.cast(self.counts_low, dtype)

    def confusion_matrix(self):
        """Returns the accumulated `(num_classes, num_classes)` confusion matrix, float64.

        Float32 on JAX without `jax_enable_x64` (exact up to 2^24 per cell there).
        """
        return self._matrix(_exact_dtype())

    def exact_confusion_matrix(self) -> np.ndarray:
        """Returns the accumulated confusion matrix as an exact float64 numpy array.

        The two words are read and added in numpy, so that the counts stay exact on every
        backend, JAX without float64 included. Call it outside compiled functions.

        Example:

        >>> metric = ConfusionMatrixMetric(num_classes=2)
        >>> metric.update_state([[[0, 1, 1]]], [[[0, 1, 0]]])
        >>> metric.exact_confusion_matrix().tolist()
        [[1.0, 0.0], [1.0, 1.0]]
        """
        high = ops.convert_to_numpy(self.counts_high).astype(np.float64)
        return high + ops.convert_to_numpy(self.counts_low).astype(np.float64)

    def per_class_iou(self):
        """Returns each class's IU so far (float64, NaN where undefined)."""
        return per_class_iou(self.confusion_matrix())

    def per_class_accuracy(self):
        """Returns each class's accuracy so far (float64, NaN where undefined)."""
        return per_class_accuracy(self.confusion_matrix())

    def result(self):
        return self.confusion_matrix()

    def _score_counts(self):
        """The matrix in the dtype the scores are computed in: float64 if asked, else float32."""
        return self._matrix("float64" if self.dtype == "float64" else "float32")

    def _score(self, score):
        score = ops.where(self.out_of_range_pixels > 0, math.nan, score)
        return ops.cast(score, self.dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
        }


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
