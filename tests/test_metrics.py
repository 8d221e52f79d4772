"""The metrics against score.py's numpy reference, on every Keras backend.

Tests marked `backends` also run with `KERAS_BACKEND=jax` and `torch` (see tests/conftest.py);
the others exercise the TensorFlow backend's own paths (assertions, XLA, `tf.distribute`) and
take TensorFlow from the `tf` fixture (tests/conftest.py).
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from score_reference import fast_hist, reference_scores

from keras_fcn.metrics import (
    ConfusionMatrixMetric,
    FrequencyWeightedIoU,
    MeanAccuracy,
    MeanIoU,
    PixelAccuracy,
    SegmentationScores,
    scores,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# JAX has no float64 unless jax_enable_x64 is set: there the float64 results are float32.
EXACT_RTOL = (
    1e-12 if keras.ops.convert_to_numpy(scores.per_class_iou([[1]])).dtype == np.float64 else 1e-6
)
SCORE_METRICS = {
    "pixel_accuracy": PixelAccuracy,
    "mean_accuracy": MeanAccuracy,
    "mean_iou": MeanIoU,
    "frequency_weighted_iou": FrequencyWeightedIoU,
}


def numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def random_split(num_classes, seed=0, shape=(6, 24, 24)):
    """Labels with 10% void pixels and predictions, each drawn from a subset of the classes.

    With at least 4 classes, the last one is absent from both the truth and the predictions,
    the second last only from the truth, the third last only from the predictions. With 2
    classes, class 0 is never predicted.
    """
    rng = np.random.default_rng(seed)
    if num_classes >= 4:
        truth_classes = np.arange(num_classes - 2)
        predicted_classes = np.append(np.arange(num_classes - 3), num_classes - 2)
    else:
        truth_classes, predicted_classes = np.arange(num_classes), np.array([num_classes - 1])
    labels = rng.choice(truth_classes, size=shape).astype(np.int32)
    labels[rng.random(shape) < 0.1] = 255
    predictions = rng.choice(predicted_classes, size=shape).astype(np.int32)
    # Make part of the predictions right, so the scores are not all near zero.
    right = (rng.random(shape) < 0.4) & np.isin(labels, predicted_classes)
    predictions[right] = labels[right]
    return labels, predictions


def logits_for(predictions, num_classes, seed=1):
    # The predicted class wins by a margin of at least 1, so probabilities keep the arg-max.
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-0.4, 0.4, size=(*predictions.shape, num_classes))
    return (3.0 * np.eye(num_classes)[predictions] + noise).astype(np.float32)


def scores_of(metric):
    result = metric.result()
    return {key: float(value) for key, value in result.items()}


@pytest.mark.parametrize("num_classes", [2, 21, 150])
@pytest.mark.backends
def test_scores_match_numpy_reference(num_classes):
    labels, predictions = random_split(num_classes)
    hist = fast_hist(labels, predictions, num_classes)
    expected, expected_iu, expected_accuracy = reference_scores(hist)
    logits = logits_for(predictions, num_classes)

    segmentation_scores = SegmentationScores(num_classes)
    segmentation_scores.update_state(labels, logits)
    np.testing.assert_array_equal(numpy(segmentation_scores.confusion_matrix()), hist)
    for key, value in scores_of(segmentation_scores).items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(
        numpy(segmentation_scores.per_class_iou()), expected_iu, rtol=EXACT_RTOL
    )
    np.testing.assert_allclose(
        numpy(segmentation_scores.per_class_accuracy()), expected_accuracy, rtol=EXACT_RTOL
    )

    for key, metric_class in SCORE_METRICS.items():
        metric = metric_class(num_classes)
        metric.update_state(labels, logits)
        np.testing.assert_allclose(float(metric.result()), expected[key], rtol=1e-6, err_msg=key)


@pytest.mark.backends
def test_random_split_has_every_kind_of_absent_class():
    labels, predictions = random_split(21)
    in_truth, predicted = set(np.unique(labels)) - {255}, set(np.unique(predictions))
    assert 20 not in in_truth and 20 not in predicted
    assert 19 not in in_truth and 19 in predicted
    assert 18 in in_truth and 18 not in predicted


def test_score_functions_keep_float32_and_float64_and_make_others_float64():
    matrix = [[3, 1], [1, 5]]
    assert scores.pixel_accuracy(matrix).dtype == "float64"
    assert scores.mean_iou(np.array(matrix, np.int64)).dtype == "float64"
    for dtype in ("float32", "float64"):
        for function in (
            scores.pixel_accuracy,
            scores.mean_accuracy,
            scores.mean_iou,
            scores.frequency_weighted_iou,
        ):
            assert function(np.array(matrix, dtype)).dtype == dtype
        assert scores.per_class_iou(np.array(matrix, dtype)).dtype == dtype


@pytest.mark.backends
def test_score_functions_match_numpy_reference_in_float64():
    labels, predictions = random_split(21, seed=3)
    hist = fast_hist(labels, predictions, 21)
    expected, expected_iu, expected_accuracy = reference_scores(hist)
    functions = {
        "pixel_accuracy": scores.pixel_accuracy,
        "mean_accuracy": scores.mean_accuracy,
        "mean_iou": scores.mean_iou,
        "frequency_weighted_iou": scores.frequency_weighted_iou,
    }
    for key, function in functions.items():
        np.testing.assert_allclose(
            float(function(hist)), expected[key], rtol=EXACT_RTOL, err_msg=key
        )
    np.testing.assert_allclose(numpy(scores.per_class_iou(hist)), expected_iu, rtol=EXACT_RTOL)
    np.testing.assert_allclose(
        numpy(scores.per_class_accuracy(hist)), expected_accuracy, rtol=EXACT_RTOL
    )


@pytest.mark.backends
def test_hand_worked_example():
    # Truth [[0, 0, 1], [1, 2, 255]], prediction [[0, 1, 1], [2, 2, 3]], 4 classes.
    # The void pixel drops out (with its prediction of class 3), leaving 5 pixels:
    # (0,0) (0,1) (1,1) (1,2) (2,2), so n = [[1,1,0,0], [0,1,1,0], [0,0,1,0], [0,0,0,0]].
    # Row sums t = [2, 2, 1, 0], column sums [1, 2, 2, 0], diagonal [1, 1, 1, 0].
    # pixel accuracy = 3 / 5
    # accuracies 1/2, 1/2, 1/1 (class 3 absent from the truth): mean 2/3
    # IU_0 = 1/(2+1-1) = 1/2, IU_1 = 1/(2+2-1) = 1/3, IU_2 = 1/(1+2-1) = 1/2, IU_3 undefined
    # mean IU = (1/2 + 1/3 + 1/2) / 3 = 4/9
    # f.w. IU = (2 * 1/2 + 2 * 1/3 + 1 * 1/2) / 5 = (13/6) / 5 = 13/30
    labels = np.array([[[0, 0, 1], [1, 2, 255]]])
    predictions = np.array([[[0, 1, 1], [2, 2, 3]]])
    metric = SegmentationScores(num_classes=4)
    metric.update_state(labels, predictions)
    expected_matrix = [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(numpy(metric.confusion_matrix()), expected_matrix)
    expected = {
        "pixel_accuracy": 3 / 5,
        "mean_accuracy": 2 / 3,
        "mean_iou": 4 / 9,
        "frequency_weighted_iou": 13 / 30,
    }
    for key, value in scores_of(metric).items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(numpy(metric.per_class_iou()), [1 / 2, 1 / 3, 1 / 2, np.nan])
    np.testing.assert_allclose(numpy(metric.per_class_accuracy()), [1 / 2, 1 / 2, 1, np.nan])


@pytest.mark.backends
def test_class_only_predicted_scores_zero_iou_and_counts_in_the_mean():
    # Truth all class 0 (4 pixels), 1 pixel predicted as class 1: IU_0 = 3/4, IU_1 = 0/1.
    metric = MeanIoU(num_classes=3)
    metric.update_state(np.zeros((1, 2, 2)), np.array([[[0, 0], [0, 1]]]))
    np.testing.assert_allclose(float(metric.result()), (3 / 4 + 0) / 2, rtol=1e-6)


@pytest.mark.backends
def test_empty_matrix_scores_zero_not_nan():
    for function in (
        scores.pixel_accuracy,
        scores.mean_accuracy,
        scores.mean_iou,
        scores.frequency_weighted_iou,
    ):
        assert float(function(np.zeros((5, 5)))) == 0.0
    assert scores_of(SegmentationScores(5)) == dict.fromkeys(SCORE_METRICS, 0.0)


@pytest.mark.backends
def test_streaming_over_batches_equals_one_shot():
    labels, predictions = random_split(21, seed=5, shape=(8, 16, 16))
    logits = logits_for(predictions, 21)
    one_shot, streamed = SegmentationScores(21), SegmentationScores(21)
    one_shot.update_state(labels, logits)
    for start, stop in [(0, 1), (1, 4), (4, 5), (5, 8)]:
        streamed.update_state(labels[start:stop], logits[start:stop])
    np.testing.assert_array_equal(
        numpy(streamed.confusion_matrix()), numpy(one_shot.confusion_matrix())
    )
    assert scores_of(streamed) == scores_of(one_shot)


@pytest.mark.backends
def test_logits_probabilities_and_class_ids_give_the_same_matrix():
    labels, predictions = random_split(21, seed=6)
    logits = logits_for(predictions, 21)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
    matrices = []
    for y_pred in (logits, probabilities, predictions):
        metric = ConfusionMatrixMetric(21)
        metric.update_state(labels, y_pred)
        matrices.append(numpy(metric.result()))
    np.testing.assert_array_equal(matrices[0], fast_hist(labels, predictions, 21))
    np.testing.assert_array_equal(matrices[1], matrices[0])
    np.testing.assert_array_equal(matrices[2], matrices[0])


@pytest.mark.backends
def test_labels_with_a_trailing_channel_axis_are_accepted():
    labels, predictions = random_split(21, seed=7)
    metric = ConfusionMatrixMetric(21)
    metric.update_state(labels[..., None], logits_for(predictions, 21))
    np.testing.assert_array_equal(numpy(metric.result()), fast_hist(labels, predictions, 21))


@pytest.mark.backends
def test_uint8_labels_with_void_are_accepted():
    labels, predictions = random_split(21, seed=8)
    metric = ConfusionMatrixMetric(21)
    metric.update_state(labels.astype(np.uint8), predictions)
    np.testing.assert_array_equal(numpy(metric.result()), fast_hist(labels, predictions, 21))


@pytest.mark.backends
def test_all_ignored_batch_changes_nothing():
    labels, predictions = random_split(21, seed=9)
    metric = SegmentationScores(21)
    metric.update_state(labels, predictions)
    before, scores_before = numpy(metric.confusion_matrix()), scores_of(metric)
    metric.update_state(np.full((2, 24, 24), 255), logits_for(np.zeros((2, 24, 24), int), 21))
    np.testing.assert_array_equal(numpy(metric.confusion_matrix()), before)
    assert scores_of(metric) == scores_before


@pytest.mark.backends
def test_ignore_class_none_counts_every_pixel():
    metric = ConfusionMatrixMetric(3, ignore_class=None)
    metric.update_state([[[0, 1]]], [[[0, 2]]])
    np.testing.assert_array_equal(numpy(metric.result()), [[1, 0, 0], [0, 0, 1], [0, 0, 0]])


@pytest.mark.backends
def test_reset_state_empties_the_matrix():
    metric = SegmentationScores(3)
    metric.update_state([[[0, 1]]], [[[0, 2]]])
    metric.reset_state()
    np.testing.assert_array_equal(numpy(metric.confusion_matrix()), np.zeros((3, 3)))


@pytest.mark.parametrize("wrap", ["eager", "tf.function"])
def test_out_of_range_label_raises_naming_value_and_metric(tf, wrap):
    metric = SegmentationScores(21, name="val_scores")
    update = metric.update_state if wrap == "eager" else tf.function(metric.update_state)
    labels = np.array([[[0, 21, 255]]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)val_scores.*label.*21"):
        update(labels, np.zeros((1, 1, 3, 21), np.float32))
    np.testing.assert_array_equal(numpy(metric.confusion_matrix()), np.zeros((21, 21)))


def test_out_of_range_predicted_class_id_raises(tf):
    metric = ConfusionMatrixMetric(3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)predicted class id.*7"):
        metric.update_state([[[0, 1]]], [[[0, 7]]])


def _update_leaving_out_of_range_pixels(metric):
    """What a metric's update does wherever nothing asserts: XLA on TensorFlow, JAX, PyTorch."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(metric.update_state, jit_compile=True)
    return metric.update_state


@pytest.mark.backends
def test_where_nothing_asserts_out_of_range_pixels_are_left_out_and_scores_read_nan():
    # The pixel labelled 21 is not counted, and the scores turn NaN.
    metric = SegmentationScores(21)
    update = _update_leaving_out_of_range_pixels(metric)
    update(np.array([[[0, 21, 255, 3]]]), np.array([[[0, 4, 5, 3]]]))
    expected = np.zeros((21, 21))
    expected[0, 0] = expected[3, 3] = 1
    np.testing.assert_array_equal(numpy(metric.confusion_matrix()), expected)
    assert all(np.isnan(value) for value in scores_of(metric).values())
    metric.reset_state()
    assert scores_of(metric) == dict.fromkeys(SCORE_METRICS, 0.0)


@pytest.mark.backends
def test_where_nothing_asserts_out_of_range_class_ids_are_left_out_too():
    metric = ConfusionMatrixMetric(3)
    _update_leaving_out_of_range_pixels(metric)(np.array([[[0, 1, 2]]]), np.array([[[0, 7, -1]]]))
    np.testing.assert_array_equal(numpy(metric.result()), [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    assert float(metric.out_of_range_pixels) == 2


def test_xla_compiled_update_matches_reference(tf):
    labels, predictions = random_split(21, seed=10)
    metric = SegmentationScores(21)
    tf.function(metric.update_state, jit_compile=True)(labels, logits_for(predictions, 21))
    np.testing.assert_array_equal(
        numpy(metric.confusion_matrix()), fast_hist(labels, predictions, 21)
    )


@pytest.mark.backends
def test_counts_stay_exact_beyond_two_to_the_24():
    # One batch of 2^24 + 4096 pixels of class 0, then one more: a float32 cell would hold
    # neither count (float32 whole numbers above 2^24 are even).
    metric = ConfusionMatrixMetric(2)
    big = np.zeros((1, 4097, 4096), np.uint8)
    metric.update_state(big, big)
    assert int(metric.exact_confusion_matrix()[0, 0]) == 2**24 + 4096
    metric.update_state(np.zeros((1, 1, 1), np.uint8), np.zeros((1, 1, 1), np.uint8))
    assert int(metric.exact_confusion_matrix()[0, 0]) == 2**24 + 4097
    assert int(np.float32(2**24 + 4097)) != 2**24 + 4097
    if EXACT_RTOL < 1e-6:  # float64 results are exact too
        assert int(numpy(metric.result())[0, 0]) == 2**24 + 4097


@pytest.mark.backends
def test_integer_weights_add_up_exactly_beyond_float32():
    # Cell (1, 1) gets 2^30, then 1 + 1; cell (0, 1) 2^40, then 3: neither total is a float32
    # number, though each update's counts are.
    metric = ConfusionMatrixMetric(2)
    labels, predictions = np.array([[[1, 1, 0]]]), np.array([[[1, 1, 1]]])
    metric.update_state(labels, predictions, sample_weight=np.array([[[2**30, 0, 2**40]]]))
    metric.update_state(labels, predictions, sample_weight=np.array([[[1, 1, 3]]]))
    counts = metric.exact_confusion_matrix()
    assert counts[1, 1] == 2**30 + 2
    assert counts[0, 1] == 2**40 + 3
    assert int(np.float32(2**30 + 2)) != 2**30 + 2


@pytest.mark.backends
def test_many_weighted_updates_stay_exact_and_scores_match_the_reference():
    # 40 updates with integer weights up to 2^16 carry into the high word again and again and
    # take most cells past 2^24; an int64 numpy matrix is the reference.
    num_classes = 21
    rng = np.random.default_rng(15)
    metric = SegmentationScores(num_classes)
    expected = np.zeros((num_classes, num_classes), np.int64)
    for seed in range(40):
        labels, predictions = random_split(num_classes, seed=seed)
        weights = rng.integers(0, 2**16, size=labels.shape)
        metric.update_state(labels, predictions, sample_weight=weights.astype(np.float32))
        counted = labels != 255
        expected += (
            np.bincount(
                num_classes * labels[counted] + predictions[counted],
                weights=weights[counted],
                minlength=num_classes**2,
            )
            .astype(np.int64)
            .reshape(num_classes, num_classes)
        )
    assert expected.max() > 2**24
    np.testing.assert_array_equal(metric.exact_confusion_matrix(), expected)
    reference = reference_scores(expected)[0]
    for key, value in scores_of(metric).items():
        np.testing.assert_allclose(value, reference[key], rtol=1e-6, err_msg=key)


@pytest.mark.parametrize("metric_class", [*SCORE_METRICS.values(), SegmentationScores])
def test_compiled_update_and_scores_use_no_float64(tf, metric_class):
    # TPUs have no float64: a training or evaluation step that compiles these metrics must
    # not hold a float64 tensor anywhere.
    metric = metric_class(21)

    @tf.function
    def step(labels, logits, weights):
        metric.update_state(labels, logits, sample_weight=weights)
        return metric.result()

    labels, predictions = random_split(21, seed=16)
    graph = step.get_concrete_function(
        labels, logits_for(predictions, 21), np.ones(labels.shape, np.float32)
    ).graph
    float64 = [
        op.name
        for op in graph.get_operations()
        if any(tensor.dtype == tf.float64 for tensor in op.outputs)
        or any(value == tf.float64 for value in op.node_def.attr.values())
    ]
    assert float64 == []
    assert all(variable.dtype == "float32" for variable in metric.variables)


@pytest.mark.backends
def test_sample_weight_counts_each_pixel_for_its_weight():
    labels, predictions = random_split(21, seed=11)
    rng = np.random.default_rng(12)
    weights = rng.integers(0, 3, size=labels.shape)
    repeated_labels = np.repeat(labels.ravel(), weights.ravel())
    repeated_predictions = np.repeat(predictions.ravel(), weights.ravel())
    for sample_weight in (weights, weights[..., None]):
        metric = ConfusionMatrixMetric(21)
        metric.update_state(labels, predictions, sample_weight=sample_weight)
        np.testing.assert_array_equal(
            numpy(metric.result()), fast_hist(repeated_labels, repeated_predictions, 21)
        )


@pytest.mark.backends
def test_per_image_sample_weight_scales_whole_images():
    labels, predictions = random_split(21, seed=13, shape=(3, 8, 8))
    metric = ConfusionMatrixMetric(21)
    metric.update_state(labels, predictions, sample_weight=np.array([0.0, 1.0, 2.5]))
    expected = fast_hist(labels[1], predictions[1], 21) + 2.5 * fast_hist(
        labels[2], predictions[2], 21
    )
    np.testing.assert_array_equal(numpy(metric.result()), expected)


@pytest.mark.backends
def test_wrong_number_of_score_channels_raises():
    with pytest.raises(ValueError, match=r"num_classes=21.*\(1, 2, 2, 5\)"):
        ConfusionMatrixMetric(21).update_state(np.zeros((1, 2, 2)), np.zeros((1, 2, 2, 5)))


@pytest.mark.backends
def test_predictions_of_another_size_raise():
    with pytest.raises(ValueError, match="same pixels"):
        ConfusionMatrixMetric(21).update_state(np.zeros((1, 2, 2)), np.zeros((1, 2, 3, 21)))


@pytest.mark.parametrize("num_classes", [0, 2.5, True])
@pytest.mark.backends
def test_invalid_num_classes_raises(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        MeanIoU(num_classes)


@pytest.mark.parametrize(
    "metric_class", [ConfusionMatrixMetric, *SCORE_METRICS.values(), SegmentationScores]
)
@pytest.mark.backends
def test_config_round_trip(metric_class):
    metric = metric_class(7, ignore_class=None, name="custom", dtype="float64")
    restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(restored) is metric_class
    assert restored.get_config() == metric.get_config()
    assert (restored.num_classes, restored.ignore_class, restored.name) == (7, None, "custom")


@pytest.mark.backends
def test_default_names():
    names = {key: metric_class(3).name for key, metric_class in SCORE_METRICS.items()}
    assert names == {key: key for key in SCORE_METRICS}
    assert SegmentationScores(3).name == "segmentation_scores"


def pixel_classifier(num_classes, seed=0):
    """A 1x1 convolution from 3 channels to class logits, with fixed random weights."""
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(num_classes, 1)])
    kernel = rng.normal(size=(1, 1, 3, num_classes)).astype(np.float32)
    model.layers[0].set_weights([kernel, rng.normal(size=num_classes).astype(np.float32)])
    return model


def classifier_data(num_classes, seed=0, count=12):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(count, 8, 8, 3)).astype(np.float32)
    labels, _ = random_split(num_classes, seed=seed, shape=(count, 8, 8))
    return images, labels


def expected_model_scores(model, images, labels, num_classes):
    predictions = np.argmax(model.predict(images, verbose=0), axis=-1)
    return reference_scores(fast_hist(labels, predictions, num_classes))[0]


@pytest.mark.backends
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_logs_the_four_scores_in_history(jit_compile):
    if jit_compile and keras.backend.backend() == "torch":
        pytest.skip("jit_compile=True is torch.compile on PyTorch: minutes of compiling on a CPU")
    num_classes = 5
    images, labels = classifier_data(num_classes, seed=1)
    val_images, val_labels = classifier_data(num_classes, seed=2, count=6)
    model = pixel_classifier(num_classes)
    # A zero learning rate keeps the weights, so the epoch's scores are those of `predict`.
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        metrics=[SegmentationScores(num_classes)],
        jit_compile=jit_compile,
    )
    history = model.fit(
        images,
        labels,
        batch_size=4,
        epochs=1,
        validation_data=(val_images, val_labels),
        verbose=0,
    ).history
    expected = expected_model_scores(model, images, labels, num_classes)
    expected_val = expected_model_scores(model, val_images, val_labels, num_classes)
    for key in SCORE_METRICS:
        np.testing.assert_allclose(history[key][0], expected[key], rtol=1e-6, err_msg=key)
        np.testing.assert_allclose(
            history[f"val_{key}"][0], expected_val[key], rtol=1e-6, err_msg=key
        )


@pytest.mark.backends
def test_compiled_fit_logs_nan_scores_for_out_of_range_labels():
    images, labels = classifier_data(5, seed=1)
    labels[0, 0, 0] = 9
    model = pixel_classifier(5)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        metrics=[SegmentationScores(5)],
        jit_compile=keras.backend.backend() != "torch",
    )
    if keras.backend.backend() == "torch":
        # PyTorch's cross-entropy checks the labels itself, before the metric sees them.
        with pytest.raises(IndexError, match="Target 9 is out of bounds"):
            model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    else:
        history = model.fit(images, labels, batch_size=4, epochs=1, verbose=0).history
        assert all(np.isnan(history[key][0]) for key in SCORE_METRICS)


@pytest.mark.backends
@pytest.mark.xfail(
    keras.backend.backend() == "torch",
    reason="Keras 3.15 on PyTorch: the loss's ignore_class mask scales the sample weights in "
    "place (keras/src/losses/loss.py, apply_mask: `sample_weight *= float_mask`), so the "
    "weighted metrics see each labelled pixel's weight times total/labelled pixels",
    strict=True,
)
def test_weighted_metrics_take_the_dataset_pixel_weights():
    num_classes = 4
    images, labels = classifier_data(num_classes, seed=4)
    mask = np.random.default_rng(5).random(labels.shape) < 0.5
    model = pixel_classifier(num_classes)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        weighted_metrics=[ConfusionMatrixMetric(num_classes, name="matrix")],
    )
    model.evaluate(images, labels, sample_weight=mask.astype(np.float32), verbose=0)
    predictions = np.argmax(model.predict(images, verbose=0), axis=-1)
    expected = fast_hist(labels[mask], predictions[mask], num_classes)
    matrix = model.get_metrics_result()["matrix"]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(matrix), expected)


@pytest.mark.backends
def test_keras_file_reloads_in_safe_mode_with_its_metrics(tmp_path):
    num_classes = 4
    images, labels = classifier_data(num_classes, seed=3)
    model = pixel_classifier(num_classes)
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        metrics=[SegmentationScores(num_classes), MeanIoU(num_classes, name="iou")],
    )
    model.optimizer.build(model.trainable_variables)
    model.evaluate(images, labels, verbose=0)
    path = tmp_path / "classifier.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    logs = restored.evaluate(images, labels, batch_size=5, verbose=0, return_dict=True)
    expected = expected_model_scores(model, images, labels, num_classes)
    for key in SCORE_METRICS:
        np.testing.assert_allclose(logs[key], expected[key], rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(logs["iou"], expected["mean_iou"], rtol=1e-6)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    import keras

    from keras_fcn.metrics import ConfusionMatrixMetric, SegmentationScores

    data = np.load(sys.argv[1])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = keras.Sequential([keras.Input(data["logits"].shape[1:]), keras.layers.Identity()])
        matrix = ConfusionMatrixMetric(int(data["num_classes"]))
        weighted = ConfusionMatrixMetric(int(data["num_classes"]), name="weighted")
        model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
            metrics=[SegmentationScores(int(data["num_classes"])), matrix],
            weighted_metrics=[weighted],
        )
    logs = model.evaluate(data["logits"], data["labels"], batch_size=4, verbose=0,
                          return_dict=True)
    model.evaluate(data["logits"], data["labels"], sample_weight=data["weights"], batch_size=4,
                   verbose=0)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "scores": {key: float(value) for key, value in logs.items() if np.ndim(value) == 0},
        "matrix": matrix.confusion_matrix().numpy().tolist(),
        "weighted": weighted.confusion_matrix().numpy().tolist(),
    }))
    """
)


def test_mirrored_strategy_over_two_cpus_equals_single_device(tmp_path):
    num_classes = 6
    labels, predictions = random_split(num_classes, seed=14, shape=(10, 8, 8))
    logits = logits_for(predictions, num_classes)
    # Whole multiples of 2^8 below 2^22: each replica's counts carry into the high word and
    # most cells end beyond 2^24, while every weight and per-step sum is a float32 number.
    weights = np.random.default_rng(17).integers(0, 2**14, size=labels.shape) * 2**8
    np.savez(
        tmp_path / "data.npz",
        logits=logits,
        labels=labels,
        weights=weights.astype(np.float32),
        num_classes=num_classes,
    )
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }
    completed = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "data.npz")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2

    single = SegmentationScores(num_classes)
    for start in range(0, 10, 4):
        single.update_state(labels[start : start + 4], logits[start : start + 4])
    hist = fast_hist(labels, predictions, num_classes)
    np.testing.assert_array_equal(result["matrix"], hist)
    np.testing.assert_array_equal(numpy(single.confusion_matrix()), hist)
    counted = labels != 255
    weighted_hist = np.bincount(
        num_classes * labels[counted] + predictions[counted],
        weights=weights[counted],
        minlength=num_classes**2,
    ).reshape(num_classes, num_classes)
    assert weighted_hist.max() > 2**24
    np.testing.assert_array_equal(result["weighted"], weighted_hist)
    for key, value in scores_of(single).items():
        np.testing.assert_allclose(result["scores"][key], value, rtol=1e-6, err_msg=key)
