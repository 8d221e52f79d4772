"""The files of one split: (image, mask) path pairs, the problems found listing them, and the
dataset they decode to.

File-based sources (`voc`, `sbd`, `camvid`, `folder`) first list their split as a `FilePairs`
(`split_list_pairs` for the files a split list names), then decode it with `dataset_from_files`.
Listing never raises for a bad file: it records a `DataProblem`, so that `check_dataset` can
report every problem at once while a source refuses to build a dataset from a listing that has
any. A directory that is not the dataset's at all is an error (`not_a_dataset_directory`).
"""

import dataclasses
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data.checks import (
    check_label_values,
    check_same_size,
    label_table,
    map_labels,
    void_to_ignore,
)
from keras_fcn.data.formats import decode_image, decode_mask


@dataclasses.dataclass(frozen=True)
class DataProblem:
    """One problem with one file of a dataset.

    Args:
        path: the file (or directory, or split list) at fault.
        message: what is wrong with it, and where possible how to fix it.

    Example:

    >>> str(DataProblem("VOC2012/SegmentationClass/2007_000032.png", "file is missing"))
    'VOC2012/SegmentationClass/2007_000032.png: file is missing'
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclasses.dataclass(frozen=True)
class FilePairs:
    """The image and mask files of one split, in order, with the problems found listing them.

    Args:
        source: what was listed (a split list or a directory), named in errors.
        image_paths: one image file per example.
        label_paths: the mask of each example: a PNG, or an SBD `.mat` file.
        palette: `None` to read palette PNG masks through the palette stored in each file, or a
            `(K, 3)` uint8 array (e.g. the VOC palette) that maps the colours of palette and RGB
            masks back to class indices.
        palette_name: how errors name `palette`, e.g. `"VOC"` for "not in the VOC palette".
        problems: missing or unpaired files found while listing.
        void: the stored mask value of void pixels, read as 255 (e.g. 11 for CamVid); `None`
            when void is already 255.
        label_map: stored mask value -> class index (or 255), for masks that store other
            values than the labels; every stored value must appear in it. At most one of
            `void` and `label_map` is given.

    Raises:
        ValueError: if both `void` and `label_map` are given.

    Example:

    >>> pairs = FilePairs("masks/", ("a.jpg",), ("a.png",))
    >>> len(pairs)
    1
    """

    source: str
    image_paths: tuple[str, ...]
    label_paths: tuple[str, ...]
    palette: np.ndarray | None = None
    palette_name: str = "given"
    problems: tuple[DataProblem, ...] = ()
    void: int | None = None
    label_map: dict[int, int] | None = None

    def __post_init__(self):
        if self.void is not None and self.label_map is not None:
            raise ValueError(
                f"{self.source}: give void= or label_map=, not both (received void={self.void} "
                f"and label_map={self.label_map}); put the void value in the label map as "
                f"{{{self.void}: 255}}."
            )
        if self.label_map is not None:
            label_table(self.label_map)  # rejects bad keys now rather than in the pipeline

    def __len__(self) -> int:
        return len(self.image_paths)

    def relabel(self, mask: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
        """Turns a decoded mask's stored values into labels (`void` or `label_map`).

        Args:
            mask: integer tensor of shape `(H, W)`, as the mask file stores it.
            path: scalar string tensor, the mask file, named in errors.

        Returns:
            An int32 tensor of shape `(H, W)`.

        Example:

        >>> pairs = FilePairs("camvid", ("a.png",), ("a_annot.png",), void=11)
        >>> pairs.relabel(tf.constant([[0, 11]]), "a_annot.png").numpy()
        array([[  0, 255]], dtype=int32)
        """
        if self.label_map is not None:
            return map_labels(mask, tf.constant(label_table(self.label_map)), path)
        if self.void is not None:
            return void_to_ignore(mask, self.void)
        return tf.cast(mask, tf.int32)


def missing_file_problems(paths: list[str]) -> list[DataProblem]:
    """Returns a `DataProblem` for each of `paths` that is not an existing file.

    Args:
        paths: files that a split list names.

    Returns:
        The problems, in the order of `paths`.

    Example:

    >>> missing_file_problems(["/no/such/file.png"])[0].message
    'file is missing'
    """
    return [DataProblem(path, "file is missing") for path in paths if not os.path.isfile(path)]


def split_list_pairs(
    source: str,
    image_paths: list[str],
    label_paths: list[str],
    *,
    palette: np.ndarray | None = None,
    palette_name: str = "given",
    void: int | None = None,
) -> FilePairs:
    """The `FilePairs` of the files a split list names, each missing file recorded as a problem.

    Args:
        source: the split list (or lists), named in errors.
        image_paths: one image file per example, in the list's order.
        label_paths: the mask file of each example.
        palette: the palette of PNG masks, as in `FilePairs`.
        palette_name: how errors name `palette`.
        void: the stored mask value of void pixels, as in `FilePairs`.

    Returns:
        A `FilePairs` whose problems are the missing files, images first.

    Example:

    >>> pairs = split_list_pairs("train.txt", ["img/a.jpg"], ["cls/a.mat"])
    >>> len(pairs), [str(problem) for problem in pairs.problems]
    (1, ['img/a.jpg: file is missing', 'cls/a.mat: file is missing'])
    """
    return FilePairs(
        source=source,
        image_paths=tuple(image_paths),
        label_paths=tuple(label_paths),
        palette=palette,
        palette_name=palette_name,
        problems=tuple(missing_file_problems(image_paths + label_paths)),
        void=void,
    )


def not_a_dataset_directory(root: str, expected: str, suggestions: list[str]) -> ValueError:
    """The error for a directory that lacks what a source reads, suggesting where it may be.

    Args:
        root: the directory given.
        expected: what it is not, and what it should hold.
        suggestions: directories found that look right; the first is suggested.

    Returns:
        The `ValueError` to raise.

    Example:

    >>> print(not_a_dataset_directory("data", "an SBD directory: expected img/", ["data/dataset"]))
    data is not an SBD directory: expected img/. Did you mean data/dataset?
    """
    hint = f" Did you mean {suggestions[0]}?" if suggestions else ""
    return ValueError(f"{root} is not {expected}.{hint}")


def summarize_problems(
    problems: list[DataProblem] | tuple[DataProblem, ...], limit: int = 10
) -> str:
    """Formats problems one per line, at most `limit` of them, saying how many were left out.

    Args:
        problems: the problems to list.
        limit: how many to write out in full.

    Returns:
        A multi-line string.

    Example:

    >>> print(summarize_problems([DataProblem("a.png", "file is missing")]))
      a.png: file is missing
    """
    lines = [f"  {problem}" for problem in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)


def decode_example(
    image_path: tf.Tensor,
    label_path: tf.Tensor,
    palette: np.ndarray | tf.Tensor | None = None,
    num_classes: int | None = None,
    *,
    palette_name: str = "given",
    relabel: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Reads one `(image, label)` example from its two files, checking that they agree.

    Args:
        image_path: scalar string tensor, the image file.
        label_path: scalar string tensor, the mask file (PNG or SBD `.mat`).
        palette: the palette of PNG masks, as in `decode_png_mask`.
        num_classes: when given, label values outside `[0, num_classes)` and 255 are an error
            (checked after `relabel`).
        palette_name: how errors name `palette`.
        relabel: `relabel(mask, label_path)` turns stored mask values into labels (e.g.
            `FilePairs.relabel`); `None` when the masks hold the labels.

    Returns:
        `(image, label)`: uint8 `(H, W, 3)` and int32 `(H, W)`.

    Example:

    >>> from keras_fcn.data import testing
    >>> image, label = testing.example_arrays("a")
    >>> testing.write_jpeg("a.jpg", image)
    >>> testing.write_palette_png("a.png", label)
    >>> image, label = decode_example(tf.constant("a.jpg"), tf.constant("a.png"))
    >>> image.shape[:2] == label.shape
    True
    """
    image = decode_image(image_path)
    label = decode_mask(label_path, palette, palette_name)
    if relabel is not None:
        label = relabel(label, label_path)
    label = check_same_size(image, label, image_path, label_path)
    if num_classes is not None:
        label = check_label_values(label, num_classes, label_path)
    return image, label


def dataset_from_files(
    pairs: FilePairs,
    num_classes: int | None = None,
    *,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Builds the dataset of decoded `(image, label)` examples of a listing.

    Listings are sorted (by stem, or in the order of a split list), and neighbours in them are
    often frames of one video or photos of one day. A training pipeline's shuffle buffer holds
    decoded images, so it cannot hold a whole dataset and only mixes neighbours: with
    `shuffle=True` the file paths, which are cheap to hold, are put in a new random order every
    epoch before anything is decoded.

    Args:
        pairs: the files, as listed by a source.
        num_classes: when given, the decode step checks every label value.
        shuffle: a new random order of all the files each epoch, for training; `False` keeps
            the listing's order.
        seed: makes the shuffled orders repeatable; `None` draws new ones each run.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(H, W, 3)` and int32 `(H, W)`.

    Raises:
        ValueError: if the listing found problems (missing or unpaired files) or is empty.

    Example:

    >>> from keras_fcn.data import testing
    >>> image, label = testing.example_arrays("a")
    >>> testing.write_jpeg("a.jpg", image)
    >>> testing.write_palette_png("a.png", label)
    >>> dataset = dataset_from_files(FilePairs("a", ("a.jpg",), ("a.png",)), num_classes=21)
    >>> [tuple(tensor.shape) for tensor in next(iter(dataset))]
    [(20, 25, 3), (20, 25)]
    """
    if pairs.problems:
        raise ValueError(
            f"{pairs.source}: {len(pairs.problems)} problem(s) with the dataset's files:\n"
            f"{summarize_problems(pairs.problems)}\n"
            "Run `keras-fcn check-data` on the dataset to list every problem."
        )
    if not len(pairs):
        raise ValueError(f"{pairs.source}: the split lists no examples.")
    if num_classes is not None and not 0 < num_classes <= IGNORE_LABEL:
        raise ValueError(f"num_classes must be in [1, {IGNORE_LABEL}], received {num_classes}.")
    paths = tf.data.Dataset.from_tensor_slices((list(pairs.image_paths), list(pairs.label_paths)))
    if shuffle:
        paths = paths.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    return paths.map(
        lambda image_path, label_path: decode_example(
            image_path,
            label_path,
            pairs.palette,
            num_classes,
            palette_name=pairs.palette_name,
            relabel=pairs.relabel,
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
