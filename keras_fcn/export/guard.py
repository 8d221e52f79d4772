"""The accuracy guard: how far a faster path's segmentations are from the float32 model's.

A bfloat16 or int8 path computes slightly different logits; where two classes are close, the
arg-max flips. `check_agreement` runs the float32 reference and the candidate on the same held-out
images and reports the fraction of pixels where their class ids agree and the mean IU of both
against the labels; when the candidate loses more mean IU than `max_miou_drop`, or agrees on
fewer pixels than `min_pixel_agreement`, it raises `AccuracyGuardError` or warns
(`AccuracyGuardWarning`), as the caller chooses. `keras_fcn.export.export_model` runs it on the
written artefact before publishing it.
"""

import dataclasses
import warnings
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.evaluation import EvaluationReport
from keras_fcn.export.precision import to_uint8_image

MAX_MIOU_DROP = 0.003
"""Default largest loss of mean IU accepted: 0.3 points."""

MIN_PIXEL_AGREEMENT = {"float32": 0.999, "bfloat16": 0.995, "int8": 0.99}
"""Default smallest fraction of pixels whose class agrees with float32's, by precision."""

ON_FAILURE = ("raise", "warn")
"""What a failed check does: raise `AccuracyGuardError`, or warn with `AccuracyGuardWarning`."""


class AccuracyGuardWarning(UserWarning):
    """A candidate path failed the accuracy guard and was kept anyway (`on_failure="warn"`)."""


class AccuracyGuardError(ValueError):
    """A candidate path failed the accuracy guard; `report` holds the numbers."""

    def __init__(self, message: str, report: "AgreementReport"):
        super().__init__(message)
        self.report = report


@dataclasses.dataclass(frozen=True, eq=False)
class AgreementReport:
    """How a candidate path's segmentations compare with the float32 reference's.

    Args:
        pixel_agreement: fraction of all pixels (labelled or not) where both predict the same
            class.
        reference: the reference's scores against the labels.
        candidate: the candidate's scores against the labels.
        images: images compared.
        pixels: pixels compared.
        max_miou_drop: the largest mean IU loss accepted.
        min_pixel_agreement: the smallest pixel agreement accepted.

    Example:

    >>> reference = EvaluationReport.from_confusion_matrix([[3, 1], [0, 4]])
    >>> candidate = EvaluationReport.from_confusion_matrix([[2, 2], [0, 4]])
    >>> report = AgreementReport(0.875, reference, candidate, 1, 8, 0.003, 0.99)
    >>> round(report.miou_drop, 4), report.passed  # 0.775 - (2/4 + 4/6) / 2
    (0.1917, False)
    """

    pixel_agreement: float
    reference: EvaluationReport
    candidate: EvaluationReport
    images: int
    pixels: int
    max_miou_drop: float
    min_pixel_agreement: float

    @property
    def miou_drop(self) -> float:
        """Mean IU of the reference minus the candidate's (positive: the candidate is worse)."""
        return self.reference.mean_iou - self.candidate.mean_iou

    @property
    def passed(self) -> bool:
        """Whether the candidate is within both thresholds."""
        return (
            self.miou_drop <= self.max_miou_drop
            and self.pixel_agreement >= self.min_pixel_agreement
        )

    def to_dict(self) -> dict:
        """The numbers as plain Python types (the per-class tables left out)."""
        return {
            "passed": self.passed,
            "pixel_agreement": self.pixel_agreement,
            "reference_mean_iou": self.reference.mean_iou,
            "candidate_mean_iou": self.candidate.mean_iou,
            "mean_iou_drop": self.miou_drop,
            "max_mean_iou_drop": self.max_miou_drop,
            "min_pixel_agreement": self.min_pixel_agreement,
            "images": self.images,
            "pixels": self.pixels,
        }

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"accuracy guard {verdict} on {self.images} images ({self.pixels:,} pixels): "
            f"pixel agreement {100 * self.pixel_agreement:.3f}% "
            f"(at least {100 * self.min_pixel_agreement:.2f}%), mean IU "
            f"{100 * self.reference.mean_iou:.2f} → {100 * self.candidate.mean_iou:.2f} "
            f"(change {-100 * self.miou_drop:+.2f} points, at most "
            f"{-100 * self.max_miou_drop:+.2f})"
        )


def _confusion(labels: np.ndarray, class_ids: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrix of one image's labelled pixels (rows: labels, columns: predictions)."""
    labelled = labels != IGNORE_LABEL
    truth, predicted = labels[labelled].astype(np.int64), class_ids[labelled].astype(np.int64)
    if truth.size and (truth.min() < 0 or truth.max() >= num_classes):
        raise ValueError(
            f"Labels must be in [0, {num_classes}) or {IGNORE_LABEL} (void), received values "
            f"from {truth.min()} to {truth.max()}."
        )
    return np.bincount(
        truth * num_classes + predicted, minlength=num_classes * num_classes
    ).reshape(num_classes, num_classes)


def _check_thresholds(max_miou_drop: float, min_pixel_agreement: float, on_failure: str) -> None:
    """Raises a `ValueError` for a threshold out of its range or an unknown `on_failure`."""
    if on_failure not in ON_FAILURE:
        raise ValueError(f"on_failure must be one of {ON_FAILURE}, received {on_failure!r}.")
    if not 0 <= min_pixel_agreement <= 1:
        raise ValueError(
            f"min_pixel_agreement is a fraction in [0, 1], received {min_pixel_agreement}."
        )
    if not max_miou_drop >= 0:
        raise ValueError(
            f"max_miou_drop is a fraction of mean IU, at least 0, received {max_miou_drop}."
        )


def _single_images(dataset: Iterable) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields each image of `dataset` as a uint8 batch `(1, H, W, 3)`, with its labels `(H, W)`.

    `dataset` holds `(image, label)` pairs or batches of them (see `check_agreement`).
    """
    for element in dataset:
        if not isinstance(element, tuple | list) or len(element) != 2:
            raise ValueError(
                "check_agreement expects a dataset of (image, label) pairs; received an "
                f"element of type {type(element).__name__}."
            )
        batch_images, batch_labels = np.asarray(element[0]), np.asarray(element[1])
        if batch_images.ndim == 3:
            batch_images, batch_labels = batch_images[None], batch_labels[None]
        for image, labels in zip(batch_images, batch_labels, strict=True):
            image = to_uint8_image(image)[None]
            yield image, labels.reshape(image.shape[1:3])


def _report_failure(report: AgreementReport, on_failure: str) -> None:
    """Raises `AccuracyGuardError` for a failed `report`, or warns (`on_failure="warn"`).

    The warning points at the caller of `check_agreement`.
    """
    message = (
        f"{report}. The candidate is further from the float32 model than allowed: "
        "calibrate int8 on more (or more representative) images, use bfloat16 or float32, "
        "or relax max_miou_drop / min_pixel_agreement if this is acceptable."
    )
    if on_failure == "raise":
        raise AccuracyGuardError(message, report)
    warnings.warn(message, AccuracyGuardWarning, stacklevel=3)


def check_agreement(
    reference_predict: Callable[[np.ndarray], np.ndarray],
    candidate_predict: Callable[[np.ndarray], np.ndarray],
    dataset: Iterable,
    num_classes: int,
    max_miou_drop: float = MAX_MIOU_DROP,
    min_pixel_agreement: float = MIN_PIXEL_AGREEMENT["int8"],
    on_failure: str = "raise",
) -> AgreementReport:
    """Compares a candidate path's class ids with the float32 reference's on held-out images.

    Both functions see the same images, one at a time at their own size. The pixel agreement
    counts every pixel; the mean IU of each counts the labelled ones, over the whole set, as
    `keras_fcn.evaluate` does.

    Args:
        reference_predict: the float32 path: uint8 images `(1, H, W, 3)` → class ids
            `(1, H, W)` (such as `keras_fcn.export.load_predictor(PATH.keras)`).
        candidate_predict: the path under test, the same kind of function.
        dataset: a `tf.data.Dataset` or other iterable of `(image, label)` pairs, images
            `(H, W, 3)` uint8 (or float in [0, 255]), labels `(H, W)` or `(H, W, 1)` with 255
            for void; batches of them also work.
        num_classes: classes scored.
        max_miou_drop: the largest loss of mean IU accepted, as a fraction (0.003 = 0.3 points).
        min_pixel_agreement: the smallest fraction of agreeing pixels accepted.
        on_failure: `"raise"` an `AccuracyGuardError`, or `"warn"` (`AccuracyGuardWarning`)
            and return the report.

    Returns:
        An `AgreementReport`.

    Example:

    >>> images = [np.zeros((4, 4, 3), "uint8")]
    >>> labels = [np.eye(4, dtype="int32")]  # 4 pixels of class 1, 12 of class 0
    >>> reference = lambda batch: np.eye(4, dtype="int32")[None]  # always right
    >>> candidate = lambda batch: np.zeros((1, 4, 4), "int32")  # misses class 1
    >>> report = check_agreement(
    ...     reference, candidate, zip(images, labels), 2, max_miou_drop=1, min_pixel_agreement=0.5
    ... )
    >>> report.pixel_agreement, report.reference.mean_iou, report.candidate.mean_iou
    (0.75, 1.0, 0.375)
    >>> check_agreement(reference, candidate, zip(images, labels), 2)
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    AccuracyGuardError: accuracy guard FAILED on 1 images (16 pixels): ...
    """
    _check_thresholds(max_miou_drop, min_pixel_agreement, on_failure)
    reference_counts = np.zeros((num_classes, num_classes), np.int64)
    candidate_counts = np.zeros((num_classes, num_classes), np.int64)
    agreeing = pixels = images = 0
    for image, labels in _single_images(dataset):
        reference_ids = np.asarray(reference_predict(image))[0]
        candidate_ids = np.asarray(candidate_predict(image))[0]
        agreeing += int(np.count_nonzero(reference_ids == candidate_ids))
        pixels += reference_ids.size
        images += 1
        reference_counts += _confusion(labels, reference_ids, num_classes)
        candidate_counts += _confusion(labels, candidate_ids, num_classes)
    if not images:
        raise ValueError("The accuracy guard's dataset holds no image.")
    report = AgreementReport(
        pixel_agreement=agreeing / pixels,
        reference=EvaluationReport.from_confusion_matrix(reference_counts),
        candidate=EvaluationReport.from_confusion_matrix(candidate_counts),
        images=images,
        pixels=pixels,
        max_miou_drop=max_miou_drop,
        min_pixel_agreement=min_pixel_agreement,
    )
    if not report.passed:
        _report_failure(report, on_failure)
    return report
