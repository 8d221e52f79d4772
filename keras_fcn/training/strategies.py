"""Where and in what precision training runs: `tf.distribute` strategies, Keras dtype policies.

The dtype policies hold on every backend; the strategies are TensorFlow's (`make_strategy`
checks the backend when called and imports TensorFlow only then).
"""

from typing import TYPE_CHECKING

import keras

from keras_fcn.backends import require_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker", "tpu")
"""Names accepted by `make_strategy`."""

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
"""Keras dtype policies a run can compute in: bfloat16 is what CPUs and TPUs run fast, float16
what GPUs do; variables and logits stay float32 under both mixed policies."""


def make_strategy(name: str = "auto") -> "tf.distribute.Strategy":
    """Returns the `tf.distribute` strategy to build and train under.

    `"auto"` takes a TPU when one is reachable, all GPUs when there are several, and otherwise
    the default strategy (one GPU or the CPU).

    Args:
        name: one of `STRATEGIES`.

    Returns:
        A strategy; build and compile the model inside `strategy.scope()`.

    Raises:
        RuntimeError: on a Keras backend other than TensorFlow (`tf.distribute` distributes
            TensorFlow's graphs only; JAX and PyTorch have their own, `keras.distribution`).

    Example:

    >>> strategy = make_strategy("one-device")
    >>> with strategy.scope():
    ...     model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=64)
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")
    require_tensorflow("keras_fcn.training.make_strategy")
    import tensorflow as tf

    if name in ("tpu", "auto"):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        except (ValueError, tf.errors.NotFoundError) as error:
            if name == "tpu":
                raise ValueError(f"No TPU is reachable: {error}") from error
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def set_precision(precision: str) -> None:
    """Sets Keras' global dtype policy to one of `PRECISIONS` (before building the model).

    Example:

    >>> set_precision("mixed_bfloat16")
    >>> keras.mixed_precision.global_policy().compute_dtype
    'bfloat16'
    >>> set_precision("float32")
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, received {precision!r}.")
    keras.mixed_precision.set_global_policy(precision)
