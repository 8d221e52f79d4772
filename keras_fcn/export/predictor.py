"""Any model or export as one kind of function: uint8 images in, class ids out.

`load_predictor(path)` opens a `.keras` file (in process, float32 or bfloat16) or any export of
`keras_fcn.export.export_model` (a SavedModel, an ONNX, OpenVINO or LiteRT version directory, a
base directory of numbered versions, or a bare `.onnx`, `.xml` or `.tflite` file) with the
runtime its format needs. `keras-fcn predict --model PATH` and the accuracy guard use it, so every
path is checked the same way.
"""

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from keras_fcn.export.layout import ARTEFACTS, INFO_FILE, ExportInfo, find_version
from keras_fcn.export.runtimes import litert_function, onnx_function, openvino_function

if TYPE_CHECKING:
    import keras

_EXTENSIONS = {".onnx": "onnx", ".xml": "openvino", ".tflite": "litert"}


def _checked(segment: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Wraps a function to class ids with the checks of its images."""

    def predict(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"images must be RGB of shape (batch, height, width, 3), received {images.shape}."
            )
        if images.dtype != np.uint8:
            raise TypeError(f"images must be uint8 in [0, 255], received {images.dtype}.")
        return np.asarray(segment(images))

    return predict


def make_predictor(
    model: "keras.Model", precision: str = "float32"
) -> Callable[[np.ndarray], np.ndarray]:
    """A Keras model in process as a function from uint8 images to class ids.

    The same computation as the `serve_images` signature of its SavedModel, without writing
    anything (for models built in memory, such as `keras_fcn.from_preset`'s), in float32 or,
    with `precision="bfloat16"`, on `keras_fcn.export.bfloat16_model(model)`.

    Args:
        model: a float32 segmentation model, such as `keras_fcn.FCN8s`.
        precision: `"float32"` or `"bfloat16"`.

    Returns:
        A function mapping uint8 RGB images `(B, H, W, 3)` of any size to int32 class ids
        `(B, H, W)`, both numpy arrays.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> make_predictor(model, "bfloat16")(np.zeros((1, 37, 53, 3), "uint8")).shape
    (1, 37, 53)
    """
    from keras_fcn.backends import require_tensorflow
    from keras_fcn.export.precision import in_process_model
    from keras_fcn.export.saved_model import model_function

    require_tensorflow("keras_fcn.export.make_predictor")
    return _checked(model_function(in_process_model(model, precision)))


def _holds_export(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, INFO_FILE)) or any(
        os.path.isfile(os.path.join(directory, name)) for name in ARTEFACTS.values()
    )


def read_export_info(path: str) -> tuple[str, ExportInfo]:
    """Finds the export at `path` and says what it is.

    Args:
        path: a version directory, a base directory of numbered versions (the highest is taken)
            or a bare `.onnx`, `.xml` or `.tflite` file.

    Returns:
        The artefact's path (a file, or the SavedModel's directory) and its `ExportInfo`; for a
        bare file or a SavedModel without `keras_fcn.json`, the format comes from the file name
        and the precision is taken to be float32.
    """
    if os.path.isfile(path):
        extension = os.path.splitext(path)[1]
        if extension not in _EXTENSIONS:
            raise ValueError(
                f"{path!r} is a file but not a model: expected a .keras, .onnx, .xml (OpenVINO) "
                "or .tflite file, or an export directory."
            )
        info_directory = os.path.dirname(path) or "."
        if os.path.isfile(os.path.join(info_directory, INFO_FILE)):
            info = ExportInfo.read(info_directory)
            if info.artefact == os.path.basename(path):
                return path, info
        return path, ExportInfo(_EXTENSIONS[extension], "float32", os.path.basename(path))
    directory = find_version(path, _holds_export, "an export (a SavedModel, model.onnx, ...)")
    if os.path.isfile(os.path.join(directory, INFO_FILE)):
        info = ExportInfo.read(directory)
    else:  # a SavedModel written before exports were described, or a bare artefact
        kind = next(
            kind
            for kind, name in ARTEFACTS.items()
            if os.path.isfile(os.path.join(directory, name))
        )
        info = ExportInfo(kind, "float32", "." if kind == "saved_model" else ARTEFACTS[kind])
    return os.path.normpath(os.path.join(directory, info.artefact)), info


def load_predictor(path: str, precision: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Loads a `.keras` model or any export as a function from images to class ids.

    A `.keras` file runs in process (see `make_predictor`); a SavedModel runs its `serve_images`
    signature in TensorFlow; an ONNX export runs in ONNX Runtime, an OpenVINO one in OpenVINO
    (with the precision hint of its export), a LiteRT one in the LiteRT interpreter (at its one
    input size): those three import their runtime only, not TensorFlow or Keras.

    Args:
        path: a `.keras` file; an export's version directory or base directory of numbered
            versions (the highest is loaded); or a bare `.onnx`, `.xml` or `.tflite` file.
        precision: for a `.keras` file, `"float32"` (default) or `"bfloat16"`. An export runs
            in the precision it was exported in; naming another raises a `ValueError`.

    Returns:
        A function mapping uint8 RGB images `(B, H, W, 3)` to int32 class ids `(B, H, W)`, both
        numpy arrays.

    Raises:
        RuntimeError: for a `.keras` file on a Keras backend other than TensorFlow (an export
            loads with its own runtime, whatever the backend).

    Example:

    >>> import keras, keras_fcn.export
    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> _ = keras_fcn.export.export_model(model, "saved_models/demo", "onnx")
    >>> predict = load_predictor("saved_models/demo")
    >>> predict(np.zeros((1, 37, 53, 3), "uint8")).shape
    (1, 37, 53)
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No model at {path!r}: expected a .keras file or an export (a SavedModel, ONNX, "
            "OpenVINO or LiteRT export directory, or its file)."
        )
    if os.path.isfile(path) and path.endswith(".keras"):
        import keras

        from keras_fcn.backends import require_tensorflow

        require_tensorflow("keras_fcn.export.load_predictor of a .keras file")
        return make_predictor(keras.models.load_model(path), precision or "float32")
    artefact, info = read_export_info(path)
    if precision is not None and precision != info.precision:
        raise ValueError(
            f"{path} is a {info.precision} {info.format} export and runs in that precision; "
            f"received precision={precision!r}. Export it again in {precision}."
        )
    if info.format == "saved_model":
        from keras_fcn.export.saved_model import saved_model_function

        return _checked(saved_model_function(artefact))
    if info.format == "onnx":
        return _checked(onnx_function(artefact))
    if info.format == "openvino":
        return _checked(openvino_function(artefact, info.precision))
    if info.format == "litert":
        return _checked(litert_function(artefact))
    raise ValueError(f"{path}: unknown export format {info.format!r} in its {INFO_FILE}.")
