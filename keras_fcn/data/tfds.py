"""The TensorFlow Datasets source: any TFDS dataset with an image and a segmentation mask.

`from_tfds(name)` calls `tfds.load` and keeps two features: the image (`image_key`) and the
mask (`mask_key`), whose values may be remapped to class indices by `label_map`. Datasets listed
in `KNOWN_DATASETS` come with their keys and mapping:

- `oxford_iiit_pet`: the trimap `segmentation_mask` stores 1 = pet, 2 = background,
  3 = border. It becomes 1 = pet, 0 = background and 255 = border (ignored, since the border
  is the uncertain band around the pet's outline): two classes.

TFDS's `voc` holds detection boxes, not segmentation masks: use `keras_fcn.data.voc` on a
VOCdevkit directory instead.

Reference: O. M. Parkhi et al., "Cats and Dogs", CVPR 2012 (Oxford-IIIT Pet).
"""

import dataclasses
import os
import re

import requests
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core import constants as tfds_constants

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data.checks import (
    check_image_channels,
    check_label_values,
    check_same_size,
    label_table,
    map_labels,
)
from keras_fcn.data.formats import to_rgb
from keras_fcn.downloads import DownloadError


@dataclasses.dataclass(frozen=True)
class TfdsLayout:
    """Where a TFDS dataset keeps its image and mask, and how mask values become labels.

    Args:
        image_key: the image feature.
        mask_key: the mask feature.
        label_map: stored mask value -> class index (or 255); `None` keeps values as they are.
        class_names: the classes, when known.

    Example:

    >>> KNOWN_DATASETS["oxford_iiit_pet"].label_map[3]
    255
    """

    image_key: str = "image"
    mask_key: str = "segmentation_mask"
    label_map: dict[int, int] | None = None
    class_names: tuple[str, ...] | None = None


KNOWN_DATASETS = {
    "oxford_iiit_pet": TfdsLayout(
        label_map={1: 1, 2: 0, 3: IGNORE_LABEL}, class_names=("background", "pet")
    ),
}
"""Layouts of TFDS datasets that `from_tfds` knows, by name."""

DATASETS_WITHOUT_MASKS = {
    "voc": "TFDS 'voc' has detection boxes but no segmentation masks. Download VOC2012 and use "
    "keras_fcn.data.voc('VOCdevkit/VOC2012') (dataset spec 'voc:PATH') instead.",
}
"""TFDS datasets that look like segmentation datasets but have no masks, with what to use."""


def base_name(name: str) -> str:
    """The dataset part of a TFDS name, without config and version: `"voc/2012:5.*"` -> `"voc"`.

    Args:
        name: a TFDS name.

    Returns:
        The base name.

    Example:

    >>> base_name("oxford_iiit_pet:4.*.*")
    'oxford_iiit_pet'
    """
    return re.split(r"[/:]", name, maxsplit=1)[0]


def tfds_layout(
    name: str,
    image_key: str | None = None,
    mask_key: str | None = None,
    label_map: dict[int, int] | None = None,
) -> TfdsLayout:
    """The layout of a TFDS dataset: `KNOWN_DATASETS`' entry, overridden by given arguments.

    Args:
        name: a TFDS name.
        image_key: the image feature, or `None` for the known or default one (`"image"`).
        mask_key: the mask feature, or `None` for the known or default one
            (`"segmentation_mask"`).
        label_map: mask value -> label, or `None` for the known mapping (or none).

    Returns:
        A `TfdsLayout`.

    Raises:
        ValueError: for TFDS datasets without masks, such as `voc`.

    Example:

    >>> tfds_layout("oxford_iiit_pet").mask_key
    'segmentation_mask'
    """
    base = base_name(name)
    if base in DATASETS_WITHOUT_MASKS:
        raise ValueError(DATASETS_WITHOUT_MASKS[base])
    known = KNOWN_DATASETS.get(base, TfdsLayout())
    return TfdsLayout(
        image_key=image_key or known.image_key,
        mask_key=mask_key or known.mask_key,
        label_map=known.label_map if label_map is None else label_map,
        class_names=known.class_names if label_map is None else None,
    )


def tfds_examples(
    name: str, split: str, data_dir: str | None, layout: TfdsLayout
) -> tf.data.Dataset:
    """Loads a TFDS split as `(image, mask, description)`, without checking the examples.

    The description names the example (`"oxford_iiit_pet[train] example 12 (Abyssinian_1.jpg)"`)
    in errors. `from_tfds` adds the checks; `check_dataset` reports them.

    Args:
        name: a TFDS name.
        split: a TFDS split, e.g. `"train"` or `"test[:10%]"`.
        data_dir: TFDS's data directory, or `None` for its default.
        layout: the features to keep.

    Returns:
        A `tf.data.Dataset` of uint8 `(H, W, C)` images, raw `(H, W)` masks and descriptions.

    Raises:
        DownloadError: if the split is not prepared in `data_dir` and its files cannot be
            downloaded (offline); the message names the URL, where the prepared dataset goes,
            and `data_dir=`.

    Example:

    >>> layout = tfds_layout("oxford_iiit_pet")
    >>> examples = tfds_examples("oxford_iiit_pet", "test", None, layout)  # doctest: +SKIP
    """
    try:
        dataset, info = tfds.load(
            name, split=split, data_dir=data_dir, shuffle_files=False, with_info=True
        )
    except requests.exceptions.RequestException as error:  # TFDS downloads with requests
        prepared = os.path.join(data_dir or tfds_constants.DATA_DIR, base_name(name))
        url = error.request.url if error.request is not None else f"the files of {name}"
        raise DownloadError(
            url,
            prepared,
            f"data_dir=DIR (tfds:{name},data_dir=DIR) where `tfds build {base_name(name)} "
            "--data_dir DIR` prepared it on a machine online",
            str(error),
        ) from None
    features = info.features
    missing = [key for key in (layout.image_key, layout.mask_key) if key not in features]
    if missing:
        raise ValueError(
            f"TFDS dataset {name!r} has no feature {missing[0]!r}; its features are "
            f"{sorted(features.keys())}. Pass image_key= and mask_key= to name the image and "
            "the segmentation mask."
        )
    has_file_name = "file_name" in features
    prefix = f"{name}[{split}] example "

    def select(index, example):
        description = tf.strings.join([prefix, tf.strings.as_string(index)])
        if has_file_name:
            description = tf.strings.join([description, " (", example["file_name"], ")"])
        mask = example[layout.mask_key]
        if mask.shape.rank == 3:
            mask = mask[..., 0]
        return example[layout.image_key], mask, description

    return dataset.enumerate().map(select, num_parallel_calls=tf.data.AUTOTUNE)


def from_tfds(
    name: str,
    split: str = "train",
    data_dir: str | None = None,
    *,
    image_key: str | None = None,
    mask_key: str | None = None,
    label_map: dict[int, int] | None = None,
    num_classes: int | None = None,
) -> tf.data.Dataset:
    """Segmentation examples from a TensorFlow Datasets dataset, at native size.

    `oxford_iiit_pet` is known: its trimap becomes 1 = pet, 0 = background and 255 = border
    (ignored). Other datasets need their features named when they differ from `"image"` and
    `"segmentation_mask"`. Mask values missing from `label_map`, masks of another size than their
    image and labels outside `[0, num_classes)` and 255 stop the pipeline with an error naming
    the example.

    Args:
        name: a TFDS name, e.g. `"oxford_iiit_pet"` or `"oxford_iiit_pet:4.*.*"`.
        split: a TFDS split, e.g. `"train"`, `"test"`, `"train[:90%]"`.
        data_dir: TFDS's data directory, or `None` for its default (`~/tensorflow_datasets`).
        image_key: the image feature (default: the known one, else `"image"`).
        mask_key: the mask feature (default: the known one, else `"segmentation_mask"`).
        label_map: stored mask value -> class index or 255 (default: the known one, else the
            values are the labels).
        num_classes: labels must lie in `[0, num_classes)` or be 255 (default: 2 for
            `oxford_iiit_pet`, otherwise unchecked).

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(H, W, 3)` RGB and int32 `(H, W)`.

    Raises:
        ValueError: for TFDS `voc` (no masks; use `keras_fcn.data.voc`), or when the features
            do not exist.

    Example:

    >>> dataset = from_tfds("oxford_iiit_pet", split="train")  # doctest: +SKIP
    """
    layout = tfds_layout(name, image_key, mask_key, label_map)
    if num_classes is None and layout.class_names is not None:
        num_classes = len(layout.class_names)
    table = None if layout.label_map is None else tf.constant(label_table(layout.label_map))

    def to_example(image, mask, description):
        image = to_rgb(check_image_channels(image, description))
        image = tf.ensure_shape(tf.cast(image, tf.uint8), [None, None, 3])
        label = tf.cast(mask, tf.int32)
        if table is not None:
            label = map_labels(label, table, description)
        label = check_same_size(image, label, description, description)
        if num_classes is not None:
            label = check_label_values(label, num_classes, description)
        return image, label

    examples = tfds_examples(name, split, data_dir, layout)
    return examples.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
