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
imported only by the formats that use them. Each name is imported from its module on first use,
so `load_predictor` of an ONNX, OpenVINO or LiteRT export imports no TensorFlow.
"""

from keras_fcn.import_hooks import lazy_package

lazy_package(
    __name__,
    {
        "keras_fcn.export.exporter": (
            "FORMAT_PRECISIONS",
            "FORMATS",
            "AccuracyGuard",
            "export_model",
        ),
        "keras_fcn.export.guard": (
            "MAX_MIOU_DROP",
            "MIN_PIXEL_AGREEMENT",
            "AccuracyGuardError",
            "AccuracyGuardWarning",
            "AgreementReport",
            "check_agreement",
        ),
        "keras_fcn.export.layout": (
            "CLASS_IDS_OUTPUT",
            "IMAGES_INPUT",
            "OUTPUTS",
            "PROBABILITIES_OUTPUT",
            "ExportInfo",
        ),
        "keras_fcn.export.precision": (
            "IN_PROCESS_PRECISIONS",
            "PRECISIONS",
            "bfloat16_model",
            "calibration_images",
            "float32_model",
            "in_process_model",
        ),
        "keras_fcn.export.predictor": (
            "load_predictor",
            "make_predictor",
            "read_export_info",
        ),
        "keras_fcn.export.saved_model": (
            "BYTES_INPUT",
            "BYTES_SIGNATURE",
            "CLASS_IDS_SIGNATURE",
            "IMAGES_SIGNATURE",
            "SAME_SIZE_MESSAGE",
            "export_for_serving",
            "find_saved_model",
        ),
        "keras_fcn.export.segmenter": ("segmenter",),
    },
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
