"""Where exports go: numbered version directories, each holding one artefact and its description.

Every export is written to `export_dir/<version>/`, the layout TF Serving, OpenVINO Model Server
and Triton watch: the artefact (`saved_model.pb` and `variables/`, `model.onnx`, `model.xml` and
`model.bin`, or `model.tflite`) and `keras_fcn.json`, which says what it is (`ExportInfo`). A
version is written to a hidden folder first and renamed into place once complete, so that a server
watching `export_dir` never loads half a version, and an export that fails (or that the accuracy
guard refuses) leaves nothing behind.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence

INFO_FILE = "keras_fcn.json"
"""Name of the description written next to every artefact."""

ARTEFACTS = {
    "saved_model": "saved_model.pb",
    "onnx": "model.onnx",
    "openvino": "model.xml",
    "litert": "model.tflite",
}
"""The file that marks a version directory of each format."""

IMAGES_INPUT = "images"
"""Input of every artefact: `[B, H, W, 3]` uint8 RGB images."""

CLASS_IDS_OUTPUT = "class_ids"
"""Output of every artefact: `[B, H, W]` int32, the most likely class of each pixel."""

PROBABILITIES_OUTPUT = "probabilities"
"""Output of an artefact exported with it (the SavedModel's `serving_default` and `serve_images`
always): `[B, H, W, num_classes]` float32, the softmax of the logits."""

OUTPUTS = (CLASS_IDS_OUTPUT, PROBABILITIES_OUTPUT)
"""Every output an export can have, in their order."""

DEFAULT_OUTPUTS = (CLASS_IDS_OUTPUT,)
"""The outputs of an ONNX, OpenVINO or LiteRT export unless others are asked for."""


def check_outputs(outputs: Sequence[str]) -> tuple[str, ...]:
    """Returns `outputs` as a tuple in `OUTPUTS`' order, or raises a `ValueError`.

    `class_ids` is always among them: every loader (`keras_fcn.export.load_predictor`) and the
    accuracy guard read it.

    Example:

    >>> check_outputs(["probabilities", "class_ids"])
    ('class_ids', 'probabilities')
    """
    if isinstance(outputs, str) or not all(isinstance(name, str) for name in outputs):
        raise TypeError(
            f"outputs must be a sequence of output names such as {OUTPUTS}, received {outputs!r}."
        )
    unknown = sorted(set(outputs) - set(OUTPUTS))
    if unknown or CLASS_IDS_OUTPUT not in outputs:
        raise ValueError(
            f"outputs must hold {CLASS_IDS_OUTPUT!r} and may hold {PROBABILITIES_OUTPUT!r}, "
            f"received {tuple(outputs)!r}."
        )
    return tuple(name for name in OUTPUTS if name in outputs)


@dataclasses.dataclass(frozen=True)
class ExportInfo:
    """What an exported version holds: written to `keras_fcn.json` next to the artefact.

    Args:
        format: one of `keras_fcn.export.FORMATS`.
        precision: one of `keras_fcn.export.PRECISIONS`.
        artefact: the artefact's file (or directory) name inside the version directory.
        num_classes: classes scored (`None` where unknown).
        input_size: `(height, width)` the artefact takes, or `None` for any size.
        runtime: the runtime that runs it and the version it was checked with.
        calibration_images: images the int8 quantization was calibrated on, or `None`.
        min_agreement: the agreement with float32 an accuracy-controlled int8 quantization
            kept on those images, or `None`.
        outputs: the artefact's outputs (`OUTPUTS`), or `None`
            where not recorded (a SavedModel's signatures say theirs).
        guard: the accuracy guard's report (`AgreementReport.to_dict()`), or `None`.
        model_info: what the exported model was trained on (`keras_fcn.model_info.ModelInfo`,
            as `to_dict()`), or `None` where unknown.

    Example:

    >>> info = ExportInfo("onnx", "float32", "model.onnx", num_classes=21)
    >>> info.write(".")
    >>> ExportInfo.read(".").artefact
    'model.onnx'
    """

    format: str
    precision: str
    artefact: str
    num_classes: int | None = None
    input_size: tuple[int, int] | None = None
    runtime: dict[str, str] = dataclasses.field(default_factory=dict)
    calibration_images: int | None = None
    min_agreement: float | None = None
    outputs: tuple[str, ...] | None = None
    guard: dict | None = None
    model_info: dict | None = None

    def write(self, directory: str) -> None:
        """Writes `keras_fcn.json` into `directory`."""
        with open(os.path.join(directory, INFO_FILE), "w") as file:
            json.dump(dataclasses.asdict(self), file, indent=2)
            file.write("\n")

    @classmethod
    def read(cls, directory: str) -> "ExportInfo":
        """Reads the `keras_fcn.json` of a version directory."""
        path = os.path.join(directory, INFO_FILE)
        try:
            with open(path) as file:
                fields = json.load(file)
        except (OSError, ValueError) as error:
            raise ValueError(f"Cannot read the export description {path}: {error}") from error
        known = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(fields, dict) or not {"format", "precision", "artefact"} <= set(fields):
            raise ValueError(f"{path} does not describe a keras_fcn export.")
        fields = {key: value for key, value in fields.items() if key in known}
        for name in ("input_size", "outputs"):
            if fields.get(name) is not None:
                fields[name] = tuple(fields[name])
        return cls(**fields)


def check_version(version: int) -> None:
    """Raises a `ValueError` unless `version` is a positive integer (TF Serving's rule)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer, received {version!r}.")


@contextlib.contextmanager
def staged_version(export_dir: str, version: int, overwrite: bool = False) -> Iterator[str]:
    """Yields a hidden folder to write a version into; renames it to `export_dir/<version>`.

    The folder becomes the version only when the `with` body completes; on an exception it is
    removed and any existing version stays as it was. An existing version is replaced only with
    `overwrite=True`, by swapping the new one in.

    Args:
        export_dir: the model's base directory; created if missing.
        version: the version number.
        overwrite: whether to replace an existing version.

    Yields:
        The path of the staging folder.

    Example:

    >>> with staged_version("saved_models/demo", 1) as staging:
    ...     _ = open(os.path.join(staging, "model.onnx"), "w").write("...")
    >>> os.listdir("saved_models/demo")
    ['1']
    """
    check_version(version)
    path = os.path.join(export_dir, str(version))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass another version, or overwrite=True to replace it "
            "(a running server may be serving it)."
        )
    os.makedirs(export_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=export_dir)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(staging, 0o755)  # mkdtemp's 0o700 would hide the version from other users
    if os.path.exists(path):
        replaced = tempfile.mkdtemp(prefix=f".{version}-replaced-", dir=export_dir)
        os.replace(path, replaced)
        os.replace(staging, path)
        shutil.rmtree(replaced)
    else:
        os.replace(staging, path)


def find_version(path: str, holds_export: Callable[[str], bool], what: str) -> str:
    """Returns `path` if it holds an export, else its highest numbered version that does.

    Args:
        path: a version directory or a base directory of numbered versions.
        holds_export: whether a directory holds a complete export.
        what: what is looked for, for the error message.

    Returns:
        The path of the version directory.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No {what} directory at {path!r}.")
    if holds_export(path):
        return path
    versions = [
        int(name)
        for name in os.listdir(path)
        if name.isdigit() and holds_export(os.path.join(path, name))
    ]
    if not versions:
        raise ValueError(
            f"{path!r} is neither {what} nor a directory of numbered versions holding one "
            "(such as 1/saved_model.pb or 1/model.onnx)."
        )
    return os.path.join(path, str(max(versions)))
