"""Evaluation of a segmentation model over a whole split, reported as in the FCN paper."""

import dataclasses
import json
import math
import pathlib
from collections.abc import Iterable, Sequence

import keras
import numpy as np

from keras_fcn import metrics
from keras_fcn.classes import IGNORE_LABEL, VOC_CLASS_NAMES
from keras_fcn.inference import Protocol, ProtocolPredictor, logits_function
from keras_fcn.progress import Progress

_SCORES = (
    ("pixel_accuracy", "pixel accuracy"),
    ("mean_accuracy", "mean accuracy"),
    ("mean_iou", "mean IU"),
    ("frequency_weighted_iou", "f.w. IU"),
)


def _default_class_names(num_classes: int) -> tuple[str, ...]:
    if num_classes == len(VOC_CLASS_NAMES):
        return VOC_CLASS_NAMES
    return tuple(f"class_{i}" for i in range(num_classes))


def _length(dataset: Iterable) -> int | None:
    """The number of batches of a dataset, where it is known (`tf.data` cardinality, `len`)."""
    cardinality = getattr(dataset, "cardinality", None)
    if callable(cardinality):
        count = int(cardinality())
        return count if count >= 0 else None
    try:
        return len(dataset)
    except TypeError:
        return None


def _defined_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclasses.dataclass(frozen=True, eq=False)
class EvaluationReport:
    """The paper's four scores, the per-class numbers and the confusion matrix of one split.

    Per-class values are NaN where undefined: the accuracy of a class absent from the ground
    truth, the IU of a class absent from both the ground truth and the predictions (a class
    only predicted has IU 0, and counts in the mean IU). `str(report)` prints the four scores
    and a per-class table, in percent as in the paper, with "-" for undefined values.

    Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
    Segmentation", CVPR 2015, section 5 and table 3.

    Args:
        pixel_accuracy: fraction of labelled pixels predicted right.
        mean_accuracy: mean per-class accuracy over the classes present in the truth.
        mean_iou: mean IU over the classes present in the truth or the predictions.
        frequency_weighted_iou: IU weighted by each class's share of the labelled pixels.
        per_class_iou: float64 array `(num_classes,)`.
        per_class_accuracy: float64 array `(num_classes,)`.
        confusion_matrix: int64 array `(num_classes, num_classes)`, rows = ground truth.
        class_names: one name per class.

    Example:

    >>> report = EvaluationReport.from_confusion_matrix([[3, 1], [0, 4]], ("sky", "tree"))
    >>> report.mean_iou  # (3/4 + 4/5) / 2
    0.775
    """

    pixel_accuracy: float
    mean_accuracy: float
    mean_iou: float
    frequency_weighted_iou: float
    per_class_iou: np.ndarray
    per_class_accuracy: np.ndarray
    confusion_matrix: np.ndarray
    class_names: tuple[str, ...]

    @classmethod
    def from_confusion_matrix(
        cls, confusion_matrix, class_names: Sequence[str] | None = None
    ) -> "EvaluationReport":
        """Builds the report of a confusion matrix of pixel counts.

        Args:
            confusion_matrix: square array-like of non-negative whole counts, rows = ground
                truth, columns = prediction.
            class_names: one name per class; defaults to the VOC names for 21 classes and
                `class_0`, `class_1`, ... otherwise.

        Returns:
            An `EvaluationReport`.
        """
        counts = np.asarray(confusion_matrix)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
            raise ValueError(
                "confusion_matrix must be a non-empty square (num_classes, num_classes) array, "
                f"received shape {counts.shape}."
            )
        if np.any(counts < 0) or np.any(counts != np.round(counts)):
            raise ValueError(
                "confusion_matrix must hold non-negative whole pixel counts; received entries "
                "that are negative or fractional (a matrix accumulated with fractional "
                "sample weights cannot be reported as pixel counts)."
            )
        num_classes = counts.shape[0]
        names = _default_class_names(num_classes) if class_names is None else tuple(class_names)
        if len(names) != num_classes:
            raise ValueError(
                f"Expected {num_classes} class names, one per row of the confusion matrix; "
                f"received {len(names)}: {names}."
            )
        counts = counts.astype(np.int64)
        numpy = keras.ops.convert_to_numpy
        return cls(
            pixel_accuracy=float(numpy(metrics.pixel_accuracy(counts))),
            mean_accuracy=float(numpy(metrics.mean_accuracy(counts))),
            mean_iou=float(numpy(metrics.mean_iou(counts))),
            frequency_weighted_iou=float(numpy(metrics.frequency_weighted_iou(counts))),
            per_class_iou=numpy(metrics.per_class_iou(counts)),
            per_class_accuracy=numpy(metrics.per_class_accuracy(counts)),
            confusion_matrix=counts,
            class_names=names,
        )

    @property
    def class_pixels(self) -> np.ndarray:
        """Labelled pixels of each class in the ground truth (int64, the matrix's row sums)."""
        return self.confusion_matrix.sum(axis=1)

    def _class_rows(self) -> Iterable[tuple[str, float, float, int]]:
        """The per-class table: each class's name, IU, accuracy and labelled pixels."""
        return zip(
            self.class_names,
            self.per_class_iou,
            self.per_class_accuracy,
            self.class_pixels,
            strict=True,
        )

    def to_dict(self) -> dict:
        """Returns the report as plain Python types, undefined values as `None`.

        Returns:
            A JSON-serialisable dict with the four scores, `"classes"` (one dict per class with
            `name`, `iou`, `accuracy`, `pixels`) and `"confusion_matrix"` (nested lists).
        """
        classes = [
            {
                "name": name,
                "iou": _defined_or_none(iou),
                "accuracy": _defined_or_none(accuracy),
                "pixels": int(pixels),
            }
            for name, iou, accuracy, pixels in self._class_rows()
        ]
        return {
            **{key: getattr(self, key) for key, _ in _SCORES},
            "classes": classes,
            "confusion_matrix": self.confusion_matrix.tolist(),
        }

    def to_json(self, path: str | pathlib.Path | None = None) -> str:
        """Returns `to_dict()` as JSON text, and writes it to `path` if one is given.

        Args:
            path: file to write, or `None`.

        Returns:
            The JSON text.
        """
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            pathlib.Path(path).write_text(text + "\n")
        return text

    def __str__(self) -> str:
        def percent(value: float) -> str:
            return "-" if math.isnan(value) else f"{100 * value:.1f}"

        width = max(len("pixel accuracy"), *(len(name) for name in self.class_names))
        lines = [f"{'score':<{width}}  {'%':>8}"]
        lines += [f"{label:<{width}}  {percent(getattr(self, key)):>8}" for key, label in _SCORES]
        lines += ["", f"{'class':<{width}}  {'IU (%)':>8}  {'acc. (%)':>8}  {'pixels':>14}"]
        for name, iou, accuracy, pixels in self._class_rows():
            lines.append(
                f"{name:<{width}}  {percent(iou):>8}  {percent(accuracy):>8}  {pixels:>14,}"
            )
        return "\n".join(lines)


def evaluate(
    model: keras.Model,
    dataset: Iterable,
    num_classes: int,
    class_names: Sequence[str] | None = None,
    ignore_class: int | None = IGNORE_LABEL,
    protocol: str | Protocol | None = None,
    verbose: int = 0,
) -> EvaluationReport:
    """Evaluates a segmentation model over a whole split, as the paper's `score.py` does.

    One confusion matrix is accumulated over every batch, then turned into the four scores and
    the per-class table. By default the model runs once per batch at the images' own size
    (`keras_fcn.inference.logits_function`: one `tf.function` for every size on TensorFlow,
    eagerly on JAX and PyTorch). With a `protocol`, each image is scored as a paper scored it
    (`keras_fcn.inference.PROTOCOLS`: scales, flips, sliding windows, a dense CRF), through
    `keras_fcn.inference.ProtocolPredictor`.

    Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
    Segmentation", CVPR 2015, section 5.

    Args:
        model: a model mapping images `(B, H, W, 3)` to logits `(B, H, W, num_classes)`.
        dataset: a `tf.data.Dataset` or other iterable of `(image, label)` batches, labels
            `(B, H, W)` or `(B, H, W, 1)` the size of the images.
        num_classes: number of classes.
        class_names: one name per class; defaults to the VOC names for 21 classes and
            `class_0`, `class_1`, ... otherwise.
        ignore_class: label of the pixels that count nowhere, or `None`.
        protocol: a name of `keras_fcn.inference.PROTOCOLS` (`"pspnet-ms"`, ...), a
            `keras_fcn.inference.Protocol`, or `None` for one pass at the images' size.
        verbose: 1 shows the progress over the batches, with the time left (`Progress`: a bar
            in a terminal, a line per tenth otherwise), 0 nothing.

    Returns:
        An `EvaluationReport`.

    Raises:
        ValueError: for a label outside `[0, num_classes)` other than `ignore_class` (on
            TensorFlow, an `InvalidArgumentError` at the batch that holds it).

    Example:

    A model that predicts background everywhere, on two all-background images:

    >>> model = keras.Sequential(
    ...     [keras.Input((None, None, 3)), keras.layers.Conv2D(21, 1, kernel_initializer="zeros")]
    ... )
    >>> images, labels = np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8), "int32")
    >>> report = evaluate(model, [(images, labels)], num_classes=21)
    >>> report.pixel_accuracy, int(report.class_pixels[0])
    (1.0, 128)

    On VOC, `print(report)` gives the paper's table and `report.to_json(path)` keeps it;
    `evaluate(model, batches, 21, protocol="pspnet-ms")` scores as PSPNet's multi-scale
    evaluation did.
    """
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(
            f"Expected num_classes={num_classes} class names, received {len(class_names)}: "
            f"{tuple(class_names)}."
        )
    accumulator = metrics.ConfusionMatrixMetric(num_classes, ignore_class=ignore_class)
    scores = logits_function(model) if protocol is None else ProtocolPredictor(model, protocol)
    progress = Progress(_length(dataset), "evaluate", unit="batches") if verbose else None
    for batch in dataset:
        if not isinstance(batch, tuple | list) or len(batch) != 2:
            raise ValueError(
                "evaluate expects a dataset of (image, label) batches; received an element "
                f"of type {type(batch).__name__}"
                + (f" with {len(batch)} parts." if isinstance(batch, tuple | list) else ".")
            )
        images, labels = batch
        accumulator.update_state(labels, scores(images))
        if progress is not None:
            progress.add(1)
    out_of_range = int(keras.ops.convert_to_numpy(accumulator.out_of_range_pixels))
    if out_of_range:
        raise ValueError(
            f"{out_of_range} pixels had a label outside [0, {num_classes}) that is not the "
            f"ignore_class ({ignore_class}); they were left out of the scores. Check "
            "num_classes, ignore_class and the label encoding."
        )
    return EvaluationReport.from_confusion_matrix(accumulator.exact_confusion_matrix(), class_names)
