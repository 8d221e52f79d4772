"""The optional runtimes and converters of the exports, imported only when a format needs them,
and each export opened in its runtime as a function from images to class ids.

`keras_fcn.export` imports none of them at start-up: a TF Serving user needs neither ONNX
Runtime nor OpenVINO. They come with `pip install keras-fcn[deploy]`. Opening an ONNX, OpenVINO
or LiteRT export here imports that runtime and numpy only, not TensorFlow or Keras.
"""

import importlib
import os
from collections.abc import Callable
from types import ModuleType

import numpy as np

from keras_fcn.export.layout import CLASS_IDS_OUTPUT, IMAGES_INPUT

INSTALL_HINT = "pip install 'keras-fcn[deploy]'"
"""How to install every runtime and converter the exports use."""


def require(module: str, package: str | None = None) -> ModuleType:
    """Imports `module`, or raises an `ImportError` that says which package to install.

    Args:
        module: the module to import, e.g. `"openvino"`.
        package: the package on PyPI that provides it, when its name differs.

    Returns:
        The module.

    Example:

    >>> require("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"This export needs the {package or module!r} package, which is not installed: "
            f"{error}. Install it with `pip install {package or module}` or `{INSTALL_HINT}`."
        ) from error


INFERENCE_PRECISION_HINTS = {"float32": "f32", "bfloat16": "bf16"}
"""OpenVINO's `INFERENCE_PRECISION_HINT` for each precision; int8 exports keep OpenVINO's
default for the layers left unquantized (bfloat16 where the CPU has it, else float32)."""


def onnx_function(path: str, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Opens an ONNX export in ONNX Runtime as a function from images to class ids.

    Args:
        path: the `.onnx` file.
        threads: intra-op threads, or `None` for ONNX Runtime's default (one per core).

    Returns:
        A function from uint8 images `(B, H, W, 3)` to int32 class ids `(B, H, W)`.
    """
    runtime = require("onnxruntime")
    options = runtime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    session = runtime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda images: session.run([CLASS_IDS_OUTPUT], {IMAGES_INPUT: images})[0]


def compile_openvino(path, precision: str | None = "float32", device: str = "CPU"):
    """Compiles an OpenVINO IR with the precision hint of an export's precision.

    Args:
        path: the `.xml` file, or an `openvino.Model`.
        precision: the export's precision; `None` keeps all of OpenVINO's defaults (bfloat16
            on CPUs with AVX512_BF16 or AMX).
        device: OpenVINO's device name.

    Returns:
        The `openvino.CompiledModel`.
    """
    ov = require("openvino")
    config = {}
    if precision in INFERENCE_PRECISION_HINTS:
        config["INFERENCE_PRECISION_HINT"] = INFERENCE_PRECISION_HINTS[precision]
    return ov.Core().compile_model(path, device, config)


def openvino_function(
    path: str, precision: str | None = "float32"
) -> Callable[[np.ndarray], np.ndarray]:
    """Compiles an OpenVINO export for the CPU as a function from images to class ids.

    Args:
        path: the `.xml` file.
        precision: the export's precision (see `compile_openvino`).

    Returns:
        A function from uint8 images `(B, H, W, 3)` to int32 class ids `(B, H, W)`.
    """
    compiled = compile_openvino(path, precision)
    request = compiled.create_infer_request()
    return lambda images: request.infer({IMAGES_INPUT: images})[CLASS_IDS_OUTPUT]


def litert_function(path: str, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Opens a LiteRT export in the LiteRT interpreter as a function from images to class ids.

    Args:
        path: the `.tflite` file.
        threads: interpreter threads, or `None` for one per usable core.

    Returns:
        A function from uint8 images `(B, height, width, 3)` of the export's input size to int32
        class ids `(B, height, width)`; other sizes raise a `ValueError`.
    """
    interpreter_module = require("ai_edge_litert.interpreter", "ai-edge-litert")
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    interpreter = interpreter_module.Interpreter(model_path=path, num_threads=threads)
    runner = interpreter.get_signature_runner()
    (_, height, width, _) = interpreter.get_input_details()[0]["shape_signature"]

    def segment(images: np.ndarray) -> np.ndarray:
        if tuple(images.shape[1:3]) != (height, width):
            raise ValueError(
                f"The LiteRT export {path} takes {height}×{width} images only, received "
                f"{images.shape[1]}×{images.shape[2]}; resize or pad them to its size first."
            )
        return runner(**{IMAGES_INPUT: images})[CLASS_IDS_OUTPUT]

    return segment
