"""Training and evaluation pipelines: augmentation, padding and batching of `(image, label)`.

Both pipelines take a source's dataset (uint8 `(H, W, 3)` images, int32 `(H, W)` labels) and
return batches of float32 images in [0, 255] (RGB, as the models' `VGGPreprocessing` expects)
with int32 labels.

Padding fills images with the ImageNet mean colour (`PAD_COLOUR`, RGB) and labels with 255:
after the models subtract the mean, padded pixels are zero, as the models' own padding to a
multiple of 32 is, and padded labels never count in the loss or the metrics.

With `class_weights`, training batches carry a third element, the per-pixel sample weights
(`keras_fcn.data.class_weights`).

Randomness is stateless: each example draws one seed from `tf.data.Dataset.random`, and its
scale, crop and flip derive from it, so that the image and its label always get the same
transform and a given `seed` gives the same batches on every run.
"""

import numpy as np
import tensorflow as tf

from keras_fcn.backbones.preprocessing import IMAGENET_MEAN_RGB
from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data.checks import check_label_values

PAD_COLOUR = IMAGENET_MEAN_RGB
"""ImageNet mean colour (RGB) that pads images; it becomes zero after mean subtraction."""


def _check_element_spec(dataset: tf.data.Dataset) -> None:
    spec = dataset.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(isinstance(part, tf.TensorSpec) for part in spec)
        and spec[0].shape.rank == 3
        and spec[1].shape.rank == 2
    ):
        raise TypeError(
            "Expected an unbatched dataset of (image (H, W, 3), label (H, W)) pairs, as the "
            f"keras_fcn.data sources return; received elements {spec}."
        )


def _pad_image(image: tf.Tensor, paddings: list) -> tf.Tensor:
    """Pads an `(H, W, 3)` float image with `PAD_COLOUR`, channel by channel (exactly)."""
    channels = [
        tf.pad(image[..., channel], paddings, constant_values=value)
        for channel, value in enumerate(PAD_COLOUR)
    ]
    return tf.stack(channels, axis=-1)


def _augment(
    image: tf.Tensor,
    label: tf.Tensor,
    seed: tf.Tensor,
    crop_size: tuple[int, int] | None,
    scale_range: tuple[float, float] | None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Scales, pads, crops and flips one example; `seed` is a stateless `(2,)` seed.

    `scale_range=None` turns scaling and flipping off; `crop_size=None` keeps the whole image.
    """
    scale_seed, top_seed, left_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=4)
    )
    image, label = tf.cast(image, tf.float32), tf.cast(label, tf.int32)
    if scale_range is not None and scale_range != (1.0, 1.0):
        scale = tf.random.stateless_uniform(
            [], scale_seed, minval=scale_range[0], maxval=scale_range[1]
        )
        size = tf.maximum(
            tf.cast(tf.round(tf.cast(tf.shape(label), tf.float32) * scale), tf.int32), 1
        )
        image = tf.image.resize(image, size, method="bilinear")
        label = tf.image.resize(label[..., None], size, method="nearest")[..., 0]
    if crop_size is not None:
        height, width = crop_size
        shape = tf.shape(label)
        pad_bottom = tf.maximum(height - shape[0], 0)
        pad_right = tf.maximum(width - shape[1], 0)
        paddings = [[0, pad_bottom], [0, pad_right]]
        image = _pad_image(image, paddings)
        label = tf.pad(label, paddings, constant_values=IGNORE_LABEL)
        top = tf.random.stateless_uniform(
            [], top_seed, minval=0, maxval=shape[0] + pad_bottom - height + 1, dtype=tf.int32
        )
        left = tf.random.stateless_uniform(
            [], left_seed, minval=0, maxval=shape[1] + pad_right - width + 1, dtype=tf.int32
        )
        image = tf.ensure_shape(image[top : top + height, left : left + width], [height, width, 3])
        label = tf.ensure_shape(label[top : top + height, left : left + width], [height, width])
    if scale_range is not None:
        flip = tf.random.stateless_uniform([], flip_seed) < 0.5
        image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
        label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
    return image, label


def _padded_batches(
    dataset: tf.data.Dataset, batch_size: int, drop_remainder: bool
) -> tf.data.Dataset:
    """Batches examples of different sizes, padding each batch to its largest height and width.

    Images are padded with `PAD_COLOUR` and labels with 255. A validity mask travels with each
    example through `padded_batch`, so that the padded image pixels can be set exactly.
    """
    with_mask = dataset.map(
        lambda image, label: (image, label, tf.ones_like(label, tf.bool)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    batches = with_mask.padded_batch(
        batch_size,
        padded_shapes=([None, None, 3], [None, None], [None, None]),
        padding_values=(0.0, IGNORE_LABEL, False),
        drop_remainder=drop_remainder,
    )

    def fill(images, labels, valid):
        return tf.where(valid[..., None], images, tf.constant(PAD_COLOUR)), labels

    return batches.map(fill, num_parallel_calls=tf.data.AUTOTUNE)


def _crop_size(crop_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if crop_size is None:
        return None
    size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
    if len(size) != 2 or any(not isinstance(side, int) or side < 1 for side in size):
        raise ValueError(
            "crop_size must be a positive integer or a (height, width) pair of them, received "
            f"{crop_size}."
        )
    return size


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size}.")


def training_pipeline(
    dataset: tf.data.Dataset,
    crop_size: int | tuple[int, int] | None,
    batch_size: int,
    *,
    augment: bool = True,
    scale_range: tuple[float, float] = (0.5, 2.0),
    shuffle_buffer: int = 128,
    seed: int | None = None,
    cache: bool = False,
    class_weights: np.ndarray | list[float] | None = None,
) -> tf.data.Dataset:
    """Shuffles, augments and batches a source's examples for training.

    With `augment=True` each example is scaled by a random factor in `scale_range` (images
    bilinearly, labels by nearest neighbour, so no new label values appear) and flipped
    left-right with probability 1/2. With `crop_size`, each example is then padded at the
    bottom and right to at least the crop size (images with `PAD_COLOUR`, labels with 255) and
    a random window of that size is cut; batches drop the last, incomplete one so that every
    batch has the same shape. Without `crop_size`, examples keep their size: batches of one, or
    larger batches padded to their largest example.

    The original FCN recipe uses no augmentation and batches of one full image:
    `training_pipeline(dataset, crop_size=None, batch_size=1, augment=False)`.

    Args:
        dataset: a source's dataset of `(image, label)`.
        crop_size: side of the random crops (or a `(height, width)` pair), or `None` for whole
            images.
        batch_size: examples per batch.
        augment: whether to apply random scaling and flips.
        scale_range: `(min, max)` of the random scale factor, drawn uniformly.
        shuffle_buffer: examples held by the shuffle buffer. Decoded examples are held, about
            1.3 MB each for VOC-sized images, so the buffer mixes only neighbours in the
            source's order: read a file source with `shuffle=True` (`from_spec`, `folder`,
            `voc`, ...; `keras-fcn train` does) for a new order of all its files each epoch.
        seed: makes shuffling and augmentation repeatable; `None` draws a new order each run.
        cache: keep the decoded examples in memory after the first epoch.
        class_weights: one loss weight per class (e.g. `median_frequency_weights`); each batch
            then carries per-pixel sample weights, the weight of the pixel's class (0 for void
            and padding), which Keras applies to the loss but not to the `metrics=` of
            `compile`.

    Returns:
        A `tf.data.Dataset` of `(images, labels)` batches: float32 `(B, H, W, 3)` in [0, 255]
        and int32 `(B, H, W)` with 255 where pixels are void or padding; with
        `class_weights`, `(images, labels, sample_weights)` with float32 `(B, H, W)` weights.

    Example:

    >>> from keras_fcn.data import synthetic
    >>> batches = training_pipeline(synthetic(num_examples=16), crop_size=48, batch_size=4, seed=0)
    >>> [tuple(tensor.shape) for tensor in next(iter(batches))]
    [(4, 48, 48, 3), (4, 48, 48)]
    """
    _check_element_spec(dataset)
    _check_batch_size(batch_size)
    crop = _crop_size(crop_size)
    if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
        raise ValueError(
            f"scale_range must be (min, max) with 0 < min <= max, received {scale_range}."
        )
    if shuffle_buffer < 1:
        raise ValueError(f"shuffle_buffer must be positive, received {shuffle_buffer}.")
    if cache:
        dataset = dataset.cache()
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    scales = tuple(float(value) for value in scale_range) if augment else None
    dataset = tf.data.Dataset.zip(dataset, seeds).map(
        lambda example, example_seed: _augment(*example, example_seed, crop, scales),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if crop is not None:
        dataset = dataset.batch(batch_size, drop_remainder=True)
    elif batch_size == 1:
        dataset = dataset.batch(1)
    else:
        dataset = _padded_batches(dataset, batch_size, drop_remainder=True)
    if class_weights is not None:
        dataset = dataset.map(_sample_weights(class_weights), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _sample_weights(class_weights: np.ndarray | list[float]):
    """A map from `(images, labels)` to `(images, labels, weight of each pixel's class)`."""
    weights = np.asarray(class_weights, np.float32)
    if weights.ndim != 1 or not weights.size or not np.all(np.isfinite(weights) & (weights >= 0)):
        raise ValueError(
            "class_weights must be one finite, non-negative weight per class, received "
            f"{class_weights}."
        )
    num_classes = len(weights)
    # Void and padding (255) take the extra last entry, 0.
    table = tf.constant(np.append(weights, 0.0).astype(np.float32))

    def add_weights(images, labels):
        labels = check_label_values(labels, num_classes, "a training batch (class_weights)")
        slots = tf.where(tf.equal(labels, IGNORE_LABEL), num_classes, labels)
        return images, labels, tf.gather(table, slots)

    return add_weights


def evaluation_pipeline(
    dataset: tf.data.Dataset, batch_size: int = 1, *, cache: bool = False
) -> tf.data.Dataset:
    """Batches a source's examples for evaluation, in order, at native size.

    With `batch_size=1` every image is seen whole at its own size, as in the paper. Larger
    batches are padded to their largest example: images with `PAD_COLOUR`, labels with 255, so
    padding never counts in the metrics. The last batch may be smaller; no example is dropped.

    Args:
        dataset: a source's dataset of `(image, label)`.
        batch_size: examples per batch.
        cache: keep the decoded examples in memory after the first pass.

    Returns:
        A `tf.data.Dataset` of `(images, labels)` batches: float32 `(B, H, W, 3)` in [0, 255]
        and int32 `(B, H, W)`.

    Example:

    >>> from keras_fcn.data import synthetic
    >>> batches = evaluation_pipeline(synthetic(num_examples=4, split="val"))
    >>> [tuple(tensor.shape) for tensor in next(iter(batches))]
    [(1, 64, 64, 3), (1, 64, 64)]
    """
    _check_element_spec(dataset)
    _check_batch_size(batch_size)
    if cache:
        dataset = dataset.cache()
    dataset = dataset.map(
        lambda image, label: (tf.cast(image, tf.float32), tf.cast(label, tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if batch_size == 1:
        dataset = dataset.batch(1)
    else:
        dataset = _padded_batches(dataset, batch_size, drop_remainder=False)
    return dataset.prefetch(tf.data.AUTOTUNE)
