"""Every problem of a whole dataset, each with its file, behind `keras-fcn check-data`.

`check_dataset` reads every example of a dataset and returns one `DataProblem` (file and
message) per problem, instead of stopping at the first as the pipelines do: missing or
unpaired files, unreadable or truncated files, images with the wrong number of channels, masks
that are not PNGs or use colours outside their palette, mask values missing from a label map,
masks whose size differs from their image's, label values outside `[0, num_classes)` and 255,
and empty splits.

It finds a source's files or examples through `SOURCES` and runs on them the very functions the
pipelines run (`keras_fcn.data.formats` to decode, `keras_fcn.data.checks` to check), each check
on its own so that one example can show several problems, and turns each error they raise into
a `DataProblem`; so the two always agree.
"""

import os
import re

import tensorflow as tf

from keras_fcn.data.checks import (
    check_image_channels,
    check_label_values,
    check_same_size,
    label_table,
    map_labels,
)
from keras_fcn.data.files import DataProblem, FilePairs
from keras_fcn.data.formats import decode_image, decode_mask
from keras_fcn.data.sources import DatasetSpec, Examples, named_examples
from keras_fcn.data.spec import parse_spec

_PATH = tf.TensorSpec([], tf.string)
_read_image = tf.function(decode_image, input_signature=[_PATH])
_read_mask = tf.function(decode_mask, input_signature=[_PATH])
# Checks are traced once per dtype and number of classes; image and mask sizes vary freely.
_check_image_channels = tf.function(check_image_channels, reduce_retracing=True)
_check_same_size = tf.function(check_same_size, reduce_retracing=True)
_check_label_values = tf.function(check_label_values, reduce_retracing=True)
_map_labels = tf.function(map_labels, reduce_retracing=True)

_FAILED_CHECK = re.compile(r"assertion failed: \[(.*)\]")
"""How TensorFlow quotes the message of a failed check (`keras_fcn.data.checks.require`)."""


def _error_text(error: tf.errors.OpError, path: str) -> str:
    """The useful line of a TensorFlow error raised while reading `path`, without the path."""
    message = error.message
    match = _FAILED_CHECK.search(message) or re.search(r"ValueError: (.*)", message)
    if match:
        text = match.group(1)
    else:
        lines = message.splitlines()
        ends = [i for i, line in enumerate(lines) if line.strip().startswith("[[")]
        text = lines[ends[0] - 1] if ends and ends[0] > 0 else lines[0]
        text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text).strip()
    return text.removeprefix(f"{path}: ")


def pipeline_problem(error: tf.errors.OpError) -> str | None:
    """The line `check_dataset` gives for the bad file that stopped a pipeline, or `None`.

    A source's checks stop its `tf.data` pipeline (in `model.fit`, `keras_fcn.evaluate`) with a
    TensorFlow error of many lines whose one useful sentence, the failed check's message,
    starts with the file's path; this returns that sentence, as `check_dataset` reports it.

    Args:
        error: the error a pipeline raised.

    Returns:
        `"PATH: MESSAGE"`, or `None` if the error is not a failed check of an example.

    Example:

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_folder_tree("data", ["cat"])
    >>> dataset = keras_fcn.data.folder("data/images", "data/masks", num_classes=10)
    >>> try:
    ...     next(iter(dataset))
    ... except tf.errors.InvalidArgumentError as error:
    ...     print(pipeline_problem(error))
    data/masks/cat.png: label values [13] are outside [0, 10) and the ignore label 255
    """
    match = _FAILED_CHECK.search(error.message)
    return None if match is None else match.group(1)


def _attempt(problems: list[DataProblem], name: str, function, *args) -> tf.Tensor | None:
    """Runs a decoder or check; on an error, adds its problem (under `name`) and returns `None`.

    Decoders may fail with any `tf.errors.OpError` for a bad file (e.g. a permission error);
    checks fail with `InvalidArgumentError`, which is one of them.
    """
    try:
        return function(*args)
    except tf.errors.OpError as error:
        problems.append(DataProblem(name, _error_text(error, name)))
        return None


def _label_and_size_problems(
    image: tf.Tensor | None,
    label: tf.Tensor | None,
    image_name: str,
    label_name: str,
    num_classes: int | None,
) -> list[DataProblem]:
    """The label range and size problems of one example whose image or label may be unread."""
    problems = []
    names = tf.constant(image_name), tf.constant(label_name)  # tensors: traced once, not per name
    if label is not None and num_classes is not None:
        _attempt(problems, label_name, _check_label_values, label, num_classes, names[1])
    if image is not None and label is not None:
        _attempt(problems, label_name, _check_same_size, image, label, *names)
    return problems


def check_files(pairs: FilePairs, num_classes: int | None = None) -> list[DataProblem]:
    """Reads every file of a listing and returns all the problems found.

    Args:
        pairs: the files, as listed by `voc_files`, `sbd_files` or `folder_files`.
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` skips the check.

    Returns:
        The listing's own problems (missing, unpaired files), then those of each example.

    Example:

    >>> from keras_fcn.data import folder_files, testing
    >>> tree = testing.write_folder_tree("data", ["cat", "dog"])
    >>> check_files(folder_files("data/images", "data/masks"), num_classes=21)
    []
    >>> (tree.root / "masks" / "dog.png").unlink()
    >>> for problem in check_files(folder_files("data/images", "data/masks"), num_classes=10):
    ...     print(problem)
    data/images/dog.jpg: image without a mask (no dog.png in data/masks)
    data/masks/cat.png: label values [13] are outside [0, 10) and the ignore label 255
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
    relabel = tf.function(pairs.relabel, reduce_retracing=True)
    for image_path, label_path in zip(pairs.image_paths, pairs.label_paths, strict=True):
        if not (os.path.isfile(image_path) and os.path.isfile(label_path)):
            continue  # already a problem of the listing
        image = _attempt(problems, image_path, _read_image, tf.constant(image_path))
        label = _attempt(problems, label_path, read_mask, tf.constant(label_path))
        if label is not None:
            label = _attempt(problems, label_path, relabel, label, tf.constant(label_path))
        problems += _label_and_size_problems(image, label, image_path, label_path, num_classes)
    return problems


def check_examples(examples: Examples, num_classes: int | None = None) -> list[DataProblem]:
    """Checks every example of a split that is not made of files and returns all the problems.

    Args:
        examples: the split's `(image, mask, name)` examples, as a source's row of `SOURCES`
            gives them (or `named_examples(dataset, name)` for any dataset).
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` skips the check.

    Returns:
        The problems, each under the name of its example.

    Example:

    >>> dataset = keras_fcn.data.synthetic(num_examples=3, num_classes=5)
    >>> for problem in check_examples(named_examples(dataset, "shapes"), num_classes=3):
    ...     print(problem)
    shapes example 1: label values [3] are outside [0, 3) and the ignore label 255
    """
    problems = []
    table = None if examples.label_map is None else tf.constant(label_table(examples.label_map))
    count = 0
    for image, mask, name in examples.dataset:
        count += 1
        text = name.numpy().decode()
        _attempt(problems, text, _check_image_channels, image, name)
        label = tf.cast(mask, tf.int32)
        if table is not None:
            label = _attempt(problems, text, _map_labels, label, table, name)
            if label is None:
                continue  # the labels are unknown; their range and size mean nothing
        problems += _label_and_size_problems(image, label, text, text, num_classes)
    if count == 0:
        problems.append(DataProblem(examples.source, "the split has no examples"))
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

    >>> from keras_fcn.data import testing
    >>> tree = testing.write_voc_tree("VOC2012", {"val": ["2007_000033", "2007_000042"]})
    >>> (tree.root / "SegmentationClass" / "2007_000042.png").unlink()
    >>> for problem in check_dataset("voc:VOC2012", split="val"):
    ...     print(problem)
    VOC2012/SegmentationClass/2007_000042.png: file is missing
    """
    if isinstance(source, tf.data.Dataset):
        return check_examples(named_examples(source, "dataset"), num_classes)
    spec = parse_spec(source) if isinstance(source, str) else source
    num_classes = spec.num_classes if num_classes is None else num_classes
    split = spec.options.get("split", split)
    if spec.source.files is None:
        return check_examples(spec.source.examples(spec, split), num_classes)
    try:
        pairs = spec.source.files(spec, split)
    except ValueError as error:
        return [DataProblem(spec.arguments[0], str(error))]
    return check_files(pairs, num_classes)
