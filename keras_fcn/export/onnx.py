"""ONNX export, for ONNX Runtime (and Triton, or any ONNX runtime), in float32 or int8.

The model is `keras_fcn.export.segmenter`'s wrapper converted by tf2onnx, as Keras'
`model.export(format="onnx")` does, but with the weights kept out of the converted graph (see
`_write_float32`): `images` uint8 `[B, H, W, 3]` of any size in, `class_ids` int32 `[B, H, W]`
out, and `probabilities` float32 `[B, H, W, num_classes]` when asked for. fc6 stays one matrix
product in this graph (`keras_fcn.export.graphs` says why). int8 is ONNX Runtime's own static
post-training quantization (`quantize_onnx`): weights int8 per output channel, activations
uint8, in the QDQ format, calibrated on the user's images. ONNX Runtime's CPU provider has no
bfloat16 convolutions: for bfloat16, export to OpenVINO.
"""

import os
import tempfile
import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_fcn.export.graphs import MATMUL_CONVOLUTIONS
from keras_fcn.export.layout import (
    ARTEFACTS,
    DEFAULT_OUTPUTS,
    IMAGES_INPUT,
    ExportInfo,
    check_outputs,
)
from keras_fcn.export.precision import CalibrationProgress, check_calibration
from keras_fcn.export.runtimes import require
from keras_fcn.export.segmenter import (
    check_model,
    input_signature,
    segmenter,
)

PRECISIONS = ("float32", "int8")
"""Precisions of an ONNX export."""

ARTEFACT = ARTEFACTS["onnx"]
"""File name of the model in the version directory (Triton's and OpenVINO Model Server's)."""


def _write_float32(
    model: keras.Model, path: str, outputs: Sequence[str], matmul_convolutions: bool
) -> None:
    """Writes the segmenter of `model` as a float32 ONNX file, weights stored as initializers.

    Keras' `model.export(format="onnx")` hands tf2onnx a function whose weights are frozen
    into constants; tf2onnx then copies them through TensorFlow's graph optimiser and again at
    every pass of its own optimisers, about 50 times the weights' size in all: 17 GB were not
    enough for FCN-8s's 0.54 GB (the process was killed). Here the weights are inputs of the
    converted function instead, so the graph tf2onnx handles holds no large constant; they
    become the ONNX graph's initializers afterwards, and ONNX Runtime's basic (hardware-
    independent) graph optimisations fold them into the layout its operators take, once.
    """
    onnx_module = require("onnx")
    tf2onnx = require("tf2onnx")
    runtime = require("onnxruntime")
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    with warnings.catch_warnings():  # the patch's test for np.object warns on numpy 2
        warnings.filterwarnings("ignore", "In the future `np.object`", FutureWarning)
        patch_tf2onnx()  # as Keras' own export does: tf2onnx 1.17 predates numpy 2
    wrapper = segmenter(model, outputs=outputs, matmul_convolutions=matmul_convolutions)
    trainable, frozen = wrapper.trainable_variables, wrapper.non_trainable_variables
    weights = {f"weight_{index}": variable for index, variable in enumerate(trainable + frozen)}
    specs = [tf.TensorSpec(v.shape, v.dtype, name=name) for name, v in weights.items()]

    def forward(images, *values):
        outputs, _ = wrapper.stateless_call(
            values[: len(trainable)], values[len(trainable) :], images, training=False
        )
        return outputs

    signature = [*input_signature(), *specs]
    proto, _ = tf2onnx.convert.from_function(tf.function(forward), signature)
    graph = proto.graph
    used = {name for node in graph.node for name in node.input}
    for graph_input in list(graph.input):
        if graph_input.name not in weights:
            continue
        graph.input.remove(graph_input)
        if graph_input.name in used:  # dropout's seed state, for one, is not
            value = keras.ops.convert_to_numpy(weights[graph_input.name])
            graph.initializer.append(onnx_module.numpy_helper.from_array(value, graph_input.name))
    with tempfile.TemporaryDirectory() as scratch:
        unfolded = os.path.join(scratch, "unfolded.onnx")
        onnx_module.save(proto, unfolded)
        del proto, graph
        options = runtime.SessionOptions()
        options.graph_optimization_level = runtime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = path
        options.log_severity_level = 3  # errors only
        runtime.InferenceSession(unfolded, options, providers=["CPUExecutionProvider"])


def quantize_onnx(float_path: str, path: str, calibration: Sequence[np.ndarray]) -> None:
    """Quantizes a float32 ONNX export to int8 with ONNX Runtime's static quantization.

    Weights become int8 per output channel, activations uint8 per tensor (the pairing ONNX
    Runtime runs fastest on x86 with VNNI), in the QDQ format; the activation ranges are the
    min-max over the calibration images.

    Args:
        float_path: the float32 `.onnx` file (`write_onnx`).
        path: the int8 `.onnx` file to write.
        calibration: uint8 `(H, W, 3)` images from the user's data.
    """
    quantization = require("onnxruntime.quantization", "onnxruntime")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.images = iter(CalibrationProgress(calibration))

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {IMAGES_INPUT: image[None]}

    with tempfile.TemporaryDirectory() as scratch:
        # Shape inference and graph optimisation first, as the tool's documentation asks.
        prepared = os.path.join(scratch, "prepared.onnx")
        # Symbolic shape inference gives up on the computed padding of dynamic sizes; ONNX's
        # own shape inference and ORT's graph optimisation are what quantization needs.
        quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
        quantization.quantize_static(
            prepared,
            path,
            Reader(),
            quant_format=quantization.QuantFormat.QDQ,
            per_channel=True,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
        )


def _check_convertible(model: keras.Model) -> None:
    """Raises a `ValueError` naming the layers tf2onnx cannot convert: grouped convolutions.

    Keras runs a `Conv2D` with `groups > 1` on TensorFlow's CPU as an XLA-compiled function,
    which tf2onnx 1.17 leaves as an unsupported `PartitionedCall` (FCN-AlexNet's conv2, conv4
    and conv5). The SavedModel and LiteRT exports convert them.
    """
    grouped = [
        layer.name
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.Conv2D) and layer.groups > 1
    ]
    if grouped:
        raise ValueError(
            f"The model {model.name!r} has grouped convolutions ({', '.join(grouped)}), which "
            "tf2onnx cannot convert (Keras runs them as an XLA-compiled function on TensorFlow): "
            "it has no ONNX or OpenVINO export. Export it as a saved_model or for litert."
        )


def write_onnx(
    model: keras.Model,
    directory: str,
    precision: str = "float32",
    calibration: Sequence[np.ndarray] | None = None,
    outputs: Sequence[str] = DEFAULT_OUTPUTS,
    *,
    matmul_convolutions: bool = MATMUL_CONVOLUTIONS["onnx"],
) -> ExportInfo:
    """Writes `model` as `model.onnx` into `directory`, in float32 or int8.

    Args:
        model: a float32 segmentation model mapping RGB images in [0, 255] of any size to
            logits, such as `keras_fcn.FCN8s`.
        directory: the directory to write into.
        precision: `"float32"` or `"int8"`.
        calibration: for int8, the uint8 `(H, W, 3)` images to calibrate the activations' ranges
            on (`keras_fcn.export.calibration_images`); its progress is shown on stderr.
        outputs: `("class_ids",)`, or `("class_ids", "probabilities")`.
        matmul_convolutions: keep fc6 as `MatmulConv2D`'s matrix product, as ONNX Runtime runs
            it fastest, or write the plain convolution, as OpenVINO does
            (`keras_fcn.export.graphs`).

    Returns:
        The `ExportInfo` of the file (not written: the caller writes it).

    Raises:
        ValueError: for a model with grouped convolutions (FCN-AlexNet), which tf2onnx cannot
            convert.

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> write_onnx(model, ".").artefact
    'model.onnx'
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"An ONNX export can be {' or '.join(PRECISIONS)}, received precision={precision!r}"
            + (
                ": ONNX Runtime's CPU provider has no bfloat16 convolutions; export to openvino "
                "for bfloat16."
                if precision == "bfloat16"
                else "."
            )
        )
    check_calibration(precision, calibration)
    outputs = check_outputs(outputs)
    check_model(model)
    _check_convertible(model)
    path = os.path.join(directory, ARTEFACT)
    if precision == "float32":
        _write_float32(model, path, outputs, matmul_convolutions)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            float_path = os.path.join(scratch, ARTEFACT)
            _write_float32(model, float_path, outputs, matmul_convolutions)
            quantize_onnx(float_path, path, calibration)
    runtime = require("onnxruntime")
    return ExportInfo(
        "onnx",
        precision,
        ARTEFACT,
        num_classes=int(model.outputs[0].shape[-1]),
        runtime={"onnxruntime": runtime.__version__},
        calibration_images=len(calibration) if precision == "int8" else None,
        outputs=outputs,
    )
