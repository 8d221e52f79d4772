"""One entry point for every format and precision, with the accuracy guard before publishing.

`export_model(model, export_dir, format, precision)` writes `export_dir/<version>/` in one of
`FORMATS`, in one of the precisions the format takes (`FORMAT_PRECISIONS`). With an
`AccuracyGuard`, it loads the written artefact back with its own runtime, compares its class ids
with the float32 model's on held-out labelled images (`keras_fcn.export.check_agreement`), and
publishes the version only if the guard passes (or warns and publishes, if asked to).
"""

import dataclasses
import os
from collections.abc import Iterable, Sequence

import keras
import numpy as np

from keras_fcn.backends import require_tensorflow
from keras_fcn.export import litert, onnx, openvino, saved_model
from keras_fcn.export.guard import MAX_MIOU_DROP, MIN_PIXEL_AGREEMENT, check_agreement
from keras_fcn.export.layout import DEFAULT_OUTPUTS, ExportInfo, staged_version
from keras_fcn.export.predictor import load_predictor, make_predictor
from keras_fcn.export.segmenter import check_model
from keras_fcn.model_info import ModelInfo

FORMAT_PRECISIONS = {
    "saved_model": saved_model.PRECISIONS,
    "onnx": onnx.PRECISIONS,
    "openvino": openvino.PRECISIONS,
    "litert": litert.PRECISIONS,
}
"""The precisions each format is exported in."""

FORMATS = tuple(FORMAT_PRECISIONS)
"""Export formats: `saved_model` (TF Serving), `onnx` (ONNX Runtime), `openvino` (OpenVINO,
OpenVINO Model Server) and `litert` (phones and edge devices)."""


@dataclasses.dataclass(frozen=True)
class AccuracyGuard:
    """The check an export must pass before it is published (see `check_agreement`).

    Args:
        dataset: held-out `(image, label)` pairs (a `tf.data.Dataset` of
            `keras_fcn.data.from_spec`, or any iterable), not the calibration images.
        max_miou_drop: the largest loss of mean IU accepted, as a fraction (0.003 = 0.3 points).
        min_pixel_agreement: the smallest fraction of pixels whose class must agree with the
            float32 model's; `None` for the precision's default (`MIN_PIXEL_AGREEMENT`).
        on_failure: `"raise"`: refuse the export (nothing is published); `"warn"`: publish it
            with a warning.

    Example:

    >>> guard = AccuracyGuard(dataset=[], max_miou_drop=0.005)
    >>> guard.on_failure
    'raise'
    """

    dataset: Iterable
    max_miou_drop: float = MAX_MIOU_DROP
    min_pixel_agreement: float | None = None
    on_failure: str = "raise"


def _write(
    model: keras.Model,
    directory: str,
    format: str,
    precision: str,
    calibration: Sequence[np.ndarray] | None,
    input_size: tuple[int, int] | None,
    min_agreement: float | None,
    outputs: Sequence[str],
) -> ExportInfo:
    if format == "saved_model":
        return saved_model.write_saved_model(model, directory, precision)
    if format == "onnx":
        return onnx.write_onnx(model, directory, precision, calibration, outputs)
    if format == "openvino":
        return openvino.write_openvino(
            model, directory, precision, calibration, min_agreement, outputs
        )
    return litert.write_litert(model, directory, precision, calibration, input_size, outputs)


def export_model(
    model: keras.Model,
    export_dir: str,
    format: str = "saved_model",
    precision: str = "float32",
    *,
    version: int = 1,
    overwrite: bool = False,
    input_size: tuple[int, int] | None = None,
    calibration: Sequence[np.ndarray] | None = None,
    int8_min_agreement: float | None = None,
    guard: AccuracyGuard | None = None,
    model_info: ModelInfo | None = None,
    outputs: Sequence[str] | None = None,
) -> str:
    """Exports `model` to `export_dir/<version>/` in a format and precision, guarded.

    Every artefact takes raw uint8 RGB images `images` `[B, H, W, 3]` (of any size, but a
    LiteRT export takes `input_size` only) and returns `class_ids` int32 `[B, H, W]`, and
    `probabilities` float32 `[B, H, W, num_classes]` where asked for (`outputs`; a SavedModel
    has both, in the signatures that say so); `keras_fcn.json` next to it says what it is.
    Each runtime gets the graph it runs fastest (`keras_fcn.export.graphs`). Which format
    where:

    | format | runs in | serves with | precisions |
    | --- | --- | --- | --- |
    | `saved_model` | TensorFlow | TF Serving (REST, gRPC; JPEG/PNG bytes in) | float32, bfloat16 |
    | `onnx` | ONNX Runtime | Triton, ONNX Runtime anywhere | float32, int8 |
    | `openvino` | OpenVINO | OpenVINO Model Server | float32, bfloat16, int8 |
    | `litert` | LiteRT interpreter | Android, iOS, microcontrollers | float32, int8 |

    Args:
        model: a float32 segmentation model mapping RGB images in [0, 255] of any size to
            logits, such as `keras_fcn.FCN8s` or a model of `keras_fcn.registry`.
        export_dir: the model's base directory, e.g. `saved_models/NAME`; created if missing.
        format: one of `FORMATS`.
        precision: one of the format's `FORMAT_PRECISIONS`.
        version: the version directory's number.
        overwrite: whether to replace an existing version.
        input_size: `(height, width)` of a LiteRT export (required there, unused elsewhere).
        calibration: for int8, uint8 images from the user's data to calibrate the activation
            ranges on (`keras_fcn.export.calibration_images(dataset, size)`).
        int8_min_agreement: for an OpenVINO int8 export, quantize under NNCF's accuracy
            control: layers go back to float until the class ids agree with float32's on this
            fraction of the calibration images' pixels (`write_openvino`'s `min_agreement`).
        guard: an `AccuracyGuard` to pass before the version is published, or `None`.
        model_info: what the model was trained on (`keras_fcn.model_info.read_model_info` of
            its `.keras` file), recorded in `keras_fcn.json` for `keras-fcn predict`.
        outputs: the outputs of an ONNX, OpenVINO or LiteRT export: `("class_ids",)` (the
            default: a runtime computes every output, and the softmax costs time), or
            `("class_ids", "probabilities")`. Not for a SavedModel, whose `serve_class_ids`
            signature returns the class ids only and the others both.

    Returns:
        The path of the version directory written.

    Raises:
        AccuracyGuardError: when the guard fails with `on_failure="raise"`; nothing is written.
        RuntimeError: on a Keras backend other than TensorFlow (every format is converted from
            the model's TensorFlow graph); export from a process started with
            `KERAS_BACKEND=tensorflow`, after saving the model as a `.keras` file.

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> export_model(model, "saved_models/demo", "openvino", "bfloat16")
    'saved_models/demo/1'
    """
    require_tensorflow("keras_fcn.export.export_model")
    if format not in FORMAT_PRECISIONS:
        raise ValueError(f"format must be one of {FORMATS}, received {format!r}.")
    if precision not in FORMAT_PRECISIONS[format]:
        raise ValueError(
            f"The {format} format is exported in {', '.join(FORMAT_PRECISIONS[format])}; "
            f"received precision={precision!r}. Formats with {precision}: "
            f"{', '.join(name for name, kinds in FORMAT_PRECISIONS.items() if precision in kinds)}."
        )
    if int8_min_agreement is not None and (format, precision) != ("openvino", "int8"):
        raise ValueError(
            "Accuracy-controlled int8 (int8_min_agreement) is NNCF's, for an openvino int8 "
            f"export; received format={format!r}, precision={precision!r}."
        )
    if outputs is not None and format == "saved_model":
        raise ValueError(
            "A SavedModel has every output, each signature its own (serve_class_ids: class ids "
            f"only); outputs is for onnx, openvino and litert, received outputs={outputs!r}."
        )
    check_model(model)
    with staged_version(export_dir, version, overwrite) as staging:
        info = _write(
            model,
            staging,
            format,
            precision,
            calibration,
            input_size,
            int8_min_agreement,
            DEFAULT_OUTPUTS if outputs is None else outputs,
        )
        if model_info is not None:
            info = dataclasses.replace(info, model_info=model_info.to_dict())
        info.write(staging)
        if guard is not None:
            dataset = guard.dataset
            if info.input_size is not None:
                dataset = litert.resized_examples(dataset, info.input_size)
            report = check_agreement(
                make_predictor(model),
                load_predictor(staging),
                dataset,
                num_classes=int(model.outputs[0].shape[-1]),
                max_miou_drop=guard.max_miou_drop,
                min_pixel_agreement=(
                    MIN_PIXEL_AGREEMENT[precision]
                    if guard.min_pixel_agreement is None
                    else guard.min_pixel_agreement
                ),
                on_failure=guard.on_failure,
            )
            dataclasses.replace(info, guard=report.to_dict()).write(staging)
    return os.path.join(export_dir, str(version))
