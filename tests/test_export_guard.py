import numpy as np
import pytest

from keras_fcn.export.guard import (
    AccuracyGuardError,
    AccuracyGuardWarning,
    AgreementReport,
    check_agreement,
)

NUM_CLASSES = 3


def _dataset(seed=0, count=4, size=(12, 10)):
    """Random labelled images (a void band on the left) and two ways of predicting them."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        label = rng.integers(0, NUM_CLASSES, size).astype(np.int32)
        label[:, :2] = 255
        examples.append((image, label))
    return examples


def _lookup(predictions):
    """A predictor returning fixed class ids per image (looked up by the image's bytes)."""
    table = {image.tobytes(): ids for image, ids in predictions}

    def predict(batch):
        assert batch.dtype == np.uint8 and batch.shape[0] == 1
        return table[batch[0].tobytes()][None]

    return predict


def _check(examples, reference, candidate, **options):
    """`check_agreement` of the fixed predictions `reference` and `candidate` on `examples`."""
    return check_agreement(_lookup(reference), _lookup(candidate), examples, NUM_CLASSES, **options)


def _numpy_mean_iou(labels, predictions):
    """score.py's mean IU, written out: nanmean over classes of n_ii / (t_i + p_i - n_ii)."""
    hist = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for label, predicted in zip(labels, predictions, strict=True):
        keep = label != 255
        np.add.at(hist, (label[keep], predicted[keep]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iu = np.diag(hist) / (hist.sum(0) + hist.sum(1) - np.diag(hist))
    return np.nanmean(iu)


@pytest.fixture
def flipped():
    """Examples, the labels as reference predictions, and a candidate that changes 10% of pixels."""
    examples = _dataset()
    rng = np.random.default_rng(1)
    reference, candidate = [], []
    for image, label in examples:
        truth = np.where(label == 255, 0, label)
        changed = truth.copy()
        flip = rng.random(truth.shape) < 0.1
        changed[flip] = (truth[flip] + 1) % NUM_CLASSES
        reference.append((image, truth))
        candidate.append((image, changed))
    return examples, reference, candidate


def test_report_holds_pixel_agreement_and_mean_iou_of_both(flipped):
    examples, reference, candidate = flipped
    report = _check(examples, reference, candidate, max_miou_drop=1.0, min_pixel_agreement=0.0)
    reference_ids = [ids for _, ids in reference]
    candidate_ids = [ids for _, ids in candidate]
    labels = [label for _, label in examples]
    agreement = np.mean(
        np.concatenate(
            [(a == b).ravel() for a, b in zip(*[reference_ids, candidate_ids], strict=True)]
        )
    )
    assert report.images == 4 and report.pixels == 4 * 12 * 10
    assert report.pixel_agreement == pytest.approx(agreement)
    assert 0.85 < report.pixel_agreement < 0.95  # about 10% flipped
    assert report.reference.mean_iou == pytest.approx(_numpy_mean_iou(labels, reference_ids))
    assert report.candidate.mean_iou == pytest.approx(_numpy_mean_iou(labels, candidate_ids))
    assert report.reference.mean_iou == 1.0  # the reference predicts the labels exactly
    assert report.miou_drop == pytest.approx(1.0 - report.candidate.mean_iou)
    assert report.passed


def test_void_pixels_count_in_agreement_but_not_in_mean_iou(flipped):
    examples, reference, _ = flipped
    # A candidate wrong only on the void band: every labelled pixel still right.
    wrong_on_void = [
        (image, np.where(label == 255, (ids + 1) % NUM_CLASSES, ids))
        for (image, ids), (_, label) in zip(reference, examples, strict=True)
    ]
    report = _check(examples, reference, wrong_on_void, min_pixel_agreement=0)
    assert report.pixel_agreement == pytest.approx(0.8)  # 2 of 10 columns are void
    assert report.miou_drop == 0


def test_a_candidate_past_the_mean_iou_threshold_is_refused(flipped):
    examples, reference, candidate = flipped
    with pytest.raises(AccuracyGuardError, match="accuracy guard FAILED") as raised:
        _check(examples, reference, candidate, max_miou_drop=0.003, min_pixel_agreement=0.5)
    report = raised.value.report
    assert report.miou_drop > 0.003 and report.pixel_agreement > 0.5
    assert not report.passed


def test_a_candidate_below_the_pixel_agreement_threshold_is_refused(flipped):
    examples, reference, candidate = flipped
    with pytest.raises(AccuracyGuardError, match=r"pixel agreement 9\d\.\d+%"):
        _check(examples, reference, candidate, max_miou_drop=1.0, min_pixel_agreement=0.99)


def test_warn_mode_warns_loudly_and_returns_the_failed_report(flipped):
    examples, reference, candidate = flipped
    with pytest.warns(AccuracyGuardWarning, match="further from the float32 model than allowed"):
        report = _check(examples, reference, candidate, on_failure="warn")
    assert not report.passed
    assert report.to_dict()["passed"] is False


def test_identical_paths_pass_at_the_strictest_thresholds(flipped):
    examples, reference, _ = flipped
    report = _check(examples, reference, reference, max_miou_drop=0, min_pixel_agreement=1)
    assert report.pixel_agreement == 1 and report.miou_drop == 0 and report.passed


def test_batches_and_float_images_are_taken_one_image_at_a_time(flipped):
    examples, reference, _ = flipped
    images = np.stack([image for image, _ in examples]).astype("float32")
    labels = np.stack([label for _, label in examples])[..., None]
    report = _check([(images, labels)], reference, reference)
    assert report.images == 4


def test_bad_arguments_are_rejected(flipped):
    examples, reference, _ = flipped
    predict = _lookup(reference)
    with pytest.raises(ValueError, match="on_failure"):
        check_agreement(predict, predict, examples, NUM_CLASSES, on_failure="ignore")
    with pytest.raises(ValueError, match="fraction in \\[0, 1\\]"):
        check_agreement(predict, predict, examples, NUM_CLASSES, min_pixel_agreement=99.5)
    with pytest.raises(ValueError, match="holds no image"):
        check_agreement(predict, predict, [], NUM_CLASSES)
    with pytest.raises(ValueError, match="\\(image, label\\) pairs"):
        check_agreement(predict, predict, [examples[0][0]], NUM_CLASSES)
    bad_label = [(examples[0][0], np.full((12, 10), 7, np.int32))]
    with pytest.raises(ValueError, match="Labels must be in \\[0, 3\\)"):
        check_agreement(predict, predict, bad_label, NUM_CLASSES)


def test_report_prints_both_scores_and_the_change():
    from keras_fcn.evaluation import EvaluationReport

    reference = EvaluationReport.from_confusion_matrix([[3, 1], [0, 4]])
    candidate = EvaluationReport.from_confusion_matrix([[3, 1], [0, 4]])
    text = str(AgreementReport(0.99871, reference, candidate, 2, 1000, 0.003, 0.99))
    assert "passed on 2 images (1,000 pixels)" in text
    assert "pixel agreement 99.871%" in text and "77.50 → 77.50" in text
