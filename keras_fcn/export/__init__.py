"""Deployment: exports for every serving runtime, in float32, bfloat16 or int8, with a guard.

- `saved_model`: TF Serving SavedModels with three signatures, each weight stored once
  (`export_for_serving`).
- `onnx`, `openvino`, `litert`: the same computation written by Keras' `model.export` for ONNX
  Runtime, OpenVINO and LiteRT; int8 through each runtime's own quantizer.
- `precision`: `bfloat16_model` (in process), `float32_model` (for a mixed-precision model),
  calibration images for int8.
- `guard`: `check_agreement`, the accuracy guard of every non-float32 path.
- `exporter`: `export_model`, every format and precision, guarded before it is published.
- `predictor`: `load_predictor`, any model or export as a function from images to class ids.
- `layout`, `segmenter`, `runtimes`: version directories and `keras_fcn.json`; the exported
  computation (uint8 images → class ids, and probabilities if asked); importing the optional
  runtimes.
- `graphs`: the graph each runtime gets (fc6 as a matrix product or a convolution), measured.

The ONNX, OpenVINO and LiteRT runtimes are optional (`pip install keras-fcn[deploy]`) and
imported only by the formats that use them.
"""

from keras_fcn.export.exporter import FORMAT_PRECISIONS, FORMATS, AccuracyGuard, export_model
from keras_fcn.export.guard import (
    MAX_MIOU_DROP,
    MIN_PIXEL_AGREEMENT,
    AccuracyGuardError,
    AccuracyGuardWarning,
    AgreementReport,
    check_agreement,
)
from keras_fcn.export.layout import ExportInfo
from keras_fcn.export.precision import (
    IN_PROCESS_PRECISIONS,
    PRECISIONS,
    bfloat16_model,
    calibration_images,
    float32_model,
    in_process_model,
)
from keras_fcn.export.predictor import load_predictor, make_predictor, read_export_info
from keras_fcn.export.saved_model import (
    BYTES_INPUT,
    BYTES_SIGNATURE,
    CLASS_IDS_SIGNATURE,
    IMAGES_SIGNATURE,
    SAME_SIZE_MESSAGE,
    export_for_serving,
    find_saved_model,
)
from keras_fcn.export.segmenter import (
    CLASS_IDS_OUTPUT,
    IMAGES_INPUT,
    OUTPUTS,
    PROBABILITIES_OUTPUT,
    segmenter,
)

__all__ = [
    "BYTES_INPUT",
    "BYTES_SIGNATURE",
    "CLASS_IDS_OUTPUT",
    "CLASS_IDS_SIGNATURE",
    "FORMATS",
    "FORMAT_PRECISIONS",
    "IMAGES_INPUT",
    "IMAGES_SIGNATURE",
    "IN_PROCESS_PRECISIONS",
    "MAX_MIOU_DROP",
    "MIN_PIXEL_AGREEMENT",
    "OUTPUTS",
    "PRECISIONS",
    "PROBABILITIES_OUTPUT",
    "SAME_SIZE_MESSAGE",
    "AccuracyGuard",
    "AccuracyGuardError",
    "AccuracyGuardWarning",
    "AgreementReport",
    "ExportInfo",
    "bfloat16_model",
    "calibration_images",
    "check_agreement",
    "export_for_serving",
    "export_model",
    "find_saved_model",
    "float32_model",
    "in_process_model",
    "load_predictor",
    "make_predictor",
    "read_export_info",
    "segmenter",
]
