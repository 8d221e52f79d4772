"""Which Keras backend runs, and the parts of the library that need TensorFlow's.

The models, their layers, the metrics, `evaluate`, the recipes and `compile_for_training` run on
every Keras 3 backend (`KERAS_BACKEND=tensorflow|jax|torch`). Two things are TensorFlow's by
nature and check the backend when they are called: `keras_fcn.export.export_for_serving` and
`export_model` (every export format is converted from the TensorFlow graph; `load_predictor` of
a `.keras` file too) and
`keras_fcn.training.make_strategy` (`tf.distribute`). `keras_fcn.data`'s `tf.data` pipelines
need TensorFlow installed but not its backend: they feed `model.fit` on every backend.
"""

import importlib.util

import keras
import numpy as np


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here (without importing it).

    Example:

    >>> tensorflow_installed()  # the doctests run on TensorFlow
    True
    """
    return importlib.util.find_spec("tensorflow") is not None


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


TENSORFLOW_ALIGNMENT = 64
"""Bytes to which TensorFlow's CPU kernels (Eigen) need a tensor's data aligned."""


def aligned_empty(shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    """An uninitialised C-contiguous array whose data is aligned for TensorFlow.

    Example:

    >>> aligned_empty((3, 5)).ctypes.data % TENSORFLOW_ALIGNMENT
    0
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + TENSORFLOW_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % TENSORFLOW_ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def assign_array(variable: keras.Variable, array: np.ndarray) -> None:
    """Sets a variable to a numpy array, handing the array over.

    On TensorFlow, `variable.assign(array)` (Keras' and TensorFlow's own) converts the array
    into a tensor through two copies of it (measured: 800 MB over fc6's 400 MB kernel), and the
    variable takes a new buffer while TensorFlow's CPU allocator keeps the old one, which is
    where converting a 540 MB Caffe model peaked. An aligned array (`aligned_empty`) is read as
    a tensor in place instead, through DLPack, and added into the variable's own buffer when
    the variable holds zeros (as the models built to be loaded do, `keras_fcn.from_preset`);
    into a variable holding other values it is assigned, and the variable may keep the array's
    memory, so the caller must not write to the array afterwards. Other arrays, and the other
    backends, take `variable.assign`.

    Args:
        variable: a Keras variable of the array's shape and dtype.
        array: the values; not to be written to after the call.

    Example:

    >>> variable = keras.Variable(np.zeros((2, 3), "float32"))
    >>> values = aligned_empty((2, 3))
    >>> values[...] = 1.5
    >>> assign_array(variable, values)
    >>> float(keras.ops.sum(variable))
    9.0
    """
    if tuple(array.shape) != tuple(variable.shape):
        raise ValueError(
            f"The variable {variable.path} has the shape {tuple(variable.shape)}; received an "
            f"array of shape {tuple(array.shape)}."
        )
    aligned = array.flags.c_contiguous and array.ctypes.data % TENSORFLOW_ALIGNMENT == 0
    if keras.backend.backend() != "tensorflow" or not aligned or array.dtype != variable.dtype:
        variable.assign(array)
        return
    import tensorflow as tf

    tensor = tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    if keras.ops.any(keras.ops.not_equal(variable, 0)):
        variable.assign(tensor)
    else:  # in place: TensorFlow's AssignAddVariableOp writes into the variable's buffer
        variable.value.assign_add(tensor, read_value=False)
