"""Checking a whole dataset for bad examples, behind `keras-fcn check-data`.

`check_dataset` reads every example of a dataset and returns one `DataProblem` (file and
message) per problem, instead of stopping at the first as the pipelines do: missing or
unpaired files, unreadable or truncated files, images with the wrong number of channels, masks
that are not PNGs or use colours outside their palette, masks whose size differs from their
image's, label values outside `[0, num_classes)` and 255, and empty splits. File-based sources
are checked with the same decoding functions their pipelines use, so the two always agree.
"""

import os
import re

import numpy as np
import tensorflow as tf

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data.checks import label_table
from keras_fcn.data.files import DataProblem, FilePairs
from keras_fcn.data.formats import decode_image, decode_mask
from keras_fcn.data.sources import named_examples
from keras_fcn.data.spec import DatasetSpec, parse_spec

_PATH = tf.TensorSpec([], tf.string)
_read_image = tf.function(decode_image, input_signature=[_PATH])
_read_mask = tf.function(decode_mask, input_signature=[_PATH])


def _error_text(error: tf.errors.OpError, path: str) -> str:
    """The useful line of a TensorFlow error raised while decoding `path`, without the path."""
    message = error.message
    match = re.search(r"assertion failed: \[(.*)\]", message) or re.search(
        r"ValueError: (.*)", message
    )
    if match:
        text = match.group(1)
    else:
        lines = message.splitlines()
        ends = [i for i, line in enumerate(lines) if line.strip().startswith("[[")]
        text = lines[ends[0] - 1] if ends and ends[0] > 0 else lines[0]
        text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text).strip()
    return text.removeprefix(f"{path}: ")


def _as_tf_prints(values) -> str:
    """Writes integers as `tf.strings.format` does, `[5 7]`, so both kinds of check agree."""
    return "[" + " ".join(str(int(value)) for value in values) + "]"


def _label_problems(path: str, label: np.ndarray, num_classes: int | None) -> list[DataProblem]:
    if num_classes is None:
        return []
    bad = (label < 0) | ((label >= num_classes) & (label != IGNORE_LABEL))
    if not bad.any():
        return []
    values = _as_tf_prints(np.unique(label[bad])[:10])
    return [
        DataProblem(
            path,
            f"label values {values} are outside [0, {num_classes}) and the ignore label "
            f"{IGNORE_LABEL}",
        )
    ]


def _size_problems(
    image_name: str, label_name: str, image: np.ndarray, label: np.ndarray
) -> list[DataProblem]:
    if image.shape[:2] == label.shape[:2]:
        return []
    return [
        DataProblem(
            label_name,
            f"the mask is {_as_tf_prints(label.shape[:2])} (height, width) but its image "
            f"{image_name} is {_as_tf_prints(image.shape[:2])}",
        )
    ]


def check_files(pairs: FilePairs, num_classes: int | None = None) -> list[DataProblem]:
    """Reads every file of a listing and returns all the problems found.

    Args:
        pairs: the files, as listed by `voc_files`, `sbd_files` or `folder_files`.
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` skips the check.

    Returns:
        The listing's own problems (missing, unpaired files), then those of each example.

    Example:

    >>> problems = check_files(folder_files("data/images", "data/masks"), 3)  # doctest: +SKIP
    """
    problems = list(pairs.problems)
    if not len(pairs) and not problems:
        return [DataProblem(pairs.source, "the split lists no examples")]
    if pairs.palette is None:
        read_mask = _read_mask
    else:
        palette = tf.constant(pairs.palette, tf.uint8)
        read_mask = tf.function(
            lambda path: decode_mask(path, palette, pairs.palette_name), input_signature=[_PATH]
        )

    for image_path, label_path in zip(pairs.image_paths, pairs.label_paths, strict=True):
        if not (os.path.isfile(image_path) and os.path.isfile(label_path)):
            continue  # already a problem of the listing
        decoded = {}
        for path, read in ((image_path, _read_image), (label_path, read_mask)):
            try:
                decoded[path] = read(tf.constant(path)).numpy()
            except tf.errors.OpError as error:
                problems.append(DataProblem(path, _error_text(error, path)))
        if label_path in decoded:
            problems += _label_problems(label_path, decoded[label_path], num_classes)
        if len(decoded) == 2:
            problems += _size_problems(
                image_path, label_path, decoded[image_path], decoded[label_path]
            )
    return problems


def _check_arrays(
    examples, source: str, num_classes: int | None, label_map=None
) -> list[DataProblem]:
    """Checks `(image, label, name)` numpy examples; `label_map` maps stored mask values."""
    problems = []
    table = None if label_map is None else label_table(label_map)
    count = 0
    for image, label, name in examples:
        count += 1
        name = name.decode() if isinstance(name, bytes) else name
        if image.ndim != 3 or image.shape[-1] not in (1, 3):
            problems.append(
                DataProblem(
                    name, f"the image has shape {image.shape}; expected (H, W, 3) or (H, W, 1)"
                )
            )
        label = label.astype(np.int64)
        if table is not None:
            in_table = (label >= 0) & (label < len(table) - 1)
            unmapped = np.unique(label[~in_table | (table[np.where(in_table, label, -1)] < 0)])
            if unmapped.size:
                problems.append(
                    DataProblem(
                        name, f"mask values {_as_tf_prints(unmapped[:10])} are not in label_map"
                    )
                )
                continue
            label = table[label]
        problems += _size_problems(name, name, image, label)
        problems += _label_problems(name, label, num_classes)
    if count == 0:
        problems.append(DataProblem(source, "the split has no examples"))
    return problems


def check_dataset(
    source: str | DatasetSpec | tf.data.Dataset,
    num_classes: int | None = None,
    split: str = "train",
) -> list[DataProblem]:
    """Reads every example of a dataset and lists every problem found, each with its file.

    This is what `keras-fcn check-data SPEC --num-classes N` prints. Unlike the pipelines,
    which stop at the first bad example, it goes through the whole split.

    Args:
        source: a dataset spec (`"voc:/data/VOC2012"`, see `keras_fcn.data.spec`), a parsed
            `DatasetSpec`, or a `tf.data.Dataset` of `(image, label)` (whose problems are then
            named by example index).
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` takes the spec's
            number of classes (21 for VOC and SBD), or skips the check when it is unknown.
        split: the split to check, unless the spec sets `split=`.

    Returns:
        The problems, as `DataProblem(path, message)`; empty when the dataset is clean.

    Raises:
        ValueError: if `source` is a malformed spec.

    Example:

    >>> for problem in check_dataset("voc:/data/VOCdevkit/VOC2012", split="val"):
    ...     print(problem)  # doctest: +SKIP
    """
    if isinstance(source, tf.data.Dataset):
        examples = named_examples(source, "dataset")
    else:
        spec = parse_spec(source) if isinstance(source, str) else source
        num_classes = spec.num_classes if num_classes is None else num_classes
        split = spec.options.get("split", split)
        if spec.source.files is not None:
            try:
                pairs = spec.source.files(spec, split)
            except ValueError as error:
                return [DataProblem(spec.arguments[0], str(error))]
            return check_files(pairs, num_classes)
        examples = spec.source.examples(spec, split)
    return _check_arrays(
        examples.dataset.as_numpy_iterator(), examples.source, num_classes, examples.label_map
    )
