"""Export of FCNs as TensorFlow Serving SavedModels, and loading them back to segment images.

`export_for_serving` writes `export_dir/<version>/`, the layout TF Serving watches, holding a
SavedModel that TensorFlow alone can load and run (no `keras_fcn`, no Keras, no custom ops):
decoding, preprocessing, the network, softmax and argmax are all in its graph.
`load_predictor` turns either such an export or a `.keras` file into a function from images to
class ids.
"""

import os
import shutil
import tempfile
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

import keras_fcn.models  # noqa: F401  (registers the layers and initializer load_model needs)
from keras_fcn.backends import require_tensorflow

BYTES_SIGNATURE = "serving_default"
"""Signature taking encoded images; TF Serving's default, so requests need not name it."""

IMAGES_SIGNATURE = "serve_images"
"""Signature taking decoded uint8 images."""

CLASS_IDS_SIGNATURE = "serve_class_ids"
"""Signature taking encoded images and returning class ids only: the small REST response."""

BYTES_INPUT = "image_bytes"
"""Input of `BYTES_SIGNATURE`: a `[B]` string tensor of encoded JPEG, PNG, GIF or BMP images."""

IMAGES_INPUT = "images"
"""Input of `IMAGES_SIGNATURE`: `[B, H, W, 3]` uint8 RGB images."""

CLASS_IDS_OUTPUT = "class_ids"
"""Output of every signature: `[B, H, W]` int32, the most likely class of each pixel."""

PROBABILITIES_OUTPUT = "probabilities"
"""Output of `BYTES_SIGNATURE` and `IMAGES_SIGNATURE`: `[B, H, W, num_classes]` float32, the
softmax of the logits."""

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


def _check_model(model: keras.Model) -> None:
    """Raises a `ValueError` unless `model` maps `(B, H, W, 3)` images of any size to scores."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, received {type(model).__name__}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"The model {model.name!r} must have one input and one output, received "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    input_shape, output_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if len(input_shape) != 4 or input_shape[-1] != 3 or len(output_shape) != 4:
        raise ValueError(
            f"The model {model.name!r} must map (B, H, W, 3) images to (B, H, W, num_classes) "
            f"scores, received input shape {input_shape} and output shape {output_shape}."
        )
    if input_shape[1:3] != (None, None):
        raise ValueError(
            f"The model {model.name!r} takes only {input_shape[1]}×{input_shape[2]} images; the "
            "serving signatures accept any size. Build it with input_shape=(None, None, 3) and "
            "copy the weights over (keras_fcn.transfer_weights)."
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
    _check_model(model)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer, received {version!r}.")
    path = os.path.join(export_dir, str(version))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass another version, or overwrite=True to replace it "
            "(a running TF Serving may be serving it)."
        )
    os.makedirs(export_dir, exist_ok=True)
    module = _serving_module(model)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=export_dir)
    try:
        tf.saved_model.save(
            module,
            staging,
            signatures={
                BYTES_SIGNATURE: module.serve_image_bytes.get_concrete_function(),
                IMAGES_SIGNATURE: module.serve_images.get_concrete_function(),
                CLASS_IDS_SIGNATURE: module.serve_class_ids.get_concrete_function(),
            },
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(staging, 0o755)  # mkdtemp's 0o700 would hide the version from other users
    if os.path.exists(path):
        replaced = tempfile.mkdtemp(prefix=f".{version}-replaced-", dir=export_dir)
        os.replace(path, replaced)
        os.replace(staging, path)
        shutil.rmtree(replaced)
    else:
        os.replace(staging, path)
    return path


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
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No SavedModel directory at {path!r}.")
    if tf.saved_model.contains_saved_model(path):
        return path
    versions = [
        int(name)
        for name in os.listdir(path)
        if name.isdigit() and tf.saved_model.contains_saved_model(os.path.join(path, name))
    ]
    if not versions:
        raise ValueError(
            f"{path!r} is neither a SavedModel (no saved_model.pb) nor a directory of numbered "
            "SavedModel versions (such as 1/saved_model.pb)."
        )
    return os.path.join(path, str(max(versions)))


def _checked(serve: Callable) -> Callable[[np.ndarray], np.ndarray]:
    """Wraps a `serve_images` function into one from numpy uint8 images to class ids."""

    def predict(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"images must be RGB of shape (batch, height, width, 3), received {images.shape}."
            )
        if images.dtype != np.uint8:
            raise TypeError(f"images must be uint8 in [0, 255], received {images.dtype}.")
        return serve(images=tf.constant(images))[CLASS_IDS_OUTPUT].numpy()

    return predict


def make_predictor(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """A function from images to class ids running `model` as its SavedModel would.

    It is the `serve_images` signature of `export_for_serving`, in process, without writing
    anything: for models built in memory, such as `keras_fcn.from_preset`'s.

    Args:
        model: a model mapping `(B, H, W, 3)` RGB images of any size to logits.

    Returns:
        A function mapping uint8 RGB images `(B, H, W, 3)` to int32 class ids `(B, H, W)`.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> make_predictor(model)(np.zeros((1, 37, 53, 3), "uint8")).shape
    (1, 37, 53)
    """
    require_tensorflow("keras_fcn.export.make_predictor")
    _check_model(model)
    return _checked(_serving_module(model).serve_images)


def load_predictor(path: str) -> Callable[[np.ndarray], np.ndarray]:
    """Loads a `.keras` model or an exported SavedModel as a function from images to class ids.

    Both kinds go through the same computation as the `serve_images` signature: a `.keras`
    file is wrapped in process as `export_for_serving` would export it, and a SavedModel is
    loaded with TensorFlow alone.

    Args:
        path: a `.keras` file, a SavedModel directory written by `export_for_serving`, or its
            base directory of numbered versions (the highest is loaded).

    Returns:
        A function mapping uint8 RGB images `(B, H, W, 3)` of any size to int32 class ids
        `(B, H, W)`, both numpy arrays.

    Raises:
        RuntimeError: for a `.keras` file on a Keras backend other than TensorFlow (a
            SavedModel loads with TensorFlow alone, whatever the backend).

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> _ = export_for_serving(model, "saved_models/demo")
    >>> predict = load_predictor("saved_models/demo")
    >>> predict(np.zeros((1, 37, 53, 3), "uint8")).shape
    (1, 37, 53)
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No model at {path!r}: expected a .keras file or a SavedModel directory."
        )
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise ValueError(
                f"{path!r} is a file but not a .keras model; expected a .keras file or a "
                "SavedModel directory."
            )
        return make_predictor(keras.models.load_model(path))
    loaded = tf.saved_model.load(find_saved_model(path))
    if IMAGES_SIGNATURE not in loaded.signatures:
        raise ValueError(
            f"The SavedModel at {path!r} has no {IMAGES_SIGNATURE!r} signature (it has "
            f"{sorted(loaded.signatures)}); export it with keras_fcn.export_for_serving."
        )
    return _checked(loaded.signatures[IMAGES_SIGNATURE])
