"""Which Keras backend runs, and the parts of the library that need TensorFlow's.

The models, their layers, the metrics, `evaluate`, the recipes and `compile_for_training` run on
every Keras 3 backend (`KERAS_BACKEND=tensorflow|jax|torch`). Two things are TensorFlow's by
nature and check the backend when they are called: `keras_fcn.export.export_for_serving` and
`export_model` (every export format is converted from the TensorFlow graph; `load_predictor` of
a `.keras` file too) and
`keras_fcn.training.make_strategy` (`tf.distribute`). `keras_fcn.data`'s `tf.data` pipelines
need TensorFlow installed but not its backend: they feed `model.fit` on every backend.
"""

import keras


def require_tensorflow(feature: str) -> None:
    """Raises a `RuntimeError` naming `feature` unless Keras runs on TensorFlow.

    Args:
        feature: what needs TensorFlow, as the user called it (`"keras_fcn.export"`).

    Raises:
        RuntimeError: on the JAX or PyTorch backend, saying how to switch.

    Example:

    >>> require_tensorflow("keras_fcn.export")  # the doctests run on TensorFlow
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"{feature} needs the TensorFlow backend (KERAS_BACKEND=tensorflow); the current "
            f"backend is {backend}."
        )
