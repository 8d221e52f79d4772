"""A synthetic segmentation dataset of textured shapes, made in-process with numpy.

Each image shows one or two shapes over a textured background; the label of a pixel is the kind
of shape covering it (0 = background, then disc, square, triangle, ring, cross, diamond, up to
`num_classes - 1`). Shapes and background draw their colours from the same distribution and are
overlaid with random stripes and noise, so colour alone cannot tell the classes apart: a model
has to recognise the outlines. Shapes are large (30 % to 50 % of the image side) so that a small
FCN learns them in minutes on a CPU.

The examples are a pure function of `(seed, split, index)`: the same arguments always give the
same images, and the splits (`"train"`, `"val"`, ...) draw different ones.
"""

import zlib

import numpy as np
import tensorflow as tf

SHAPES = ("disc", "square", "triangle", "ring", "cross", "diamond")
"""Shape kinds; shape `SHAPES[k]` has label `k + 1`."""

SIZE_RANGE = (0.3, 0.5)
"""Shape size (diameter or side), as a fraction of the image side."""

# Colours of a shape and of the background around it differ by at least this much (sum of the
# absolute channel differences), so that every outline is visible.
_MIN_CONTRAST = 120
# Positions tried for a second shape before it is left out.
_PLACEMENT_TRIES = 10


def synthetic_class_names(num_classes: int = 4) -> tuple[str, ...]:
    """Class names of `synthetic(num_classes=...)`: background, then the shape kinds.

    Args:
        num_classes: number of classes, background included, in `[2, 7]`.

    Returns:
        A tuple of `num_classes` names.

    Example:

    >>> synthetic_class_names(4)
    ('background', 'disc', 'square', 'triangle')
    """
    if not 2 <= num_classes <= len(SHAPES) + 1:
        raise ValueError(
            f"num_classes must be in [2, {len(SHAPES) + 1}] (background and up to {len(SHAPES)} "
            f"shapes: {SHAPES}), received {num_classes}."
        )
    return ("background", *SHAPES[: num_classes - 1])


def _shape_mask(kind: str, y: np.ndarray, x: np.ndarray, size: float) -> np.ndarray:
    """Pixels covered by a shape centred at the origin of `y`, `x` (pixel-centre offsets)."""
    radius = size / 2
    if kind == "disc":
        return y**2 + x**2 <= radius**2
    if kind == "square":
        return (np.abs(y) <= radius) & (np.abs(x) <= radius)
    if kind == "triangle":  # pointing up, base at the bottom of the box
        return (y <= radius) & (2 * np.abs(x) <= y + radius)
    if kind == "ring":
        distance = y**2 + x**2
        return (distance <= radius**2) & (distance >= (0.5 * radius) ** 2)
    if kind == "cross":
        arm = radius / 3
        inside = (np.abs(y) <= radius) & (np.abs(x) <= radius)
        return inside & ((np.abs(y) <= arm) | (np.abs(x) <= arm))
    if kind == "diamond":
        return np.abs(y) + np.abs(x) <= radius
    raise ValueError(f"Unknown shape {kind!r}; expected one of {SHAPES}.")


def _overlap(box, other) -> bool:
    """Whether two `(top, bottom, left, right)` boxes intersect."""
    return box[0] < other[1] and other[0] < box[1] and box[2] < other[3] and other[2] < box[3]


def _texture(rng: np.random.Generator, size: int, colour: np.ndarray) -> np.ndarray:
    """A `(size, size, 3)` float image: `colour`, random stripes, and per-pixel noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4, 12)
    phase = np.cos(angle) * x + np.sin(angle) * y
    stripes = np.sin(2 * np.pi * phase / period + rng.uniform(0, 2 * np.pi))
    tint = rng.uniform(-1, 1, 3) * 25
    noise = rng.normal(0, 10, (size, size, 3))
    return colour + stripes[..., None] * tint + noise


def synthetic_example(
    index: int, image_size: int = 64, num_classes: int = 4, seed: int = 0, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Draws example `index` of a synthetic split.

    Args:
        index: the example's position in the split.
        image_size: height and width of the image.
        num_classes: number of classes, background included, in `[2, 7]`.
        seed: the dataset's seed.
        split: the split's name; different names draw different examples.

    Returns:
        `(image, label)`: uint8 `(image_size, image_size, 3)` and int32
        `(image_size, image_size)` numpy arrays.

    Example:

    >>> image, label = synthetic_example(0)
    >>> image.shape, label.shape
    ((64, 64, 3), (64, 64))
    """
    names = synthetic_class_names(num_classes)
    rng = np.random.default_rng([seed, zlib.crc32(split.encode()), index])
    background_colour = rng.uniform(0, 255, 3)
    image = _texture(rng, image_size, background_colour)
    label = np.zeros((image_size, image_size), np.int32)
    y, x = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    boxes = []
    for _ in range(rng.integers(1, 3)):
        kind = rng.integers(1, num_classes)
        size = rng.uniform(*SIZE_RANGE) * image_size
        low, high = size / 2, image_size - size / 2
        for _ in range(_PLACEMENT_TRIES):  # shapes never overlap
            centre = rng.uniform(low, high, 2)
            box = (centre[0] - low, centre[0] + low, centre[1] - low, centre[1] + low)
            if not any(_overlap(box, other) for other in boxes):
                break
        else:
            continue
        boxes.append(box)
        mask = _shape_mask(names[kind], y + 0.5 - centre[0], x + 0.5 - centre[1], size)
        colour = rng.uniform(0, 255, 3)
        while np.abs(colour - background_colour).sum() < _MIN_CONTRAST:
            colour = rng.uniform(0, 255, 3)
        image[mask] = _texture(rng, image_size, colour)[mask]
        label[mask] = kind
    return np.clip(np.round(image), 0, 255).astype(np.uint8), label


def synthetic(
    num_examples: int = 512,
    image_size: int = 64,
    num_classes: int = 4,
    seed: int = 0,
    split: str = "train",
) -> tf.data.Dataset:
    """A deterministic dataset of textured shapes, made in memory.

    See the module docstring for what the images show. The examples are drawn once, when the
    dataset is built (about 1 ms each at 64 x 64).

    Args:
        num_examples: number of examples.
        image_size: height and width of the images, at least 16.
        num_classes: number of classes, background included, in `[2, 7]`.
        seed: the dataset's seed.
        split: the split's name; `"train"` and `"val"` (or any two names) draw different
            examples.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(image_size, image_size, 3)` and int32
        `(image_size, image_size)`.

    Example:

    >>> train = synthetic(num_examples=8, split="train")
    >>> val = synthetic(num_examples=8, split="val")
    >>> [tuple(tensor.shape) for tensor in next(iter(train))]
    [(64, 64, 3), (64, 64)]
    """
    synthetic_class_names(num_classes)
    if num_examples < 1:
        raise ValueError(f"num_examples must be positive, received {num_examples}.")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16, received {image_size}.")
    examples = [
        synthetic_example(index, image_size, num_classes, seed, split)
        for index in range(num_examples)
    ]
    images = np.stack([image for image, _ in examples])
    labels = np.stack([label for _, label in examples])
    return tf.data.Dataset.from_tensor_slices((images, labels))
