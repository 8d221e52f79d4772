"""The folder source: a directory of images and a directory of masks, paired by file stem.

`images_dir/cat_001.jpg` pairs with `masks_dir/cat_001.png`. Images may be JPEG, PNG, BMP or
GIF; masks must be PNGs holding class indices, either single-channel (grayscale, 1 to 16 bits)
or palette PNGs, whose indices are recovered through the palette stored in each file. Hidden
files (names starting with ".") and subdirectories are ignored; any other file that cannot be
paired is an error that lists it.
"""

import os

import tensorflow as tf

from keras_fcn.data.files import DataProblem, FilePairs, dataset_from_files

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
"""File extensions read as images (any case)."""

MASK_EXTENSIONS = (".png",)
"""File extensions read as masks (any case)."""


def _files_by_stem(
    directory: str, extensions: tuple[str, ...], kind: str
) -> tuple[dict[str, str], list[DataProblem]]:
    if not os.path.isdir(directory):
        raise ValueError(f"The {kind} directory {directory} does not exist.")
    files, problems = {}, []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        stem, extension = os.path.splitext(name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        if extension.lower() not in extensions:
            problems.append(
                DataProblem(path, f"not a {kind} file: expected one of {list(extensions)}")
            )
        elif stem in files:
            problems.append(
                DataProblem(path, f"two {kind} files share the stem {stem!r}: {files[stem]}")
            )
        else:
            files[stem] = path
    return files, problems


def folder_files(
    images_dir: str | os.PathLike,
    masks_dir: str | os.PathLike,
    *,
    void: int | None = None,
    label_map: dict[int, int] | None = None,
) -> FilePairs:
    """Lists the (image, mask) pairs of two directories, paired by file stem.

    Args:
        images_dir: directory of images.
        masks_dir: directory of PNG masks.
        void: the stored mask value of void pixels, read as 255 (e.g. 11); `None` when void is
            255 already.
        label_map: stored mask value -> class index or 255, when the masks store other values
            than the labels (every stored value must appear); not together with `void`.

    Returns:
        A `FilePairs` sorted by stem; images without a mask, masks without an image and files
        of other types are recorded as its problems.

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_folder_tree("data", ["cat", "dog"])
    >>> (tree.root / "images" / "bird.jpg").write_bytes(b"")
    0
    >>> pairs = folder_files("data/images", "data/masks")
    >>> pairs.label_paths
    ('data/masks/cat.png', 'data/masks/dog.png')
    >>> print(pairs.problems[0])
    data/images/bird.jpg: image without a mask (no bird.png in data/masks)
    """
    images_dir, masks_dir = os.fspath(images_dir), os.fspath(masks_dir)
    images, problems = _files_by_stem(images_dir, IMAGE_EXTENSIONS, "image")
    masks, mask_problems = _files_by_stem(masks_dir, MASK_EXTENSIONS, "mask")
    problems += mask_problems
    problems += [
        DataProblem(images[stem], f"image without a mask (no {stem}.png in {masks_dir})")
        for stem in sorted(images.keys() - masks.keys())
    ]
    problems += [
        DataProblem(masks[stem], f"mask without an image (no {stem}.* in {images_dir})")
        for stem in sorted(masks.keys() - images.keys())
    ]
    stems = sorted(images.keys() & masks.keys())
    return FilePairs(
        source=f"{images_dir} + {masks_dir}",
        image_paths=tuple(images[stem] for stem in stems),
        label_paths=tuple(masks[stem] for stem in stems),
        problems=tuple(problems),
        void=void,
        label_map=label_map,
    )


def folder(
    images_dir: str | os.PathLike,
    masks_dir: str | os.PathLike,
    *,
    num_classes: int | None = None,
    void: int | None = None,
    label_map: dict[int, int] | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Examples from a directory of images and a directory of masks, paired by file stem.

    Every example is checked as it is decoded: a truncated file, a mask of another size than
    its image, an RGB mask, a mask value missing from `label_map` or a label outside
    `[0, num_classes)` and 255 stops the pipeline with an error naming the file.

    Args:
        images_dir: directory of images (JPEG, PNG, BMP or GIF).
        masks_dir: directory of PNG masks holding class indices (single-channel or palette).
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` skips the check.
        void: the stored mask value of void pixels, read as 255, for datasets whose void is
            another value (CamVid's 11); `None` when void is 255 already.
        label_map: stored mask value -> class index or 255, for masks that store other values
            than the labels, as in `from_tfds` (every stored value must appear); not together
            with `void`.
        shuffle: `dataset_from_files`'s: a new order of the files each epoch, for training.
        seed: `dataset_from_files`'s: makes the orders repeatable.

    Returns:
        A `tf.data.Dataset` of `(image, label)`, sorted by stem unless shuffled: uint8
        `(H, W, 3)` RGB and int32 `(H, W)`.

    Raises:
        ValueError: if a directory does not exist, holds no pairs, or holds files that cannot
            be paired (all of them are listed).

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_folder_tree("data", ["cat", "dog"])
    >>> dataset = folder("data/images", "data/masks", num_classes=21)
    >>> [label.shape for _, label in dataset]
    [TensorShape([21, 27]), TensorShape([27, 30])]
    >>> _, label = next(iter(folder("data/images", "data/masks", void=0)))
    >>> np.unique(label).tolist()  # background (0) is now void
    [13, 255]
    """
    pairs = folder_files(images_dir, masks_dir, void=void, label_map=label_map)
    return dataset_from_files(pairs, num_classes, shuffle=shuffle, seed=seed)
