"""The Semantic Boundaries Dataset (SBD) source: `benchmark_RELEASE/dataset`.

The directory holds `img/{id}.jpg`, `cls/{id}.mat` and the split lists `train.txt` (8,498
images) and `val.txt` (2,857). Each `.mat` file holds a MATLAB struct `GTcls` whose field
`Segmentation` is the class mask (0 = background, 1..20 the VOC classes; SBD has no void
border). The `.mat` files are read with `scipy.io.loadmat` through `tf.numpy_function`.

SBD re-annotates VOC2011 images: its `train` list overlaps VOC `val`, so a model trained on it
is validated on `seg11valid` (`voc(root, split="seg11valid")`), as in the paper.

Reference: B. Hariharan et al., "Semantic Contours from Inverse Detectors", ICCV 2011.
"""

import os

import tensorflow as tf

from keras_fcn.classes import VOC_CLASS_NAMES
from keras_fcn.data.files import (
    FilePairs,
    dataset_from_files,
    not_a_dataset_directory,
    split_list_pairs,
)
from keras_fcn.data.split_lists import sbd_split_ids


def _check_sbd_root(root: str) -> None:
    if os.path.isdir(os.path.join(root, "img")) and os.path.isdir(os.path.join(root, "cls")):
        return
    nested = os.path.join(root, "dataset")
    raise not_a_dataset_directory(
        root,
        "an SBD directory: expected it to contain img/ and cls/ (benchmark_RELEASE/dataset)",
        [nested] if os.path.isdir(os.path.join(nested, "cls")) else [],
    )


def sbd_files(root: str | os.PathLike, split: str = "train") -> FilePairs:
    """Lists the image and `.mat` mask files of an SBD split.

    Args:
        root: the `benchmark_RELEASE/dataset` directory.
        split: `"train"`, `"val"`, `"trainval"` (both), or another `{split}.txt` in `root`.

    Returns:
        A `FilePairs`; missing files are recorded as its problems.

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_sbd_tree("dataset", {"train": ["2008_000002", "2008_000003"]})
    >>> len(sbd_files("dataset", "train"))
    2
    """
    root = os.fspath(root)
    _check_sbd_root(root)
    try:
        ids = sbd_split_ids(root, split)
    except ValueError as error:
        listed = sorted(name[:-4] for name in os.listdir(root) if name.endswith(".txt"))
        raise ValueError(
            f"Unknown SBD split {split!r} ({error}) Available splits: {listed}."
        ) from error
    return split_list_pairs(
        os.path.join(root, f"{split}.txt"),
        [os.path.join(root, "img", f"{i}.jpg") for i in ids],
        [os.path.join(root, "cls", f"{i}.mat") for i in ids],
    )


def sbd(
    root: str | os.PathLike,
    split: str = "train",
    *,
    num_classes: int | None = len(VOC_CLASS_NAMES),
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """SBD segmentation examples at native size, with VOC's 21 classes.

    Every example is checked as it is decoded: a missing, truncated or unreadable file, a mask
    of another size than its image or a label outside `[0, num_classes)` and 255 stops the
    pipeline with an error naming the file.

    Args:
        root: the `benchmark_RELEASE/dataset` directory.
        split: `"train"`, `"val"`, `"trainval"`, or another `{split}.txt` in `root`.
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` skips the check.
        shuffle: `dataset_from_files`'s: a new order of the files each epoch, for training.
        seed: `dataset_from_files`'s: makes the orders repeatable.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(H, W, 3)` RGB and int32 `(H, W)`.

    Raises:
        ValueError: for a missing directory, split or file (`sbd_files`), or an empty split.

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_sbd_tree("dataset", {"train": ["2008_000002"]})
    >>> image, label = next(iter(sbd("dataset", split="train")))
    >>> np.array_equal(label, tree.labels["2008_000002"])
    True
    """
    return dataset_from_files(sbd_files(root, split), num_classes, shuffle=shuffle, seed=seed)
