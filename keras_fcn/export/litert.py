"""LiteRT (TensorFlow Lite) export, for phones and edge devices, in float32 or full-integer int8.

The model is `keras_fcn.export.segmenter`'s wrapper written by Keras' own
`model.export(format="litert")` (the TFLite converter) with TFLite's built-in operators only, so
that the plain LiteRT interpreter (and its XNNPACK delegate) runs it without the TensorFlow
("Flex") operators: `images` uint8 `[B, H, W, 3]` in, `class_ids` int32 `[B, H, W]` out, and
`probabilities` float32 when asked for.

A LiteRT export takes **one input size**, `input_size=(height, width)`: with a dynamic size the
converter cannot give the first convolution a known number of input channels (the padding to a
multiple of 32 has a computed amount) and leaves it to TensorFlow's kernels, and mobile runtimes
plan their memory for one shape anyway. Resize or pad images to that size before calling it.
int8 is the converter's full-integer quantization (`representative_dataset`, int8 operators
only) calibrated on the user's images, resized to the input size.
"""

import importlib.metadata
import os
from collections.abc import Iterable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_fcn.export.graphs import MATMUL_CONVOLUTIONS
from keras_fcn.export.layout import (
    ARTEFACTS,
    DEFAULT_OUTPUTS,
    ExportInfo,
    check_outputs,
)
from keras_fcn.export.precision import CalibrationProgress, check_calibration, to_uint8_image
from keras_fcn.export.runtimes import require
from keras_fcn.export.segmenter import (
    check_model,
    input_signature,
    segmenter,
)

PRECISIONS = ("float32", "int8")
"""Precisions of a LiteRT export (TFLite has no bfloat16 kernels)."""

ARTEFACT = ARTEFACTS["litert"]
"""File name of the model in the version directory."""


def check_input_size(input_size) -> tuple[int, int]:
    """Returns `input_size` as `(height, width)`, or raises a `ValueError` saying what is wrong.

    Example:

    >>> check_input_size([512, 384])
    (512, 384)
    """
    if (
        input_size is None
        or len(input_size) != 2
        or not all(isinstance(side, int | np.integer) and side > 0 for side in input_size)
    ):
        raise ValueError(
            "A LiteRT export takes one input size: pass input_size=(height, width) (on the "
            f"command line --input-size HEIGHT WIDTH), received {input_size!r}."
        )
    return int(input_size[0]), int(input_size[1])


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes a uint8 `(H, W, 3)` image bilinearly to `size`, as uint8.

    Example:

    >>> resize_image(np.zeros((20, 30, 3), "uint8"), (8, 12)).shape
    (8, 12, 3)
    """
    if tuple(image.shape[:2]) == tuple(size):
        return image
    resized = tf.image.resize(image, size, method="bilinear")
    return np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)


def resized_examples(dataset: Iterable, size: tuple[int, int]) -> Iterator[tuple]:
    """`(image, label)` pairs resized to a LiteRT export's size: images bilinear, labels nearest.

    Args:
        dataset: `(image, label)` pairs or batches of them (see `keras_fcn.export.check_agreement`).
        size: `(height, width)`.

    Yields:
        uint8 `(height, width, 3)` images and int32 `(height, width)` labels.

    Example:

    >>> pairs = [(np.zeros((20, 30, 3), "uint8"), np.ones((20, 30), "int32"))]
    >>> image, label = next(resized_examples(pairs, (8, 12)))
    >>> image.shape, label.shape, int(label.max())
    ((8, 12, 3), (8, 12), 1)
    """
    for element in dataset:
        images, labels = (np.asarray(part) for part in element)
        if images.ndim == 3:
            images, labels = images[None], labels[None]
        for image, label in zip(images, labels, strict=True):
            label = label.reshape(image.shape[:2])
            resized = tf.image.resize(label[..., None], size, method="nearest")[..., 0]
            yield resize_image(to_uint8_image(image), size), resized.numpy().astype(np.int32)


def write_litert(
    model: keras.Model,
    directory: str,
    precision: str = "float32",
    calibration: Sequence[np.ndarray] | None = None,
    input_size: tuple[int, int] | None = None,
    outputs: Sequence[str] = DEFAULT_OUTPUTS,
    *,
    matmul_convolutions: bool = MATMUL_CONVOLUTIONS["litert"],
) -> ExportInfo:
    """Writes `model` as `model.tflite` into `directory`, for one input size.

    Args:
        model: a float32 segmentation model mapping RGB images in [0, 255] to logits, such as
            `keras_fcn.FCN8s`.
        directory: the directory to write into.
        precision: `"float32"` or `"int8"` (full-integer).
        calibration: for int8, uint8 `(H, W, 3)` images to calibrate on; they are resized to
            `input_size`, and the converter's pass over them is shown on stderr.
        input_size: `(height, width)` of the images the export takes.
        outputs: `("class_ids",)`, or `("class_ids", "probabilities")`.
        matmul_convolutions: whether fc6 stays `MatmulConv2D`'s matrix product or becomes a
            plain convolution (`keras_fcn.export.graphs`; for comparisons).

    Returns:
        The `ExportInfo` of the file (not written: the caller writes it).

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> write_litert(model, ".", input_size=(64, 48)).input_size
    (64, 48)
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"A LiteRT export can be {' or '.join(PRECISIONS)}, received precision={precision!r}."
        )
    check_calibration(precision, calibration)
    input_size = check_input_size(input_size)
    outputs = check_outputs(outputs)
    check_model(model)
    options = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if precision == "int8":
        samples = [resize_image(image, input_size)[None] for image in calibration]
        options = {
            "optimizations": [tf.lite.Optimize.DEFAULT],
            "representative_dataset": lambda: ([sample] for sample in CalibrationProgress(samples)),
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
        }
    path = os.path.join(directory, ARTEFACT)
    segmenter(model, input_size, outputs, matmul_convolutions).export(
        path,
        format="litert",
        verbose=False,
        input_signature=input_signature(input_size),
        **options,
    )
    require("ai_edge_litert", "ai-edge-litert")
    return ExportInfo(
        "litert",
        precision,
        ARTEFACT,
        num_classes=int(model.outputs[0].shape[-1]),
        input_size=input_size,
        runtime={"ai-edge-litert": importlib.metadata.version("ai-edge-litert")},
        calibration_images=len(calibration) if precision == "int8" else None,
        outputs=outputs,
    )
