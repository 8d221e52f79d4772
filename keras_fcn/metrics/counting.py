"""Counts one batch's (label, prediction) pairs as the two float32 words of a confusion matrix.

Each count is split as `high + low`: `high` the whole multiples of `CARRY`, `low` the rest (why
two words: see `keras_fcn.metrics`). `keras_fcn.metrics.ConfusionMatrixMetric` adds them to its
state. The TensorFlow backend counts with TensorFlow (the only TensorFlow of `keras_fcn.metrics`,
imported when a batch is counted), the others with `keras.ops`.
"""

import keras
from keras import ops

COUNT_DTYPE = "float32"
"""Dtype of the two words of the metrics' state: legal on every device, TPUs included."""

CARRY = 2.0**16
"""`high` holds multiples of `CARRY`, `low` what is left: below `CARRY`."""


def count_pairs(y_true, y_pred, weights, num_classes, ignore_class, metric_name):
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
        multiples of `CARRY` and the rest, and the float32 number of out-of-range pixels left
        out. Unweighted counts are split as integers, so a batch of more than 2^24 pixels still
        counts exactly.
    """
    if keras.backend.backend() == "tensorflow":
        return _count_pairs_tensorflow(
            y_true, y_pred, weights, num_classes, ignore_class, metric_name
        )
    return _count_pairs_ops(y_true, y_pred, weights, num_classes, ignore_class)


def _count_pairs_ops(y_true, y_pred, weights, num_classes, ignore_class):
    """`count_pairs` in `keras.ops`, for the JAX and PyTorch backends.

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
    carry = ops.cast(CARRY, counts.dtype)
    high = ops.floor_divide(counts, carry) * carry
    return (
        ops.cast(high, COUNT_DTYPE),
        ops.cast(counts - high, COUNT_DTYPE),
        ops.sum(ops.cast(invalid, COUNT_DTYPE)),
    )


def _count_pairs_tensorflow(y_true, y_pred, weights, num_classes, ignore_class, metric_name):
    """`count_pairs` in TensorFlow: the fast path of the TensorFlow backend.

    The only TensorFlow in this module: `tf.argmax` skips the extra pass over the scores that
    `keras.ops.argmax` makes (about 1.5x faster on CPU); the fixed-size `DenseBincount`
    compiles under XLA (`keras.ops.bincount` does not) and is an order of magnitude faster on
    CPU than `keras.ops.segment_sum`; `tf.debugging.Assert` reports out-of-range labels. XLA
    drops assertions when it compiles (`jit_compile=True`, Keras' default on GPU); pixels with
    an out-of-range label (or predicted class id) then go to a discarded bin and are counted in
    the third output instead. Arguments and outputs as `count_pairs`.
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
    high = counts // tf.cast(CARRY, counts.dtype) * tf.cast(CARRY, counts.dtype)
    return (
        tf.cast(high, COUNT_DTYPE),
        tf.cast(counts - high, COUNT_DTYPE),
        tf.reduce_sum(tf.cast(invalid, COUNT_DTYPE)),
    )
