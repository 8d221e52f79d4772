"""OpenVINO IR export for the OpenVINO runtime and Model Server: float32, bfloat16 or int8.

The model is the ONNX export (`keras_fcn.export.onnx`) converted by OpenVINO's own
`ov.convert_model` (see `write_openvino` for why not from TensorFlow directly): `model.xml` and
`model.bin`, `images` uint8 `[B, H, W, 3]` of any size in, `class_ids` out (and `probabilities`
when asked for), fc6 a plain convolution (`keras_fcn.export.graphs` says why).

float32 and bfloat16 share the same IR with float32 weights: OpenVINO chooses the precision it
computes in when it compiles the model, from the `INFERENCE_PRECISION_HINT` property. Its default on
a CPU with AVX512_BF16 or AMX is bfloat16, which is why a float32 IR run with default settings is
twice as fast there as float32. The loader (`keras_fcn.export.runtimes.openvino_function`) sets the
hint of the export's precision (`INFERENCE_PRECISION_HINTS` there); OpenVINO Model Server takes it
as `"plugin_config": {"INFERENCE_PRECISION_HINT": "bf16"}`. int8 is NNCF's post-training
quantization (`nncf.quantize`) calibrated on the user's images: convolutions and matrix products run
on int8 (VNNI) and the rest in OpenVINO's default precision. With `min_agreement`, it is NNCF's
accuracy-controlled quantization instead (`nncf.quantize_with_accuracy_control`): the layers whose
int8 costs the most agreement with float32 go back to float, one at a time, until the class ids
agree with float32's on that fraction of the calibration images' pixels.
"""

import os
import tempfile
from collections.abc import Sequence

import keras
import numpy as np

from keras_fcn.export.graphs import MATMUL_CONVOLUTIONS
from keras_fcn.export.layout import (
    ARTEFACTS,
    CLASS_IDS_OUTPUT,
    DEFAULT_OUTPUTS,
    IMAGES_INPUT,
    ExportInfo,
    check_outputs,
)
from keras_fcn.export.onnx import ARTEFACT as ONNX_ARTEFACT
from keras_fcn.export.onnx import write_onnx
from keras_fcn.export.precision import CalibrationProgress, check_calibration
from keras_fcn.export.runtimes import compile_openvino, require
from keras_fcn.export.segmenter import check_model

PRECISIONS = ("float32", "bfloat16", "int8")
"""Precisions of an OpenVINO export."""

ARTEFACT = ARTEFACTS["openvino"]
"""File name of the model's graph in the version directory; the weights are `model.bin`."""


def write_openvino(
    model: keras.Model,
    directory: str,
    precision: str = "float32",
    calibration: Sequence[np.ndarray] | None = None,
    min_agreement: float | None = None,
    outputs: Sequence[str] = DEFAULT_OUTPUTS,
    *,
    matmul_convolutions: bool = MATMUL_CONVOLUTIONS["openvino"],
) -> ExportInfo:
    """Writes `model` as `model.xml` and `model.bin` into `directory`.

    Args:
        model, directory, outputs: as `keras_fcn.export.onnx.write_onnx`.
        precision: `"float32"`, `"bfloat16"` (the same IR, run with the bf16 hint) or `"int8"`.
        calibration: for int8, the uint8 `(H, W, 3)` images to calibrate on
            (`keras_fcn.export.calibration_images`); each pass over them is shown on stderr.
        min_agreement: for int8, the fraction of the calibration images' pixels whose class
            must stay float32's; layers go back to float until it does (slower to export, and
            the int8 model runs slower the more layers it keeps in float). `None` quantizes
            every convolution.
        matmul_convolutions: keep fc6 as `MatmulConv2D`'s matrix product instead of the
            convolution OpenVINO runs faster (`keras_fcn.export.graphs`; for comparisons).

    Returns:
        The `ExportInfo` of the IR (not written: the caller writes it).

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> write_openvino(model, ".", precision="bfloat16").artefact
    'model.xml'
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"An OpenVINO export can be {', '.join(PRECISIONS)}, received precision={precision!r}."
        )
    check_calibration(precision, calibration)
    if min_agreement is not None and (precision != "int8" or not 0 < min_agreement <= 1):
        raise ValueError(
            "min_agreement is a fraction in (0, 1] for an int8 export, received "
            f"min_agreement={min_agreement!r} with precision={precision!r}."
        )
    outputs = check_outputs(outputs)
    check_model(model)
    ov = require("openvino")
    with tempfile.TemporaryDirectory() as scratch:
        # Converted from the ONNX export, not from the traced TensorFlow function as Keras'
        # model.export(format="openvino") does: OpenVINO 2026.4's TensorFlow front end fuses a
        # constant Pad into the "same" convolution after it and loses that convolution's own
        # padding (the original geometry's pad100 + conv1_1 came out 2 pixels short, and the
        # class ids wrong), while its ONNX front end converts the same net exactly.
        write_onnx(model, scratch, outputs=outputs, matmul_convolutions=matmul_convolutions)
        converted = ov.convert_model(os.path.join(scratch, ONNX_ARTEFACT))
        if precision == "int8":
            converted = _quantize(converted, calibration, min_agreement)
        ov.save_model(converted, os.path.join(directory, ARTEFACT), compress_to_fp16=False)
        del converted
    return ExportInfo(
        "openvino",
        precision,
        ARTEFACT,
        num_classes=int(model.outputs[0].shape[-1]),
        runtime={"openvino": ov.get_version()},
        calibration_images=len(calibration) if precision == "int8" else None,
        min_agreement=min_agreement,
        outputs=outputs,
    )


def _quantize(converted, calibration: Sequence[np.ndarray], min_agreement: float | None):
    """NNCF's int8 quantization of an OpenVINO model, accuracy-controlled with `min_agreement`.

    NNCF measures the drop from the float model as OpenVINO runs it by default, which is what
    the int8 model's float layers run in (bfloat16 on CPUs with AVX512_BF16 or AMX), so the
    drop allowed is that model's agreement with float32 less `min_agreement`.
    """
    nncf = require("nncf")
    dataset = nncf.Dataset(
        CalibrationProgress([{IMAGES_INPUT: image[None]} for image in calibration])
    )
    if min_agreement is None:
        return nncf.quantize(converted, dataset, subset_size=len(calibration))
    float32 = compile_openvino(converted, "float32")
    output = float32.output(CLASS_IDS_OUTPUT)
    pairs = [(image, float32({IMAGES_INPUT: image[None]})[output]) for image in calibration]

    def agreement(compiled, validation_pairs) -> float:
        output = compiled.output(CLASS_IDS_OUTPUT)
        return float(
            np.mean(
                [
                    np.mean(compiled({IMAGES_INPUT: image[None]})[output] == ids)
                    for image, ids in validation_pairs
                ]
            )
        )

    unquantized = agreement(compile_openvino(converted, None), pairs)
    if unquantized < min_agreement:
        raise ValueError(
            f"The float model itself, as OpenVINO runs it by default, agrees with float32 on "
            f"{unquantized:.4f} of the calibration images' pixels, under min_agreement="
            f"{min_agreement}: no int8 model can reach it."
        )
    return nncf.quantize_with_accuracy_control(
        converted,
        dataset,
        nncf.Dataset(pairs),
        validation_fn=agreement,
        max_drop=unquantized - min_agreement,
        drop_type=nncf.DropType.ABSOLUTE,
        subset_size=len(calibration),
    )
