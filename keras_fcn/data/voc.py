"""The PASCAL VOC segmentation source: a `VOCdevkit/VOC20XX` directory.

The directory holds `JPEGImages/{id}.jpg`, `SegmentationClass/{id}.png` and the split lists
`ImageSets/Segmentation/{train,val,trainval}.txt`. The masks are palette PNGs whose stored
values are the class indices (0 = background, 1..20 the classes, 255 = the void border).
`tf.io.decode_png` returns the palette's colours instead, so masks are mapped back to indices
through the VOC palette, in the graph; a colour outside the palette is an error naming the file.
Masks saved as RGB in the VOC colours are read the same way.

Reference: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010.
"""

import glob
import os

import tensorflow as tf

from keras_fcn.classes import VOC_CLASS_NAMES, voc_palette
from keras_fcn.data.files import (
    FilePairs,
    dataset_from_files,
    not_a_dataset_directory,
    split_list_pairs,
)
from keras_fcn.data.split_lists import (
    SHIPPED_SPLITS,
    read_split,
    shipped_split,
    train_aug_ids,
    voc_split_path,
)

VOC_NUM_CLASSES = len(VOC_CLASS_NAMES)
"""21: background and the 20 object classes."""

COMBINED_SPLITS = ("train_aug",)
"""Splits of `voc` that combine VOC with SBD and need `sbd_root`."""


def _check_voc_root(root: str) -> None:
    required = ("JPEGImages", "SegmentationClass")
    if all(os.path.isdir(os.path.join(root, name)) for name in required):
        return
    candidates = sorted(
        glob.glob(os.path.join(root, "VOC20*")) + glob.glob(os.path.join(root, "*", "VOC20*"))
    )
    raise not_a_dataset_directory(
        root,
        f"a VOC directory: expected it to contain {required[0]}/ and {required[1]}/ "
        "(e.g. VOCdevkit/VOC2012)",
        candidates,
    )


def voc_files(
    root: str | os.PathLike, split: str = "train", sbd_root: str | os.PathLike | None = None
) -> FilePairs:
    """Lists the image and mask files of a VOC segmentation split.

    A split is read from `ImageSets/Segmentation/{split}.txt` when that file exists. Otherwise
    `"seg11valid"` is the list shipped with the package (the paper's 736 validation images) and
    `"train_aug"` is VOC `train` plus SBD `train` and `val` minus VOC `val`, which needs
    `sbd_root`; its images come from `JPEGImages/`, its masks from `SegmentationClass/` for VOC
    `train` images (finer, with the void border) and from SBD's `cls/*.mat` for the rest.

    Args:
        root: a `VOCdevkit/VOC20XX` directory.
        split: `"train"`, `"val"`, `"trainval"`, `"seg11valid"`, `"train_aug"`, or the name of
            another list in `ImageSets/Segmentation/`.
        sbd_root: SBD's `benchmark_RELEASE/dataset` directory, for `"train_aug"`.

    Returns:
        A `FilePairs`; missing files are recorded as its problems.

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_voc_tree("VOC2012", {"val": ["2007_000033", "2007_000042"]})
    >>> pairs = voc_files("VOC2012", "val")
    >>> len(pairs), pairs.label_paths[0]
    (2, 'VOC2012/SegmentationClass/2007_000033.png')
    """
    root = os.fspath(root)
    _check_voc_root(root)
    list_path = voc_split_path(root, split)
    sbd_ids = set()
    if os.path.isfile(list_path):
        ids, source = read_split(list_path), list_path
    elif split in SHIPPED_SPLITS:
        ids, source = shipped_split(split), f"{root} ({split}, the list shipped with keras_fcn)"
    elif split in COMBINED_SPLITS:
        if sbd_root is None:
            raise ValueError(
                f"Split {split!r} combines VOC with SBD: pass sbd_root, the "
                "benchmark_RELEASE/dataset directory."
            )
        ids, source = train_aug_ids(root, sbd_root), f"{root} + {sbd_root} ({split})"
        sbd_ids = set(ids) - set(read_split(voc_split_path(root, "train")))
    else:
        list_dir = os.path.dirname(list_path)
        names = os.listdir(list_dir) if os.path.isdir(list_dir) else []
        listed = sorted(os.path.splitext(name)[0] for name in names if name.endswith(".txt"))
        raise ValueError(
            f"Unknown VOC split {split!r}: {list_path} does not exist. Available splits: "
            f"{[*listed, *SHIPPED_SPLITS, *COMBINED_SPLITS]}."
        )
    image_paths = [os.path.join(root, "JPEGImages", f"{i}.jpg") for i in ids]
    label_paths = [
        os.path.join(os.fspath(sbd_root), "cls", f"{i}.mat")
        if i in sbd_ids
        else os.path.join(root, "SegmentationClass", f"{i}.png")
        for i in ids
    ]
    return split_list_pairs(
        source, image_paths, label_paths, palette=voc_palette(), palette_name="VOC"
    )


def voc(
    root: str | os.PathLike,
    split: str = "train",
    *,
    num_classes: int | None = VOC_NUM_CLASSES,
    sbd_root: str | os.PathLike | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """PASCAL VOC segmentation examples at native size.

    See `voc_files` for the splits. Every example is checked as it is decoded: a missing or
    truncated file, a mask of another size than its image, a mask colour outside the VOC
    palette or a label outside `[0, num_classes)` and 255 stops the pipeline with an error
    naming the file.

    Args:
        root: a `VOCdevkit/VOC20XX` directory.
        split: `"train"`, `"val"`, `"trainval"`, `"seg11valid"`, `"train_aug"` (needs
            `sbd_root`), or another list in `ImageSets/Segmentation/`.
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` skips the check.
        sbd_root: SBD's `benchmark_RELEASE/dataset` directory, for `"train_aug"`.
        shuffle: `dataset_from_files`'s: a new order of the files each epoch, for training.
        seed: `dataset_from_files`'s: makes the orders repeatable.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(H, W, 3)` RGB and int32 `(H, W)` with
        255 for void pixels.

    Raises:
        ValueError: from `voc_files` (no such directory or split, or `"train_aug"` without
            `sbd_root`) or `dataset_from_files` (an empty split, or files it names missing).

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_voc_tree("VOC2012", {"val": ["2007_000033"]})
    >>> image, label = next(iter(voc("VOC2012", split="val")))
    >>> image.shape[:2] == label.shape, np.unique(label).tolist()
    (True, [0, 6, 255])
    """
    pairs = voc_files(root, split, sbd_root)
    return dataset_from_files(pairs, num_classes, shuffle=shuffle, seed=seed)
