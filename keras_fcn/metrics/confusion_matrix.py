"""The Keras metric that accumulates a segmentation confusion matrix over a whole split.

`ConfusionMatrixMetric` holds the matrix as two float32 words (`keras_fcn.metrics.counting`),
checks its inputs, and returns the matrix and the per-class numbers; the score metrics
(`keras_fcn.metrics.score_metrics`) build on it.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 5.
"""

import keras
import numpy as np
from keras import ops

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.metrics.counting import CARRY, COUNT_DTYPE, count_pairs
from keras_fcn.metrics.scores import exact_dtype, per_class_accuracy, per_class_iou


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
            dtype=COUNT_DTYPE,
            name="counts_high",
        )
        self.counts_low = self.add_variable(
            shape=(num_classes, num_classes),
            initializer="zeros",
            dtype=COUNT_DTYPE,
            name="counts_low",
        )
        self.out_of_range_pixels = self.add_variable(
            shape=(), initializer="zeros", dtype=COUNT_DTYPE, name="out_of_range_pixels"
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
            weights = ops.convert_to_tensor(sample_weight, dtype=COUNT_DTYPE)
            if len(weights.shape) == len(y_true.shape) + 1 and weights.shape[-1] == 1:
                weights = ops.squeeze(weights, axis=-1)
            while 0 < len(weights.shape) < len(y_true.shape):
                weights = ops.expand_dims(weights, axis=-1)
            weights = ops.broadcast_to(weights, ops.shape(y_true))
        high, low, out_of_range = count_pairs(
            y_true, y_pred, weights, self.num_classes, self.ignore_class, self.name
        )
        shape = (self.num_classes, self.num_classes)
        low = self.counts_low + ops.reshape(low, shape)
        carry = ops.floor(low / CARRY) * CARRY
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
        return self._matrix(exact_dtype())

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

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
        }
