"""TensorFlow Serving SavedModels: three signatures, each weight stored once.

`export_for_serving` writes `export_dir/<version>/`, the layout TF Serving watches, holding a
SavedModel that TensorFlow alone can load and run (no `keras_fcn`, no Keras, no custom ops):
decoding, preprocessing, the network, softmax and argmax are all in its graph.
`saved_model_function` loads one back as the function behind its `serve_images` signature.

Keras' own `model.export(format="tf_saved_model")` is not used: it stores every variable twice
(keras-team/keras#23553) and has one signature, on decoded images only.
"""

import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from keras_fcn.backends import require_tensorflow
from keras_fcn.export.layout import (
    CLASS_IDS_OUTPUT,
    IMAGES_INPUT,
    PROBABILITIES_OUTPUT,
    ExportInfo,
    find_version,
    staged_version,
)
from keras_fcn.export.precision import in_process_model
from keras_fcn.export.segmenter import check_model

BYTES_SIGNATURE = "serving_default"
"""Signature taking encoded images; TF Serving's default, so requests need not name it."""

IMAGES_SIGNATURE = "serve_images"
"""Signature taking decoded uint8 images."""

CLASS_IDS_SIGNATURE = "serve_class_ids"
"""Signature taking encoded images and returning class ids only: the small REST response."""

BYTES_INPUT = "image_bytes"
"""Input of `BYTES_SIGNATURE`: a `[B]` string tensor of encoded JPEG, PNG, GIF or BMP images.
(`IMAGES_SIGNATURE` takes `IMAGES_INPUT`; the outputs are `CLASS_IDS_OUTPUT` and
`PROBABILITIES_OUTPUT`, as every format's, see `keras_fcn.export.segmenter`.)"""

PRECISIONS = ("float32", "bfloat16")
"""Precisions a SavedModel is exported in: TensorFlow has no int8 CPU inference path for it."""

SAME_SIZE_MESSAGE = (
    f"{BYTES_INPUT}: all images of one request must have the same height and width; "
    "send images of other sizes in separate requests"
)
"""Error message of `BYTES_SIGNATURE` for a request whose images differ in size."""


def _segment(
    model: keras.Model, images: tf.Tensor, probabilities: bool = True
) -> dict[str, tf.Tensor]:
    """Runs the model on uint8 images; returns the class ids, and the probabilities if asked."""
    logits = tf.cast(model(tf.cast(images, tf.float32), training=False), tf.float32)
    outputs = {CLASS_IDS_OUTPUT: tf.argmax(logits, axis=-1, output_type=tf.int32)}
    if probabilities:
        outputs[PROBABILITIES_OUTPUT] = tf.nn.softmax(logits, axis=-1)
    return outputs


def _decode(image_bytes: tf.Tensor) -> tf.Tensor:
    """Decodes one encoded image to `[H, W, 3]` uint8 RGB (the first frame of an animated GIF).

    JPEGs are decoded with the accurate integer IDCT, as `keras_fcn.data` and PIL decode them:
    TensorFlow's default, the fast one, differs by several grey levels near edges, which would
    make served inputs differ from training inputs. Grayscale is repeated to RGB, alpha dropped.
    """
    return tf.cond(
        tf.io.is_jpeg(image_bytes),
        lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
    )


def _decode_batch(image_bytes: tf.Tensor) -> tf.Tensor:
    """Decodes `[B]` encoded images of one size into `[B, H, W, 3]` uint8.

    Images of other sizes cannot form one batch, and padding them would change the scores near
    their borders (the network sees the padding), so a request mixing sizes fails with an
    `InvalidArgumentError` that says so.
    """
    not_empty = tf.debugging.assert_positive(
        tf.size(image_bytes), message=f"{BYTES_INPUT}: the request holds no image"
    )
    # The check must run before the first image is taken, or the slice fails first.
    with tf.control_dependencies([not_empty]):
        first_shape = tf.shape(_decode(image_bytes[0]))

    def decode_same_size(encoded: tf.Tensor) -> tf.Tensor:
        image = _decode(encoded)
        tf.debugging.assert_equal(tf.shape(image), first_shape, message=SAME_SIZE_MESSAGE)
        return image

    return tf.map_fn(
        decode_same_size,
        image_bytes,
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
    )


def _serving_module(model: keras.Model) -> tf.Module:
    """A `tf.Module` holding the serving functions and, once each, the variables they use.

    The module keeps the variables the traced functions capture rather than the Keras model
    itself: tracking the model as well would store every variable twice (keras-team/keras#23553).
    Inputs have `None` height, width and batch, so each function is traced once, for all sizes.
    """

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, IMAGES_INPUT)])
    def serve_images(images):
        return _segment(model, images)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, BYTES_INPUT)])
    def serve_image_bytes(image_bytes):
        return _segment(model, _decode_batch(image_bytes))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, BYTES_INPUT)])
    def serve_class_ids(image_bytes):
        return _segment(model, _decode_batch(image_bytes), probabilities=False)

    module = tf.Module()
    module.serve_images = serve_images
    module.serve_image_bytes = serve_image_bytes
    module.serve_class_ids = serve_class_ids
    captured = {}
    for function in (serve_images, serve_image_bytes, serve_class_ids):
        for variable in function.get_concrete_function().variables:
            captured.setdefault(id(variable), variable)
    module.model_variables = list(captured.values())
    return module


def write_saved_model(model: keras.Model, directory: str, precision: str = "float32") -> ExportInfo:
    """Writes `model` as a SavedModel with the three serving signatures into `directory`.

    See `export_for_serving` for the signatures; this writes the SavedModel itself, without
    the version directory around it.

    Args:
        model: a float32 segmentation model (see `export_for_serving`).
        directory: an empty directory to write into.
        precision: `"float32"`, or `"bfloat16"` for a SavedModel that computes in bfloat16
            (weights stored in bfloat16, logits and probabilities float32; fast on CPUs with
            AVX512_BF16 or AMX, and on TPUs).

    Returns:
        The `ExportInfo` of the SavedModel (not written: the caller writes it).
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"A SavedModel can be exported in {' or '.join(PRECISIONS)}, received "
            f"precision={precision!r}. For int8, export to openvino, onnx or litert."
        )
    check_model(model)
    module = _serving_module(in_process_model(model, precision))
    tf.saved_model.save(
        module,
        directory,
        signatures={
            BYTES_SIGNATURE: module.serve_image_bytes.get_concrete_function(),
            IMAGES_SIGNATURE: module.serve_images.get_concrete_function(),
            CLASS_IDS_SIGNATURE: module.serve_class_ids.get_concrete_function(),
        },
    )
    return ExportInfo(
        "saved_model",
        precision,
        artefact=".",
        num_classes=int(model.outputs[0].shape[-1]),
        runtime={"tensorflow": tf.__version__},
    )


def export_for_serving(
    model: keras.Model, export_dir: str, version: int = 1, overwrite: bool = False
) -> str:
    """Writes `model` as a TF Serving SavedModel in `export_dir/<version>/`.

    The SavedModel has three signatures, all returning `class_ids` (int32 `[B, H, W]`), the
    first two also `probabilities` (float32 `[B, H, W, num_classes]`):

    - `serving_default` takes `image_bytes`, a `[B]` string tensor of encoded JPEG, PNG, GIF
      (first frame) or BMP images, decoded to RGB in the graph. This is what TF Serving's REST
      API fills from `{"instances": [{"b64": "..."}]}`. All images of one request must share a
      height and width (one batch, one forward pass); a request mixing sizes fails with an
      `InvalidArgumentError` saying so. Padding them to a common size instead would change the
      scores near their borders.
    - `serve_images` takes `images`, uint8 RGB `[B, H, W, 3]`.
    - `serve_class_ids` takes `image_bytes` like `serving_default` and returns `class_ids` only.
      TF Serving's REST API writes every output of a signature as JSON, and the probabilities
      are `num_classes` floats per pixel: for a 500×375 image and 21 classes, tens of
      megabytes that take longer to encode and parse than the network takes to run. REST
      clients that want the segmentation only should name this signature
      (`"signature_name": "serve_class_ids"`); gRPC clients can use `output_filter` instead.

    Height and width may be anything: the functions are traced once with `None` dimensions and
    never retraced. They are not XLA-compiled, since XLA would compile again for every new image
    size. Preprocessing is part of the model, so the SavedModel takes raw pixels, and it loads
    with TensorFlow alone (`tf.saved_model.load`, `saved_model_cli`, TF Serving). Each variable
    is stored once (Keras' `model.export` currently stores each twice, keras-team/keras#23553),
    so `variables/` takes about 4 bytes per parameter.

    The version is written to a hidden temporary folder first and then renamed, so a server
    watching `export_dir` never sees a half-written version (an overwritten one is swapped in
    the same way).

    Args:
        model: a model mapping `(B, H, W, 3)` RGB images of any size, with values in
            [0, 255], to `(B, H, W, num_classes)` logits, such as `keras_fcn.FCN8s`.
        export_dir: the model's base directory, e.g. `saved_models/NAME`; created if missing.
        version: the version number, the name of the subdirectory TF Serving loads. TF Serving
            serves the highest version by default.
        overwrite: whether to replace an existing version; otherwise an existing version raises
            a `FileExistsError`.

    Returns:
        The path of the version directory written.

    Raises:
        RuntimeError: on a Keras backend other than TensorFlow (a SavedModel is TensorFlow's
            graph); export from a process started with `KERAS_BACKEND=tensorflow`, after
            saving the model as a `.keras` file on the other backend.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> export_for_serving(model, "saved_models/demo", version=1)
    'saved_models/demo/1'
    """
    require_tensorflow("keras_fcn.export.export_for_serving")
    check_model(model)
    with staged_version(export_dir, version, overwrite) as staging:
        write_saved_model(model, staging).write(staging)
    return os.path.join(export_dir, str(version))


def find_saved_model(path: str) -> str:
    """Returns the SavedModel directory at `path`, or its highest numbered version.

    Accepts a SavedModel directory itself (`saved_models/NAME/3`) or a TF Serving base
    directory holding numbered versions (`saved_models/NAME`), where it picks the highest
    version, as TF Serving does.

    Args:
        path: a SavedModel directory or a directory of numbered versions.

    Returns:
        The path of the SavedModel directory.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> for version in (1, 2):
    ...     _ = export_for_serving(model, "saved_models/demo", version=version)
    >>> find_saved_model("saved_models/demo")
    'saved_models/demo/2'
    """
    return find_version(path, tf.saved_model.contains_saved_model, "a SavedModel")


def saved_model_function(path: str) -> Callable[[np.ndarray], np.ndarray]:
    """Loads a SavedModel of `export_for_serving` as a function from images to class ids.

    The SavedModel is loaded with TensorFlow alone and runs its `serve_images` signature.

    Args:
        path: a SavedModel directory, or a directory of numbered versions (the highest is
            loaded).

    Returns:
        A function from uint8 images `(B, H, W, 3)` to int32 class ids `(B, H, W)`, both numpy
        arrays (`keras_fcn.export.load_predictor` checks the images first).

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> _ = export_for_serving(model, "saved_models/demo")
    >>> segment = saved_model_function("saved_models/demo")
    >>> segment(np.zeros((1, 37, 53, 3), "uint8")).shape
    (1, 37, 53)
    """
    loaded = tf.saved_model.load(find_saved_model(path))
    if IMAGES_SIGNATURE not in loaded.signatures:
        raise ValueError(
            f"The SavedModel at {path!r} has no {IMAGES_SIGNATURE!r} signature (it has "
            f"{sorted(loaded.signatures)}); export it with keras_fcn.export_for_serving."
        )
    serve = loaded.signatures[IMAGES_SIGNATURE]
    return lambda images: serve(**{IMAGES_INPUT: tf.constant(images)})[CLASS_IDS_OUTPUT].numpy()


def model_function(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """The serving computation of a Keras model in process, as a function to class ids.

    The same computation as the `serve_images` signature of its SavedModel, traced once for
    all image sizes.

    Args:
        model: a segmentation model (see `export_for_serving`).

    Returns:
        A function from uint8 images `(B, H, W, 3)` to int32 class ids `(B, H, W)`.
    """
    check_model(model)
    serve = _serving_module(model).serve_images
    return lambda images: serve(tf.constant(images))[CLASS_IDS_OUTPUT].numpy()
