"""The seeded random batches the benchmarks feed their models: nothing is read from disk.

No TensorFlow is imported: `benchmarks.accelerator` feeds these too.
"""

import numpy as np

from keras_fcn.classes import IGNORE_LABEL


def random_batch(
    batch: int, size: tuple[int, int], num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float32 images of `size` `(height, width)` in [0, 255), and int32 labels in
    [0, num_classes) with a tenth of the pixels set to the ignore label.

    Example:

    >>> images, labels = random_batch(2, (4, 6), 3)
    >>> images.shape, labels.shape
    ((2, 4, 6, 3), (2, 4, 6))
    """
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch, *size, 3)).astype("float32")
    labels = rng.integers(0, num_classes, (batch, *size)).astype("int32")
    labels[rng.random(labels.shape) < 0.1] = IGNORE_LABEL
    return images, labels
