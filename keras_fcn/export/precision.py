"""Inference precisions: float32, bfloat16 in process, and the images int8 is calibrated on.

bfloat16 keeps float32's exponent range with an 8-bit significand; CPUs with AVX512_BF16 or AMX
(and TPUs) multiply it at twice the float32 rate or more. `bfloat16_model` copies a float32
model into one whose layers compute and store their weights in bfloat16, except the layers that
produce the model's outputs, so that logits stay float32 (the models of `keras_fcn.registry`
crop their scores to the input size in a float32 layer, `score`). int8 needs the range of every
activation, measured on a few representative images: `calibration_images` takes them from the
user's data.
"""

import sys
from collections.abc import Iterable, Iterator, Sequence

import keras
import numpy as np

from keras_fcn.inference import inference_copy, without_auxiliary_head
from keras_fcn.progress import Progress

PRECISIONS = ("float32", "bfloat16", "int8")
"""Precisions a model can be exported or run in (not every format takes every one)."""

IN_PROCESS_PRECISIONS = ("float32", "bfloat16")
"""Precisions a Keras model runs in, in process (`in_process_model`)."""


def _copy_with_dtype(model: keras.Model, dtype: str, layers_to_keep: set[int]) -> keras.Model:
    """Copies a functional model, giving every layer but the inputs and `layers_to_keep` (ids)
    the dtype policy `dtype`, with the weights cast to the new layers' variable dtype."""
    if not isinstance(model, keras.Model) or not getattr(model, "outputs", None):
        raise TypeError(
            "Only a functional or Sequential keras.Model with known inputs can be copied to "
            f"another precision, received {type(model).__name__}."
        )

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if id(layer) not in layers_to_keep:
            config["dtype"] = dtype
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone_layer)
    for target, source in zip(copy.weights, model.weights, strict=True):
        target.assign(keras.ops.cast(source, target.dtype))
    return copy


def bfloat16_model(model: keras.Model) -> keras.Model:
    """Copies a float32 functional model into one that computes in bfloat16.

    Every layer but the inputs and the layers producing the model's outputs gets the dtype policy
    `"bfloat16"`: weights are stored in bfloat16 (cast once here, rather than at every call as
    `mixed_bfloat16` does, which costs a pass over the 0.5 GB of fc6/fc7 per image) and the
    computation runs in bfloat16. The output layers keep their float32 policy, so the model
    still returns float32 logits. The weights are copied and rounded to bfloat16 (7 bits of
    significand); the result agrees with the float32 model as bfloat16 rounding allows.

    Args:
        model: a functional (or Sequential) float32 model.

    Returns:
        A new model with the same layers, names and (rounded) weights.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> fast = bfloat16_model(model)
    >>> fast.get_layer("fc6").kernel.dtype, fast(np.zeros((1, 37, 53, 3))).dtype
    ('bfloat16', tf.float32)
    """
    outputs = getattr(model, "outputs", None) or []
    output_layers = {id(tensor._keras_history.operation) for tensor in outputs}
    return _copy_with_dtype(model, "bfloat16", output_layers)


def float32_model(model: keras.Model) -> keras.Model:
    """The model computing in float32: itself if every layer does, else a float32 copy.

    A model trained under `mixed_bfloat16` (or `mixed_float16`) keeps that policy in its layers
    and in its `.keras` file, so it would compute in 16 bits where float32 is asked for: in a
    float32 export, in the reference an accuracy guard compares with, or in a LiteRT export,
    whose converter has no bfloat16 kernels. The copy has float32 policies and the same
    (float32) weights.

    Args:
        model: a functional (or Sequential) model.

    Returns:
        `model`, or a copy whose every layer has the `"float32"` policy.

    Example:

    >>> keras.config.set_dtype_policy("mixed_bfloat16")
    >>> mixed = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> keras.config.set_dtype_policy("float32")
    >>> mixed.get_layer("fc6").compute_dtype, float32_model(mixed).get_layer("fc6").compute_dtype
    ('bfloat16', 'float32')
    """
    if all(
        layer.dtype_policy.compute_dtype == "float32"
        and layer.dtype_policy.variable_dtype == "float32"
        for layer in model._flatten_layers(include_self=False)
    ):
        return model
    return _copy_with_dtype(model, "float32", set())


def in_process_model(model: keras.Model, precision: str) -> keras.Model:
    """The model to run in process in a precision: float32 (itself, or a float32 copy of a
    mixed-precision model), or a bfloat16 copy, of its inference copy (batch normalization
    folded into its convolutions: `keras_fcn.inference.inference_copy`, its ResNet stages on
    phases in float32 only, where they were measured faster) without its auxiliary
    head (`keras_fcn.inference.without_auxiliary_head`).

    Args:
        model: a functional model.
        precision: one of `IN_PROCESS_PRECISIONS`.

    Returns:
        The folded `float32_model(model)` (`model` itself when it is float32 and has nothing to
        fold), or its `bfloat16_model`.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> in_process_model(model, "float32") is model
    True
    """
    if precision not in IN_PROCESS_PRECISIONS:
        raise ValueError(
            f"A Keras model runs in process in {' or '.join(IN_PROCESS_PRECISIONS)}, received "
            f"precision={precision!r}. For int8, export it (openvino, onnx or litert) and load "
            "the export."
        )
    float32 = precision == "float32"
    model = inference_copy(float32_model(without_auxiliary_head(model)), phases=float32)
    return model if float32 else bfloat16_model(model)


def to_uint8_image(image) -> np.ndarray:
    """An RGB image as a uint8 `(H, W, 3)` array; float values in [0, 255] are rounded.

    Example:

    >>> to_uint8_image(np.full((2, 2, 3), 254.6)).dtype
    dtype('uint8')
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"Expected an RGB image of shape (H, W, 3), received {image.shape}.")
    if image.dtype == np.uint8:
        return image
    if not np.issubdtype(image.dtype, np.number):
        raise TypeError(f"Expected a numeric RGB image, received dtype {image.dtype}.")
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def unbatched_images(dataset: Iterable) -> Iterable[np.ndarray]:
    """Yields the images of a dataset one at a time as uint8 `(H, W, 3)` arrays.

    Args:
        dataset: a `tf.data.Dataset` or other iterable of images or of `(image, label)` pairs,
            each image `(H, W, 3)` or a batch `(B, H, W, 3)`, uint8 or float in [0, 255] (what
            the sources of `keras_fcn.data` yield).

    Yields:
        uint8 `(H, W, 3)` arrays.
    """
    for element in dataset:
        image = element[0] if isinstance(element, tuple | list) else element
        image = np.asarray(image)
        for single in image if image.ndim == 4 else [image]:
            yield to_uint8_image(single)


def calibration_images(dataset: Iterable, size: int) -> list[np.ndarray]:
    """Takes the first `size` images of a dataset, to calibrate int8 quantization on.

    Quantization measures the range of every activation on these images, so they should look
    like the images the model will serve: take them from the training or validation data.
    A few hundred are typical (NNCF's default is 300); a few dozen already give stable ranges
    for FCN's activations.

    Args:
        dataset: images or `(image, label)` pairs (see `unbatched_images`).
        size: how many images to take.

    Returns:
        `size` uint8 `(H, W, 3)` arrays (fewer when the dataset is shorter, never none).

    Example:

    >>> images = [np.zeros((8, 8, 3), "uint8")] * 5
    >>> len(calibration_images(images, size=3))
    3
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"The calibration size must be a positive integer, received {size!r}.")
    images = []
    for image in unbatched_images(dataset):
        images.append(image)
        if len(images) == size:
            break
    if not images:
        raise ValueError("The calibration dataset holds no image.")
    return images


def check_calibration(precision: str, calibration: Sequence[np.ndarray] | None) -> None:
    """Raises a `ValueError` when int8 is asked for without calibration images.

    Example:

    >>> check_calibration("float32", None)
    """
    if precision == "int8" and not calibration:
        raise ValueError(
            "int8 needs calibration images from your data: pass "
            "calibration=keras_fcn.export.calibration_images(dataset, size) (on the command "
            "line, --calibration-dataset SPEC)."
        )


class CalibrationProgress:
    """The calibration images, iterable as often as a quantizer likes, each pass shown on stderr.

    A quantizer runs the model over every calibration image, which takes minutes for a few
    hundred images of a large net: each pass over them shows a `keras_fcn.progress.Progress`
    (a bar in a terminal, a line per tenth elsewhere), counting an image when the quantizer
    takes it: NNCF takes as many as it needs and never asks for the next, so an image cannot
    be counted once it is done.

    Args:
        images: the calibration images (or anything the quantizer takes, one per image).
        label: what is being done, starting each progress line.

    Example:

    >>> images = [np.zeros((8, 8, 3), "uint8")] * 2
    >>> len(list(CalibrationProgress(images)))  # writes two lines to stderr
    2
    """

    def __init__(self, images: Sequence, label: str = "calibrate int8"):
        self.images = images
        self.label = label

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator:
        progress = Progress(len(self.images), self.label, unit="images", stream=sys.stderr)
        for image in self.images:
            progress.add()
            yield image
