"""What a trained model was trained on, carried inside its `.keras` file.

A `ModelInfo` says what a model's outputs mean and how it expects its images: its class names,
the palette its classes are drawn with, the scale of the dataset's images it was trained at
(CamVid's `scale=0.25` is 90×120 for a 360×480 photo), the dataset, and the ignore label.
`keras-fcn train` and `keras-fcn convert` write it into the `.keras` file they save;
`keras-fcn predict`, `evaluate` and `export` read it, so that a model segments a photo at the
scale it learnt and draws its classes with their names and colours without any flag. An export
records it in its `keras_fcn.json` (`keras_fcn.export.ExportInfo.model_info`).

Where it is kept: under the key `"keras_fcn"` of the `.keras` archive's `metadata.json`.
Keras writes that member (`keras_version`, `date_saved`) and never reads it back
(`keras.src.saving.saving_lib` loads `config.json` and the weights only), so the file loads
with `keras.models.load_model` exactly as before, on every backend, and `zipfile` reads the
info without building the model. The two other places considered cost more:

- A registered no-op layer holding the info in its `get_config` is saved only if it is in the
  graph, where it would take the place of the model's output layer: the auxiliary heads are
  found by their output names (`"out"`, `"aux"`), `keras_fcn.export.bfloat16_model` keeps the
  output layers in float32, and every model transform rebuilds the graph around it.
- A fifth member beside Keras' own is ignored too, but `saving_lib` takes any archive of more
  than its three members to hold assets and extracts the whole archive, weights included, to a
  temporary directory at every load: half a gigabyte for a VGG16 FCN.

Keras rewrites the archive at every save, so the info lives in the file, not in the `Model`
object: a model loaded and saved again by Keras alone loses it (`write_model_info` puts it
back).

Example:

>>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
>>> model.save("two.keras")
>>> write_model_info("two.keras", ModelInfo(class_names=("sea", "land"), scale=0.5))
>>> read_model_info("two.keras").class_names
('sea', 'land')
>>> keras.models.load_model("two.keras").output_shape
(None, None, None, 2)
"""

import dataclasses
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping

import numpy as np

from keras_fcn.classes import IGNORE_LABEL, PALETTES

METADATA_MEMBER = "metadata.json"
"""The member of a `.keras` archive that holds the info, beside Keras' own keys."""

METADATA_KEY = "keras_fcn"
"""The key of `metadata.json` whose value is the `ModelInfo`."""

DATASET_PALETTES = {"voc": "voc", "sbd": "voc", "camvid": "camvid"}
"""The palette of each dataset scheme that has one (SBD has VOC's classes and colours)."""


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a model was trained on: its classes, their colours, its input scale, its dataset.

    Args:
        class_names: the names of the classes scored, in order, or `None` where unknown.
        palette: the name of its classes' colours in `keras_fcn.classes.PALETTES`, or `None`
            for VOC's (the default of every drawing).
        scale: the factor the dataset's images were resized by for training (CamVid's
            `scale=0.25`), at which it segments photos of that dataset's size; `None` for
            images at their own size.
        dataset: the dataset it was trained on (`"camvid"`, `"tfds:oxford_iiit_pet"`), or
            `None` where unknown.
        ignore_label: the label of pixels that counted nowhere in training.

    Example:

    >>> info = ModelInfo(class_names=("background", "shape"), scale=0.5, dataset="synthetic")
    >>> ModelInfo.from_dict(info.to_dict()) == info
    True
    """

    class_names: tuple[str, ...] | None = None
    palette: str | None = None
    scale: float | None = None
    dataset: str | None = None
    ignore_label: int = IGNORE_LABEL

    def __post_init__(self):
        if self.class_names is not None:
            if isinstance(self.class_names, str) or not all(
                isinstance(name, str) for name in self.class_names
            ):
                raise TypeError(
                    f"class_names must be a sequence of strings, received {self.class_names!r}."
                )
            object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.palette is not None and self.palette not in PALETTES:
            raise ValueError(
                f"palette must be one of {sorted(PALETTES)} or None, received {self.palette!r}."
            )
        if self.scale is not None:
            if isinstance(self.scale, bool) or not float(self.scale) > 0:
                raise ValueError(f"scale must be a positive number, received {self.scale!r}.")
            object.__setattr__(self, "scale", float(self.scale))

    def to_dict(self) -> dict:
        """The info as JSON-able values (the class names as a list)."""
        fields = dataclasses.asdict(self)
        if self.class_names is not None:
            fields["class_names"] = list(self.class_names)
        return fields

    @classmethod
    def from_dict(cls, fields: Mapping[str, object]) -> "ModelInfo":
        """The info of `to_dict`'s values; keys it does not know are left out."""
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in fields.items() if key in known})


def _read_metadata(path: str) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(METADATA_MEMBER))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a .keras model file: {error}") from error


def write_model_info(path: str, info: ModelInfo) -> None:
    """Writes `info` into a saved `.keras` file (replacing any it held).

    The archive is written again beside the file and renamed over it, so that the file is
    always whole; its other members are copied unchanged.

    Args:
        path: a `.keras` file written by `model.save`.
        info: the `ModelInfo`.

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> model.save("two.keras")
    >>> write_model_info("two.keras", ModelInfo(dataset="synthetic"))
    >>> read_model_info("two.keras").dataset
    'synthetic'
    """
    metadata = _read_metadata(path)
    metadata[METADATA_KEY] = info.to_dict()
    handle, staging = tempfile.mkstemp(
        prefix=".", suffix=".keras", dir=os.path.dirname(os.path.abspath(path))
    )
    os.close(handle)
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(staging, "w") as target:
            for member in source.infolist():
                if member.filename == METADATA_MEMBER:
                    target.writestr(member, json.dumps(metadata))
                    continue
                with source.open(member) as reader, target.open(member, "w") as writer:
                    shutil.copyfileobj(reader, writer, 1 << 20)
        os.chmod(staging, os.stat(path).st_mode & 0o777)
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.remove(staging)


def read_model_info(path: str) -> ModelInfo | None:
    """The `ModelInfo` of a `.keras` file; `None` for one saved without it.

    An export's is in its `keras_fcn.json`:
    `ModelInfo.from_dict(keras_fcn.export.read_export_info(path)[1].model_info)`.

    Args:
        path: a `.keras` file.

    Returns:
        The info, or `None` for a model saved without it.

    Raises:
        ValueError: if `path` is not a `.keras` file.

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> model.save("plain.keras")
    >>> read_model_info("plain.keras") is None
    True
    """
    fields = _read_metadata(path).get(METADATA_KEY)
    return None if fields is None else ModelInfo.from_dict(fields)


def dataset_model_info(spec, num_classes: int) -> ModelInfo:
    """The `ModelInfo` of a model trained on a dataset spec (`keras_fcn.data.parse_spec`).

    The class names are the dataset's where they are known and as many as `num_classes`; the
    palette is the dataset's (`DATASET_PALETTES`); the scale is the spec's `scale=`.

    Args:
        spec: a `keras_fcn.data.DatasetSpec`.
        num_classes: the classes the model scores.

    Example:

    >>> from keras_fcn.data import parse_spec
    >>> info = dataset_model_info(parse_spec("camvid:CamVid,scale=0.25"), 11)
    >>> info.palette, info.scale, info.class_names[3]
    ('camvid', 0.25, 'Road')
    """
    names = spec.class_names
    if names is not None and len(names) != num_classes:
        names = None
    dataset = {"tfds": f"tfds:{spec.arguments[0]}" if spec.arguments else None, "folder": None}
    return ModelInfo(
        class_names=names,
        palette=DATASET_PALETTES.get(spec.scheme),
        scale=spec.options.get("scale"),
        dataset=dataset.get(spec.scheme, spec.scheme),
    )


def preset_model_info(preset, head: str | None = None) -> ModelInfo:
    """The `ModelInfo` of a trained net of the original release (`keras_fcn.PRESETS`).

    Args:
        preset: a `keras_fcn.presets.Preset`.
        head: for a net of several heads (SIFT Flow's `"sem"` and `"geo"`), the head whose
            classes are named; `None` names none of them.

    Example:

    >>> from keras_fcn.presets import PRESETS
    >>> preset_model_info(PRESETS["voc-fcn8s"]).class_names[15]
    'person'
    """
    names = preset.class_names
    if isinstance(names, Mapping):
        names = None if head is None else names[head]
    return ModelInfo(class_names=names, palette=preset.palette_name)


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """`(height, width)` times `scale`, rounded as `keras_fcn.data.camvid` rounds, at least 1.

    Example:

    >>> scaled_size((360, 480), 0.25)
    (90, 120)
    """
    return tuple(max(1, round(side * scale)) for side in size)


def _area_mean(values: np.ndarray, size: int) -> np.ndarray:
    """`values` resized to `size` along their first axis, each output the mean of the input over
    its interval `[i * n / size, (i + 1) * n / size)`, from the running integral."""
    length = values.shape[0]
    integral = np.concatenate([np.zeros_like(values[:1]), np.cumsum(values, axis=0)])
    edges = np.arange(size + 1) * (length / size)
    pixels = np.minimum(edges.astype(int), length - 1)  # the pixel each edge falls in
    fraction = (edges - pixels).reshape(-1, *([1] * (values.ndim - 1)))
    at_edges = integral[pixels] + fraction * values[pixels]
    return (at_edges[1:] - at_edges[:-1]) * (size / length)


def resize_image(image: np.ndarray, scale: float) -> np.ndarray:
    """An RGB uint8 image resized by `scale`, each pixel the mean of the area it covers.

    Area averaging, as `tf.image.resize(..., method="area")` scales the training data
    (`keras_fcn.data.camvid.resize_example`), here in numpy, so that running an export needs
    no TensorFlow.

    Example:

    >>> resize_image(np.zeros((360, 480, 3), "uint8"), 0.25).shape
    (90, 120, 3)
    """
    image = np.asarray(image, dtype=np.float64)
    height, width = scaled_size(image.shape[:2], scale)
    resized = _area_mean(_area_mean(image, height).swapaxes(0, 1), width).swapaxes(0, 1)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def resize_nearest(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map `(h, w, ...)` (class ids, uncertainty) resized to `size` by nearest neighbour.

    Output pixel `i` takes input pixel `floor((i + 0.5) * h / H)`, the one whose area holds
    its centre (as `tf.image.resize(..., method="nearest")` does); labels never blend.

    Example:

    >>> resize_nearest(np.array([[0, 1], [2, 3]]), (4, 4))[1:3].tolist()
    [[0, 0, 1, 1], [2, 2, 3, 3]]
    """
    values = np.asarray(values)
    rows, columns = (
        np.minimum(((np.arange(target) + 0.5) * source / target).astype(int), source - 1)
        for target, source in zip(size, values.shape[:2], strict=True)
    )
    return values[rows][:, columns]
