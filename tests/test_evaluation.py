"""`evaluate` and its report against score.py's numpy reference.

Tests marked `backends` also run with `KERAS_BACKEND=jax` and `torch` (see tests/conftest.py);
the others check the TensorFlow backend's `tf.function` and `tf.data` input and take
TensorFlow from the `tf` fixture.
"""

import json

import keras
import numpy as np
import pytest
from score_reference import fast_hist, reference_scores

from keras_fcn.classes import VOC_CLASS_NAMES
from keras_fcn.evaluation import EvaluationReport, evaluate
from keras_fcn.metrics import per_class_iou

# JAX has no float64 unless jax_enable_x64 is set: there the report's scores are float32's.
EXACT_RTOL = 1e-12 if keras.ops.convert_to_numpy(per_class_iou([[1]])).dtype == np.float64 else 1e-6


class CountingClassifier(keras.layers.Layer):
    """A 1x1 convolution from 3 channels to class logits that counts how often it is traced."""

    def __init__(self, num_classes, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.kernel = rng.normal(size=(3, num_classes)).astype(np.float32)
        self.calls = 0

    def call(self, images):
        self.calls += 1
        return keras.ops.matmul(keras.ops.cast(images, "float32"), self.kernel)


def pixel_classifier(num_classes, seed=0):
    layer = CountingClassifier(num_classes, seed)
    model = keras.Sequential([keras.Input((None, None, 3)), layer])
    layer.calls = 0
    return model, layer


def batches_of_changing_size(num_classes, sizes, seed=0):
    """(image, label) batches of one image each, labels with void and some absent classes."""
    rng = np.random.default_rng(seed)
    batches = []
    for height, width in sizes:
        image = rng.normal(size=(1, height, width, 3)).astype(np.float32)
        label = rng.integers(0, num_classes - 1, size=(1, height, width)).astype(np.int32)
        label[rng.random(label.shape) < 0.15] = 255
        batches.append((image, label))
    return batches


def numpy_predictions(layer, images):
    return np.argmax(images @ layer.kernel, axis=-1)


SIZES = [(7, 9), (12, 5), (8, 8), (10, 13), (6, 11)]


@pytest.mark.backends
def test_report_matches_numpy_reference_over_images_of_changing_size():
    num_classes = 6
    model, layer = pixel_classifier(num_classes)
    batches = batches_of_changing_size(num_classes, SIZES)
    report = evaluate(model, batches, num_classes)

    hist = sum(
        fast_hist(label, numpy_predictions(layer, image), num_classes) for image, label in batches
    )
    expected, expected_iu, expected_accuracy = reference_scores(hist)
    np.testing.assert_array_equal(report.confusion_matrix, hist)
    assert report.confusion_matrix.dtype == np.int64
    for key, value in expected.items():
        np.testing.assert_allclose(getattr(report, key), value, rtol=EXACT_RTOL, err_msg=key)
    np.testing.assert_allclose(report.per_class_iou, expected_iu, rtol=EXACT_RTOL)
    np.testing.assert_allclose(report.per_class_accuracy, expected_accuracy, rtol=EXACT_RTOL)
    np.testing.assert_array_equal(report.class_pixels, hist.sum(axis=1))
    assert report.class_names == tuple(f"class_{i}" for i in range(num_classes))


@pytest.mark.backends
def test_a_protocol_scores_each_image_as_its_predictor_does_and_shows_progress(capsys):
    from keras_fcn.inference import Protocol, ProtocolPredictor

    num_classes = 4
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(num_classes, 3, padding="same")]
    )
    batches = batches_of_changing_size(num_classes, SIZES)
    protocol = Protocol(scales=(1.0, 0.5), flip=True, window=6, stride=4)
    report = evaluate(model, batches, num_classes, protocol=protocol, verbose=1)

    predictor = ProtocolPredictor(model, protocol)
    hist = sum(
        fast_hist(label, predictor(image).argmax(axis=-1), num_classes) for image, label in batches
    )
    np.testing.assert_array_equal(report.confusion_matrix, hist)
    assert f"{len(SIZES)}/{len(SIZES)}" in capsys.readouterr().out


def test_new_image_sizes_do_not_retrace_every_time():
    model, layer = pixel_classifier(4)
    evaluate(model, batches_of_changing_size(4, SIZES), 4)
    # One trace for the first size, one relaxed to unknown sizes for the second, then none.
    assert layer.calls <= 2


def test_tf_data_dataset_with_labels_carrying_a_channel_axis(tf):
    num_classes = 5
    model, layer = pixel_classifier(num_classes, seed=1)
    batches = batches_of_changing_size(num_classes, SIZES[:3], seed=1)
    dataset = tf.data.Dataset.from_generator(
        lambda: ((image, label[..., None]) for image, label in batches),
        output_signature=(
            tf.TensorSpec((1, None, None, 3), tf.float32),
            tf.TensorSpec((1, None, None, 1), tf.int32),
        ),
    )
    report = evaluate(model, dataset, num_classes)
    hist = sum(
        fast_hist(label, numpy_predictions(layer, image), num_classes) for image, label in batches
    )
    np.testing.assert_array_equal(report.confusion_matrix, hist)


def test_out_of_range_label_raises_at_its_batch_on_tensorflow(tf):
    model, _ = pixel_classifier(3)
    image, label = np.zeros((1, 2, 2, 3), np.float32), np.array([[[0, 1], [2, 3]]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)label.*3"):
        evaluate(model, [(image, label)], 3)


@pytest.mark.backends
def test_out_of_range_label_raises_at_the_end_where_nothing_asserts():
    if keras.backend.backend() == "tensorflow":
        pytest.skip("TensorFlow asserts at the batch (the test above)")
    model, _ = pixel_classifier(3)
    image, label = np.zeros((1, 2, 2, 3), np.float32), np.array([[[0, 1], [2, 3]]])
    with pytest.raises(ValueError, match=r"1 pixels had a label outside \[0, 3\)"):
        evaluate(model, [(image, label)], 3)


@pytest.mark.backends
def test_elements_that_are_not_pairs_raise():
    model, _ = pixel_classifier(3)
    with pytest.raises(ValueError, match=r"\(image, label\)"):
        evaluate(model, [np.zeros((1, 2, 2, 3))], 3)


@pytest.mark.backends
def test_wrong_number_of_class_names_raises():
    model, _ = pixel_classifier(3)
    with pytest.raises(ValueError, match="3 class names"):
        evaluate(model, [], 3, class_names=["a", "b"])


@pytest.mark.backends
def test_hand_worked_report():
    # Rows = truth. Class 0: 3 right, 1 taken for class 1; class 1: 4 right; class 2 only
    # predicted (once, for a class-1 pixel); class 3 absent from both.
    # t = [4, 5, 0, 0], column sums [3, 5, 1, 0], diagonal [3, 4, 0, 0], 9 pixels.
    # pixel accuracy 7/9; accuracies 3/4, 4/5: mean 31/40
    # IU = 3/(4+3-3) = 3/4, 4/(5+5-4) = 2/3, 0/(0+1-0) = 0, undefined: mean (3/4+2/3+0)/3 = 17/36
    # f.w. IU = (4 * 3/4 + 5 * 2/3) / 9 = (19/3) / 9 = 19/27
    matrix = [[3, 1, 0, 0], [0, 4, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    report = EvaluationReport.from_confusion_matrix(matrix, ["sky", "tree", "car", "boat"])
    np.testing.assert_allclose(report.pixel_accuracy, 7 / 9)
    np.testing.assert_allclose(report.mean_accuracy, 31 / 40)
    np.testing.assert_allclose(report.mean_iou, 17 / 36)
    np.testing.assert_allclose(report.frequency_weighted_iou, 19 / 27)
    np.testing.assert_allclose(report.per_class_iou, [3 / 4, 2 / 3, 0, np.nan])
    np.testing.assert_allclose(report.per_class_accuracy, [3 / 4, 4 / 5, np.nan, np.nan])

    text = str(report)
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[7:]}
    assert rows == {
        "sky": ["75.0", "75.0", "4"],
        "tree": ["66.7", "80.0", "5"],
        "car": ["0.0", "-", "0"],
        "boat": ["-", "-", "0"],
    }
    assert "mean IU" in text and "47.2" in text  # 17/36 = 47.2%


@pytest.mark.backends
def test_to_dict_is_json_and_round_trips(tmp_path):
    matrix = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 0]])
    report = EvaluationReport.from_confusion_matrix(matrix)
    path = tmp_path / "report.json"
    text = report.to_json(path)
    loaded = json.loads(path.read_text())
    assert loaded == json.loads(text) == report.to_dict()
    assert loaded["classes"][2] == {"name": "class_2", "iou": None, "accuracy": None, "pixels": 0}
    assert loaded["classes"][1]["pixels"] == 9
    restored = EvaluationReport.from_confusion_matrix(
        loaded["confusion_matrix"], [entry["name"] for entry in loaded["classes"]]
    )
    assert restored.to_dict() == loaded


@pytest.mark.backends
def test_twenty_one_classes_default_to_voc_names():
    report = EvaluationReport.from_confusion_matrix(np.eye(21, dtype=np.int64))
    assert report.class_names == VOC_CLASS_NAMES
    text = str(report)
    assert all(name in text for name in VOC_CLASS_NAMES)


@pytest.mark.backends
def test_empty_split_scores_zero():
    report = EvaluationReport.from_confusion_matrix(np.zeros((3, 3)))
    scores = (report.pixel_accuracy, report.mean_accuracy, report.mean_iou)
    assert (*scores, report.frequency_weighted_iou) == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.backends
@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.zeros((2, 3)), "square"),
        (np.array([[1.5, 0], [0, 1]]), "whole"),
        (np.array([[-1, 0], [0, 1]]), "non-negative"),
    ],
)
def test_invalid_confusion_matrix_raises(matrix, message):
    with pytest.raises(ValueError, match=message):
        EvaluationReport.from_confusion_matrix(matrix)
