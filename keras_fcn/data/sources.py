"""The table of dataset sources: one row per spec scheme, the one place that dispatches on it.

Each `Source` row says what a spec of its scheme takes (positional arguments, typed options,
usage), how its `tf.data.Dataset` is built, how `check_dataset` reads it (the files of a
file-based source, decoded with the pipeline's own functions; the raw examples of the others)
and which classes it has. Every row's functions take a `DatasetSpec`, the parsed spec, which
is defined here beside the table it looks its scheme up in, so that `keras_fcn.data.spec`
(the syntax: `parse_spec`, `from_spec`) imports this module and not the other way round.
`parse_spec`, `from_spec`, `DatasetSpec.class_names` and `check_dataset` all go through
`SOURCES`. Adding a source is writing its module (a function that returns the dataset, and one
that lists its files or yields its examples) and one row here.
"""

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from keras_fcn.classes import CAMVID_CLASS_NAMES, VOC_CLASS_NAMES
from keras_fcn.data.camvid import camvid, camvid_files
from keras_fcn.data.files import FilePairs, dataset_from_files
from keras_fcn.data.folder import folder_files
from keras_fcn.data.sbd import sbd_files
from keras_fcn.data.synthetic import synthetic, synthetic_class_names
from keras_fcn.data.tfds import from_tfds, tfds_examples, tfds_layout
from keras_fcn.data.voc import voc_files


def parse_label_map(text: str) -> dict[int, int]:
    """Parses a spec's `label_map` option, `VALUE:LABEL` pairs joined by `/`.

    Args:
        text: e.g. `"1:1/2:0/3:255"`.

    Returns:
        The map from stored mask value to label.

    Raises:
        ValueError: if a pair is not two integers joined by `:`.

    Example:

    >>> parse_label_map("1:1/2:0/3:255")
    {1: 1, 2: 0, 3: 255}
    """
    label_map = {}
    for pair in text.split("/"):
        value, _, label = pair.partition(":")
        try:
            label_map[int(value)] = int(label)
        except ValueError as error:
            raise ValueError(
                "label_map takes VALUE:LABEL pairs of integers joined by '/', e.g. 1:1/2:0/3:255"
            ) from error
    return label_map


@dataclasses.dataclass(frozen=True)
class Examples:
    """The raw examples of one split, as `check_dataset` reads sources that are not files.

    Args:
        source: the split, named in problems of the whole split (e.g. that it is empty).
        dataset: a `tf.data.Dataset` of `(image, mask, name)`: an `(H, W, C)` image, an
            `(H, W)` mask and a string naming the example in problems.
        label_map: stored mask value -> class index (or 255), applied and checked before the
            other checks; `None` when the masks hold the labels.

    Example:

    >>> examples = named_examples(keras_fcn.data.synthetic(num_examples=2), "shapes")
    >>> [name.decode() for _, _, name in examples.dataset.as_numpy_iterator()]
    ['shapes example 0', 'shapes example 1']
    """

    source: str
    dataset: tf.data.Dataset
    label_map: dict[int, int] | None = None


def named_examples(dataset: tf.data.Dataset, source: str) -> Examples:
    """Names the examples of an `(image, label)` dataset by index: `"{source} example {i}"`.

    Args:
        dataset: a `tf.data.Dataset` of `(image, label)`.
        source: what the dataset is, e.g. `"synthetic[val]"`.

    Returns:
        The `Examples` of the dataset, without a label map.

    Example:

    >>> examples = named_examples(keras_fcn.data.synthetic(num_examples=1), "shapes")
    >>> examples.source
    'shapes'
    """
    prefix = f"{source} example "

    def name(index, example):
        return (*example, tf.strings.join([prefix, tf.strings.as_string(index)]))

    return Examples(source, dataset.enumerate().map(name, num_parallel_calls=tf.data.AUTOTUNE))


@dataclasses.dataclass(frozen=True)
class Source:
    """One spec scheme: what its specs take, and how its dataset is built and checked.

    Every function takes the parsed `DatasetSpec`; `split` is the spec's `split=` option when it
    sets one, else the split asked for, and `num_classes` is the label range to check (`None`
    skips the check). `shuffle` and `seed` ask a file-based source for a new random order of
    its files each epoch (`dataset_from_files`); TFDS shuffles examples when it writes a
    dataset (unless its builder sets `disable_shuffling`) and synthetic examples are
    independent draws, so those sources keep their order.

    Args:
        arguments: names of the positional arguments, in order.
        options: the `key=value` options and the functions that convert their values (`int`,
            `float`, `str`, `parse_label_map`), which raise `ValueError` for a bad value.
        usage: the spec's syntax, shown in errors.
        build: `build(spec, split, num_classes, shuffle, seed)` returns the `tf.data.Dataset`
            of `(image, label)`.
        class_names: `class_names(spec)` returns the dataset's class names, or `None` when
            the scheme does not know them.
        files: for a file-based source, `files(spec, split)` lists the split's files as a
            `FilePairs`, which `check_dataset` decodes; it raises `ValueError` when the
            dataset's directory or split list does not exist.
        examples: for the other sources, `examples(spec, split)` returns the split's
            `Examples`.

    Raises:
        ValueError: unless exactly one of `files` and `examples` is given.

    Example:

    >>> SOURCES["camvid"].usage
    'camvid:PATH[,split=S,scale=F]'
    """

    arguments: tuple[str, ...]
    options: dict[str, Callable[[str], object]]
    usage: str
    build: Callable[["DatasetSpec", str, int | None, bool, int | None], tf.data.Dataset]
    class_names: Callable[["DatasetSpec"], tuple[str, ...] | None]
    files: Callable[["DatasetSpec", str], FilePairs] | None = None
    examples: Callable[["DatasetSpec", str], Examples] | None = None

    def __post_init__(self):
        if (self.files is None) == (self.examples is None):
            raise ValueError(
                f"Source {self.usage!r} must be given exactly one of files= (for datasets of "
                f"image and mask files) and examples= (for the others), received "
                f"files={self.files} and examples={self.examples}."
            )


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A parsed dataset spec (see `keras_fcn.data.spec` for the syntax).

    Args:
        scheme: one of `SOURCES`.
        arguments: the positional arguments (paths, a TFDS name).
        options: the `key=value` options, converted to their types.
        text: the spec as written.

    Example:

    >>> from keras_fcn.data.spec import parse_spec
    >>> spec = parse_spec("synthetic:num_classes=5,size=96")
    >>> spec.num_classes, spec.options["size"]
    (5, 96)
    """

    scheme: str
    arguments: tuple[str, ...]
    options: dict
    text: str

    @property
    def source(self) -> Source:
        """The scheme's row of `SOURCES`."""
        return SOURCES[self.scheme]

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """The dataset's class names, when the scheme knows them (`None` otherwise)."""
        return self.source.class_names(self)

    @property
    def num_classes(self) -> int | None:
        """The dataset's number of classes: the `num_classes` option, else the scheme's own."""
        if "num_classes" in self.options:
            return self.options["num_classes"]
        names = self.class_names
        return None if names is None else len(names)


def _decoded(
    files: Callable[[DatasetSpec, str], FilePairs],
) -> Callable[[DatasetSpec, str, int | None, bool, int | None], tf.data.Dataset]:
    """The `build` of a source whose dataset is its `files` decoded by `dataset_from_files`.

    A row built so reads its spec's options once, in `files`, and its dataset is exactly the
    listing that `check_dataset` reads.
    """

    def build(spec, split, num_classes, shuffle, seed):
        return dataset_from_files(files(spec, split), num_classes, shuffle=shuffle, seed=seed)

    return build


def _voc_files(spec: DatasetSpec, split: str) -> FilePairs:
    return voc_files(spec.arguments[0], split, spec.options.get("sbd"))


def _sbd_files(spec: DatasetSpec, split: str) -> FilePairs:
    return sbd_files(spec.arguments[0], split)


def _folder_files(spec: DatasetSpec, split: str) -> FilePairs:
    del split  # a folder dataset has no splits
    return folder_files(
        *spec.arguments, void=spec.options.get("void"), label_map=spec.options.get("label_map")
    )


def _voc_class_names(spec: DatasetSpec) -> tuple[str, ...] | None:
    return None if "num_classes" in spec.options else VOC_CLASS_NAMES


def _voc_classes_source(
    files: Callable[[DatasetSpec, str], FilePairs], usage: str, **options: Callable
) -> Source:
    """The row of a dataset of VOC's classes in one root directory (VOC, SBD): its files
    decoded, a `split` and `num_classes` option, and its own `options` between them."""
    return Source(
        arguments=("root",),
        options={"split": str, **options, "num_classes": int},
        usage=usage,
        build=_decoded(files),
        class_names=_voc_class_names,
        files=files,
    )


def _tfds_examples(spec: DatasetSpec, split: str) -> Examples:
    options = spec.options
    layout = tfds_layout(spec.arguments[0], options.get("image_key"), options.get("mask_key"))
    dataset = tfds_examples(spec.arguments[0], split, options.get("data_dir"), layout)
    return Examples(f"{spec.text}[{split}]", dataset, layout.label_map)


def _synthetic(spec: DatasetSpec, split: str, num_classes: int | None) -> tf.data.Dataset:
    generated = spec.num_classes
    if num_classes is not None and num_classes < generated:
        raise ValueError(
            f"Dataset spec {spec.text!r} makes {generated} classes but num_classes={num_classes}; "
            f"set num_classes={num_classes} in the spec."
        )
    return synthetic(
        num_examples=spec.options.get("n", 512),
        image_size=spec.options.get("size", 64),
        num_classes=generated,
        seed=spec.options.get("seed", 0),
        split=split,
    )


SOURCES = {
    "voc": _voc_classes_source(_voc_files, "voc:PATH[,split=S,sbd=PATH]", sbd=str),
    "sbd": _voc_classes_source(_sbd_files, "sbd:PATH[,split=S]"),
    "camvid": Source(
        arguments=("root",),
        options={"split": str, "num_classes": int, "scale": float},
        usage="camvid:PATH[,split=S,scale=F]",
        build=lambda spec, split, num_classes, shuffle, seed: camvid(
            spec.arguments[0],
            split,
            num_classes=num_classes,
            scale=spec.options.get("scale", 1.0),
            shuffle=shuffle,
            seed=seed,
        ),
        class_names=lambda spec: None if "num_classes" in spec.options else CAMVID_CLASS_NAMES,
        files=lambda spec, split: camvid_files(spec.arguments[0], split),
    ),
    "tfds": Source(
        arguments=("name",),
        options={
            "split": str,
            "data_dir": str,
            "image_key": str,
            "mask_key": str,
            "num_classes": int,
        },
        usage="tfds:NAME[,split=S,data_dir=DIR,image_key=K,mask_key=K]",
        build=lambda spec, split, num_classes, _shuffle, _seed: from_tfds(
            spec.arguments[0],
            split,
            spec.options.get("data_dir"),
            image_key=spec.options.get("image_key"),
            mask_key=spec.options.get("mask_key"),
            num_classes=num_classes,
        ),
        class_names=lambda spec: (
            None if "num_classes" in spec.options else tfds_layout(spec.arguments[0]).class_names
        ),
        examples=_tfds_examples,
    ),
    "folder": Source(
        arguments=("images_dir", "masks_dir"),
        options={"num_classes": int, "void": int, "label_map": parse_label_map},
        usage="folder:IMAGES_DIR,MASKS_DIR[,void=V,label_map=A:B/C:D]",
        build=_decoded(_folder_files),
        class_names=lambda spec: None,
        files=_folder_files,
    ),
    "synthetic": Source(
        arguments=(),
        options={"n": int, "size": int, "num_classes": int, "seed": int, "split": str},
        usage="synthetic[:n=N,size=S,num_classes=C,seed=K]",
        build=lambda spec, split, num_classes, _shuffle, _seed: _synthetic(
            spec, split, num_classes
        ),
        class_names=lambda spec: synthetic_class_names(spec.options.get("num_classes", 4)),
        examples=lambda spec, split: named_examples(
            _synthetic(spec, split, None), f"{spec.text}[{split}]"
        ),
    ),
}
"""The dataset sources, by spec scheme, in the order errors list them."""
