"""Class balancing: per-class pixel counts of a dataset and the loss weights made from them.

Street scenes are mostly road, sky and building; poles, signs and cyclists cover a few pixels
each, and a loss averaged over pixels barely sees them. Weighting each pixel's loss by its
class evens this out. Two weightings are computed from one pass over a dataset's labels:

- **median frequency** (Eigen & Fergus, ICCV 2015, section 4.1; SegNet, PAMI 2017, section 3):
  freq(c) = pixels of class c / all pixels (void included) of the images in which c appears;
  weight(c) = median over classes of freq / freq(c). The median class gets 1, rarer ones more.
- **inverse frequency**: weight(c) = labelled pixels / (K · pixels of class c), over the K
  classes that appear, so that the mean weight over labelled pixels is 1 (the loss keeps its
  scale).

Classes that never appear get weight 0 (they are in no label, so their weight never counts).
`training_pipeline(..., class_weights=weights)` turns the weights into per-pixel sample
weights (void pixels weigh 0).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_fcn.classes import CLASS_WEIGHTINGS, IGNORE_LABEL
from keras_fcn.data.checks import check_label_values


@dataclasses.dataclass(frozen=True)
class ClassPixelCounts:
    """Per-class pixel counts of a dataset's labels.

    Args:
        pixels: `(num_classes,)` int64: pixels of each class.
        image_pixels: `(num_classes,)` int64: all pixels (void included) of the images in
            which each class appears.
        void_pixels: pixels labelled 255.
        images: examples counted.

    Example:

    >>> labels = tf.data.Dataset.from_tensor_slices(np.array([[[0, 1], [1, 255]]]))
    >>> counts = count_class_pixels(labels.map(lambda label: (label, label)), num_classes=3)
    >>> counts.pixels.tolist(), counts.image_pixels.tolist(), counts.void_pixels
    ([1, 2, 0], [4, 4, 0], 1)
    """

    pixels: np.ndarray
    image_pixels: np.ndarray
    void_pixels: int
    images: int

    def median_frequency_weights(self) -> np.ndarray:
        """Median-frequency weights, float32 `(num_classes,)`, 0 for absent classes."""
        present = self.pixels > 0
        frequency = np.zeros(len(self.pixels))
        frequency[present] = self.pixels[present] / self.image_pixels[present]
        weights = np.zeros(len(self.pixels))
        weights[present] = np.median(frequency[present]) / frequency[present]
        return weights.astype(np.float32)

    def inverse_frequency_weights(self) -> np.ndarray:
        """Inverse-frequency weights, float32 `(num_classes,)`, 0 for absent classes."""
        present = self.pixels > 0
        weights = np.zeros(len(self.pixels))
        weights[present] = self.pixels.sum() / (present.sum() * self.pixels[present])
        return weights.astype(np.float32)


def _check_unbatched(dataset: tf.data.Dataset) -> None:
    spec = dataset.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) >= 2
        and isinstance(spec[1], tf.TensorSpec)
        and spec[1].shape.rank == 2
    ):
        raise TypeError(
            "Expected an unbatched dataset of (image, label (H, W)) pairs, as the "
            f"keras_fcn.data sources return (padded batches would count padding); received "
            f"elements {spec}."
        )


def count_class_pixels(dataset: tf.data.Dataset, num_classes: int) -> ClassPixelCounts:
    """Counts the pixels of each class in one pass over a source's labels.

    Args:
        dataset: a source's unbatched dataset of `(image, label)`; images are not read
            beyond what the source decodes.
        num_classes: labels must lie in `[0, num_classes)` or be 255.

    Returns:
        A `ClassPixelCounts`.

    Raises:
        TypeError: for a batched dataset.
        tf.errors.InvalidArgumentError: for a label outside `[0, num_classes)` and 255.

    Example:

    >>> counts = count_class_pixels(keras_fcn.data.synthetic(num_examples=4), num_classes=4)
    >>> int(counts.pixels.sum() + counts.void_pixels) == 4 * 64 * 64
    True
    """
    _check_unbatched(dataset)
    if not 0 < num_classes < IGNORE_LABEL:
        raise ValueError(f"num_classes must be in [1, {IGNORE_LABEL}), received {num_classes}.")

    def image_counts(image, label, *rest):
        label = check_label_values(tf.cast(label, tf.int32), num_classes, "label")
        flat = tf.reshape(label, [-1])
        slots = tf.where(tf.equal(flat, IGNORE_LABEL), num_classes, flat)
        counts = tf.math.bincount(
            slots, minlength=num_classes + 1, maxlength=num_classes + 1, dtype=tf.int64
        )
        total = tf.size(flat, out_type=tf.int64)
        image_pixels = tf.where(counts[:num_classes] > 0, total, tf.constant(0, tf.int64))
        return counts, image_pixels, tf.constant(1, tf.int64)

    def add(totals, counts):
        return tuple(a + b for a, b in zip(totals, counts, strict=True))

    zeros = (
        tf.zeros([num_classes + 1], tf.int64),
        tf.zeros([num_classes], tf.int64),
        tf.constant(0, tf.int64),
    )
    counts, image_pixels, images = dataset.map(
        image_counts, num_parallel_calls=tf.data.AUTOTUNE
    ).reduce(zeros, add)
    counts = counts.numpy()
    return ClassPixelCounts(
        pixels=counts[:num_classes],
        image_pixels=image_pixels.numpy(),
        void_pixels=int(counts[num_classes]),
        images=int(images),
    )


def median_frequency_weights(dataset: tf.data.Dataset, num_classes: int) -> np.ndarray:
    """Median-frequency class weights of a dataset (Eigen & Fergus 2015, as SegNet uses).

    The weights of `count_class_pixels(dataset, num_classes)`, which says what the arguments
    must be: freq(c) = pixels of class c / all pixels (void included) of the images in which
    c appears; weight(c) = median over the classes present of freq / freq(c); 0 for classes
    that never appear.

    Returns:
        A float32 numpy array of shape `(num_classes,)`.

    Example:

    >>> # Image 1: 3 pixels of class 0, 1 of class 1. Image 2: 4 pixels of class 0.
    >>> labels = np.array([[[0, 0], [0, 1]], [[0, 0], [0, 0]]])
    >>> dataset = tf.data.Dataset.from_tensor_slices((labels, labels))
    >>> # freq = (7 / 8, 1 / 4), median 0.5625: weights 0.5625 / freq.
    >>> median_frequency_weights(dataset, num_classes=2).tolist()
    [0.6428571343421936, 2.25]
    """
    return count_class_pixels(dataset, num_classes).median_frequency_weights()


def inverse_frequency_weights(dataset: tf.data.Dataset, num_classes: int) -> np.ndarray:
    """Inverse-frequency class weights: labelled pixels / (K · pixels of class c).

    The weights of `count_class_pixels(dataset, num_classes)`, which says what the arguments
    must be. K is the number of classes that appear; the mean weight over the labelled pixels
    is then 1. Classes that never appear get 0.

    Returns:
        A float32 numpy array of shape `(num_classes,)`.

    Example:

    >>> labels = np.array([[[0, 0], [0, 1]], [[0, 0], [0, 0]]])
    >>> dataset = tf.data.Dataset.from_tensor_slices((labels, labels))
    >>> inverse_frequency_weights(dataset, num_classes=2).tolist()  # 8 / (2 · 7), 8 / (2 · 1)
    [0.5714285969734192, 4.0]
    """
    return count_class_pixels(dataset, num_classes).inverse_frequency_weights()


def class_weights(dataset: tf.data.Dataset, num_classes: int, weighting: str) -> np.ndarray | None:
    """The class weights of a dataset by the name of a weighting (`CLASS_WEIGHTINGS`).

    Args:
        dataset: a source's unbatched dataset of `(image, label)`.
        num_classes: labels must lie in `[0, num_classes)` or be 255.
        weighting: `"median-frequency"`, `"inverse-frequency"` or `"none"`.

    Returns:
        A float32 numpy array of shape `(num_classes,)`, or `None` for `"none"`.

    Raises:
        ValueError: for an unknown weighting.

    Example:

    >>> class_weights(keras_fcn.data.synthetic(num_examples=4), 4, "none") is None
    True
    """
    if weighting not in CLASS_WEIGHTINGS:
        raise ValueError(
            f"Unknown class weighting {weighting!r}; expected one of {CLASS_WEIGHTINGS}."
        )
    if weighting == "none":
        return None
    counts = count_class_pixels(dataset, num_classes)
    if weighting == "median-frequency":
        return counts.median_frequency_weights()
    return counts.inverse_frequency_weights()
