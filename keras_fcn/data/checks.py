"""Checks of decoded examples, as TensorFlow ops whose errors name the file or example.

The sources run these checks inside their `tf.data` maps, so a bad example stops the pipeline
with a `tf.errors.InvalidArgumentError` whose message starts with the file's path (or the
example's name); `check_dataset` runs the same functions on every example of a split and turns
each error into a `DataProblem`, so the two always agree. Each check returns its input once it
has passed, so that it can be chained into a map function.

Labels must lie in `[0, num_classes)` or be 255 (`keras_fcn.classes.IGNORE_LABEL`), masks must
have their image's height and width, images must have three channels (RGB) or one (grayscale),
and datasets that store other values than class indices (the Oxford-IIIT Pet trimap) map them
through a `label_map`, in which every stored value must appear; datasets whose void is another
value than 255 (CamVid's 11) turn it into 255 with `void_to_ignore`.
"""

import numpy as np
import tensorflow as tf

from keras_fcn.classes import IGNORE_LABEL


def require(condition: tf.Tensor, template: str, *values) -> tf.Operation:
    """Returns an assertion op that fails with a formatted message when `condition` is false.

    Each `{}` of `template` takes the next of `values`: string tensors are inserted as they are
    (so paths are not quoted), other tensors as `tf.strings.format` writes them. Values given as
    functions are called only when the condition fails, so that gathering offending values costs
    nothing for good examples.

    Args:
        condition: a scalar boolean tensor.
        template: the message, with one `{}` per value.
        *values: tensors, or functions returning tensors.

    Returns:
        The assertion op, to be used in `tf.control_dependencies`.

    Example:

    >>> op = require(tf.constant(False), "{}: {} is odd", tf.constant("a.png"), tf.constant(3))
    Traceback (most recent call last):
    ...
    tensorflow.python.framework.errors_impl.InvalidArgumentError: ...a.png: 3 is odd...
    """

    def message():
        pieces = template.split("{}")
        parts = [pieces[0]]
        for value, piece in zip(values, pieces[1:], strict=True):
            value = tf.convert_to_tensor(value() if callable(value) else value)
            if value.dtype != tf.string:
                value = tf.strings.format("{}", value, summarize=10)
            parts += [value, piece]
        return tf.strings.join(parts)

    condition = tf.convert_to_tensor(condition)
    return tf.debugging.Assert(condition, [tf.cond(condition, lambda: "", message)])


def check_image_channels(image: tf.Tensor, name: tf.Tensor) -> tf.Tensor:
    """Returns `image` once it is checked to have three channels (RGB) or one (grayscale).

    Args:
        image: tensor of shape `(H, W, C)`.
        name: scalar string tensor naming the image in errors.

    Returns:
        `image`, unchanged.

    Example:

    >>> image = check_image_channels(tf.zeros([2, 3, 1], tf.uint8), "a.png")
    """
    channels = tf.shape(image)[-1]
    check = require(
        tf.equal(channels, 3) | tf.equal(channels, 1),
        "{}: the image has {} channels; expected 3 (RGB) or 1 (grayscale)",
        name,
        channels,
    )
    with tf.control_dependencies([check]):
        return tf.identity(image)


def check_same_size(
    image: tf.Tensor, label: tf.Tensor, image_name: tf.Tensor, label_name: tf.Tensor
) -> tf.Tensor:
    """Returns `label` once it is checked to have the height and width of `image`.

    Args:
        image: tensor of shape `(H, W, C)`.
        label: tensor of shape `(H', W')`.
        image_name: scalar string tensor naming the image in errors.
        label_name: scalar string tensor naming the mask in errors.

    Returns:
        `label`, unchanged.

    Example:

    >>> label = check_same_size(tf.zeros([2, 3, 3]), tf.zeros([2, 3]), "a.jpg", "a.png")
    """
    image_size, label_size = tf.shape(image)[:2], tf.shape(label)[:2]
    check = require(
        tf.reduce_all(tf.equal(image_size, label_size)),
        "{}: the mask is {} (height, width) but its image {} is {}",
        label_name,
        label_size,
        image_name,
        image_size,
    )
    with tf.control_dependencies([check]):
        return tf.identity(label)


def check_label_values(label: tf.Tensor, num_classes: int, name: tf.Tensor) -> tf.Tensor:
    """Returns `label` once its values are checked to lie in `[0, num_classes)` or be 255.

    Args:
        label: integer tensor of class indices.
        num_classes: number of classes; 255 (`IGNORE_LABEL`) is always allowed.
        name: scalar string tensor naming the mask in errors.

    Returns:
        `label`, unchanged.

    Example:

    >>> label = check_label_values(tf.constant([[0, 1, 255]]), 21, "a.png")
    """
    valid = (label >= 0) & ((label < num_classes) | tf.equal(label, IGNORE_LABEL))

    def bad_values():
        return tf.sort(tf.unique(tf.boolean_mask(label, tf.logical_not(valid)))[0])

    check = require(
        tf.reduce_all(valid),
        "{}: label values {} are outside [0, "
        + f"{num_classes}) and the ignore label {IGNORE_LABEL}",
        name,
        bad_values,
    )
    with tf.control_dependencies([check]):
        return tf.identity(label)


def label_table(label_map: dict[int, int]) -> np.ndarray:
    """Turns a `label_map` into a lookup table: `table[value] = label`, -1 where unmapped.

    The table has one entry more than the largest key, always -1, which values beyond the
    table are sent to.

    Args:
        label_map: stored mask value -> class index (or 255).

    Returns:
        An int32 numpy array.

    Raises:
        ValueError: if a key is not a non-negative integer.

    Example:

    >>> label_table({1: 1, 2: 0, 3: 255}).tolist()
    [-1, 1, 0, 255, -1]
    """
    if any(not isinstance(key, int) or key < 0 for key in label_map):
        raise ValueError(f"label_map keys must be non-negative integers, received {label_map}.")
    table = np.full(max(label_map) + 2, -1, np.int32)
    for value, label in label_map.items():
        table[value] = label
    return table


def void_to_ignore(label: tf.Tensor, void: int) -> tf.Tensor:
    """Replaces the stored void value of a dataset by 255 (`IGNORE_LABEL`); others pass.

    Args:
        label: integer tensor of stored values.
        void: the value that marks void pixels, e.g. 11 for CamVid's Unlabelled.

    Returns:
        An int32 tensor of the shape of `label`.

    Example:

    >>> void_to_ignore(tf.constant([[3, 11, 0]]), 11).numpy()
    array([[  3, 255,   0]], dtype=int32)
    """
    label = tf.cast(label, tf.int32)
    return tf.where(tf.equal(label, void), IGNORE_LABEL, label)


def map_labels(mask: tf.Tensor, table: tf.Tensor, name: tf.Tensor) -> tf.Tensor:
    """Maps stored mask values to labels through a `label_table`, checking that all are mapped.

    Args:
        mask: integer tensor of stored values.
        table: int32 tensor, a `label_table`.
        name: scalar string tensor naming the mask in errors.

    Returns:
        An int32 tensor of the shape of `mask`.

    Example:

    >>> table = tf.constant(label_table({1: 1, 2: 0, 3: 255}))
    >>> map_labels(tf.constant([[1, 2, 3]]), table, "pet_1.png").numpy()
    array([[  1,   0, 255]], dtype=int32)
    """
    value = tf.cast(mask, tf.int32)
    unmapped = tf.size(table) - 1
    in_table = (value >= 0) & (value < unmapped)
    label = tf.gather(table, tf.where(in_table, value, unmapped))
    check = require(
        tf.reduce_all(label >= 0),
        "{}: mask values {} are not in label_map",
        name,
        lambda: tf.sort(tf.unique(tf.boolean_mask(value, label < 0))[0]),
    )
    with tf.control_dependencies([check]):
        return tf.identity(label)
