"""Split lists of PASCAL VOC and SBD: reading them, the paper's combined splits, overlap checks.

FCN trains on SBD `train` (8,498 images) and validates on `seg11valid`: the 736 images of VOC2011
segmentation `val` that are not in SBD `train`, since SBD re-annotates VOC images and its
training list contains part of VOC's validation list. Validating on plain VOC `val` after
training on SBD reports numbers several points too high.

The paper's `seg11valid` list ships with this package (`splits/seg11valid.txt`, from
`fcn.berkeleyvision.org/data/pascal/seg11valid.txt`), so VOC2012 users, whose `val` is larger
than VOC2011's, get the same 736 images. `seg11valid_ids` applies the rule itself to any VOC
root (with a VOC2011 root it rebuilds the shipped list).

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 4.3 (footnote on SBD) and `fcn.berkeleyvision.org`.
"""

import importlib.resources
import os
from collections import Counter

SHIPPED_SPLITS = ("seg11valid",)
"""Split lists that ship with the package."""


def read_split(path: str | os.PathLike) -> list[str]:
    """Reads a split list: one example id per line, blank lines skipped.

    Args:
        path: the list, e.g. `VOC2012/ImageSets/Segmentation/train.txt`.

    Returns:
        The ids, in file order.

    Raises:
        ValueError: if the file does not exist or names an id twice.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_split_list("val.txt", ["2007_000033", "2007_000042"])
    >>> read_split("val.txt")
    ['2007_000033', '2007_000042']
    """
    if not os.path.isfile(path):
        raise ValueError(f"Split list {path} does not exist.")
    with open(path, encoding="utf-8") as file:
        ids = [line.strip() for line in file if line.strip()]
    duplicates = sorted(example_id for example_id, count in Counter(ids).items() if count > 1)
    if duplicates:
        raise ValueError(f"Split list {path} names some ids more than once: {duplicates[:10]}.")
    return ids


def shipped_split(name: str) -> list[str]:
    """Returns a split list that ships with the package, e.g. `"seg11valid"`.

    Args:
        name: one of `SHIPPED_SPLITS`.

    Returns:
        The ids, in file order.

    Example:

    >>> len(shipped_split("seg11valid"))
    736
    """
    if name not in SHIPPED_SPLITS:
        raise ValueError(f"No shipped split list {name!r}; shipped lists: {SHIPPED_SPLITS}.")
    resource = importlib.resources.files("keras_fcn.data") / "splits" / f"{name}.txt"
    with importlib.resources.as_file(resource) as path:
        return read_split(path)


def voc_split_path(voc_root: str | os.PathLike, split: str) -> str:
    """Returns the path of a VOC segmentation split list, `ImageSets/Segmentation/{split}.txt`.

    Args:
        voc_root: a `VOCdevkit/VOC20XX` directory.
        split: the list's name, e.g. `"train"`.

    Returns:
        The path (which may not exist).

    Example:

    >>> voc_split_path("VOC2012", "val")
    'VOC2012/ImageSets/Segmentation/val.txt'
    """
    return os.path.join(os.fspath(voc_root), "ImageSets", "Segmentation", f"{split}.txt")


def sbd_split_ids(sbd_root: str | os.PathLike, split: str) -> list[str]:
    """Reads an SBD split list, `{sbd_root}/{split}.txt`; `"trainval"` is `train` then `val`.

    Args:
        sbd_root: the `benchmark_RELEASE/dataset` directory.
        split: `"train"`, `"val"`, `"trainval"` or the name of another list in `sbd_root`.

    Returns:
        The ids.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_split_list("dataset/train.txt", ["2008_000002"])
    >>> testing.write_split_list("dataset/val.txt", ["2008_000003"])
    >>> sbd_split_ids("dataset", "trainval")
    ['2008_000002', '2008_000003']
    """
    path = os.path.join(os.fspath(sbd_root), f"{split}.txt")
    if split == "trainval" and not os.path.isfile(path):
        return sbd_split_ids(sbd_root, "train") + sbd_split_ids(sbd_root, "val")
    return read_split(path)


def seg11valid_ids(voc_root: str | os.PathLike, sbd_root: str | os.PathLike) -> list[str]:
    """Applies the `seg11valid` rule: VOC segmentation `val` minus SBD `train`.

    With a VOC2011 root this gives the paper's 736 images (the list shipped as `seg11valid`);
    with a VOC2012 root, whose `val` has 1,449 images, the same rule keeps more.

    Args:
        voc_root: a `VOCdevkit/VOC20XX` directory.
        sbd_root: the `benchmark_RELEASE/dataset` directory.

    Returns:
        The ids, in the order of VOC's `val` list.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_split_list("VOC2011/ImageSets/Segmentation/val.txt", ["a", "b", "c"])
    >>> testing.write_split_list("dataset/train.txt", ["b", "d"])
    >>> seg11valid_ids("VOC2011", "dataset")
    ['a', 'c']
    """
    sbd_train = set(sbd_split_ids(sbd_root, "train"))
    return [i for i in read_split(voc_split_path(voc_root, "val")) if i not in sbd_train]


def train_aug_ids(voc_root: str | os.PathLike, sbd_root: str | os.PathLike) -> list[str]:
    """Builds the usual "train_aug" list: VOC `train`, SBD `train` and `val`, minus VOC `val`.

    This is the 10,582-image training set of most later VOC work (with VOC2012 and SBD). It
    never contains a VOC `val` image.

    Args:
        voc_root: a `VOCdevkit/VOC20XX` directory.
        sbd_root: the `benchmark_RELEASE/dataset` directory.

    Returns:
        The ids, sorted.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_split_list("VOC2012/ImageSets/Segmentation/train.txt", ["a", "b"])
    >>> testing.write_split_list("VOC2012/ImageSets/Segmentation/val.txt", ["c", "d"])
    >>> testing.write_split_list("dataset/train.txt", ["b", "d", "e"])
    >>> testing.write_split_list("dataset/val.txt", ["c", "f"])
    >>> train_aug_ids("VOC2012", "dataset")
    ['a', 'b', 'e', 'f']
    """
    voc_val = set(read_split(voc_split_path(voc_root, "val")))
    union = set(read_split(voc_split_path(voc_root, "train")))
    union |= set(sbd_split_ids(sbd_root, "trainval"))
    return sorted(union - voc_val)


def split_overlap(ids: list[str], train_ids: list[str]) -> list[str]:
    """Returns the ids of a validation or test list that are also in a training list.

    An evaluation list must not share images with the training list: plain VOC2011 `val`, for
    one, shares hundreds of images with SBD `train`, which `seg11valid` removes.

    Args:
        ids: the evaluation list.
        train_ids: the training list.

    Returns:
        The shared ids, sorted; empty when the lists are disjoint.

    Example:

    >>> split_overlap(["2007_000033", "2007_000042"], ["2007_000042", "2008_000002"])
    ['2007_000042']
    """
    return sorted(set(ids) & set(train_ids))
