"""Class weights against numpy, and what Keras does with them: weighted loss, unweighted scores."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data import (
    class_weights,
    count_class_pixels,
    inverse_frequency_weights,
    median_frequency_weights,
    training_pipeline,
)
from keras_fcn.metrics import SegmentationScores

NUM_CLASSES = 5


def random_labels(seed=0):
    """Labels of four sizes; class 4 appears in one image only, class 3 never; 10% void."""
    rng = np.random.default_rng(seed)
    labels = []
    for height, width in ((6, 7), (9, 5), (4, 4), (8, 10)):
        label = rng.choice([0, 1, 2], size=(height, width), p=[0.6, 0.3, 0.1])
        label[rng.random(label.shape) < 0.1] = IGNORE_LABEL
        labels.append(label.astype(np.int32))
    labels[1][:2, :2] = 4
    return labels


def as_dataset(labels):
    return tf.data.Dataset.from_generator(
        lambda: ((np.zeros((*label.shape, 3), np.uint8), label) for label in labels),
        output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([None, None], tf.int32),
        ),
    )


def numpy_frequencies(labels):
    """Eigen & Fergus' freq(c) by explicit loops over images and classes."""
    class_pixels = np.zeros(NUM_CLASSES)
    image_pixels = np.zeros(NUM_CLASSES)
    for label in labels:
        for c in range(NUM_CLASSES):
            count = np.sum(label == c)
            class_pixels[c] += count
            if count:
                image_pixels[c] += label.size  # void pixels included
    return class_pixels, image_pixels


def test_median_frequency_weights_match_numpy():
    labels = random_labels()
    class_pixels, image_pixels = numpy_frequencies(labels)
    present = class_pixels > 0
    frequency = class_pixels[present] / image_pixels[present]
    expected = np.zeros(NUM_CLASSES)
    expected[present] = np.median(frequency) / frequency
    weights = median_frequency_weights(as_dataset(labels), NUM_CLASSES)
    assert weights.dtype == np.float32 and weights.shape == (NUM_CLASSES,)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    assert weights[3] == 0  # never appears
    # Class 4 appears in one 9 x 5 image only: its frequency is 4 / 45.
    assert expected[4] == pytest.approx(np.median(frequency) / (4 / 45))


def test_inverse_frequency_weights_match_numpy_and_average_one_over_labelled_pixels():
    labels = random_labels(1)
    class_pixels, _ = numpy_frequencies(labels)
    present = class_pixels > 0
    expected = np.zeros(NUM_CLASSES)
    expected[present] = class_pixels.sum() / (present.sum() * class_pixels[present])
    weights = inverse_frequency_weights(as_dataset(labels), NUM_CLASSES)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    assert np.sum(weights * class_pixels) / class_pixels.sum() == pytest.approx(1.0)


def test_counts_include_void_and_every_image():
    labels = random_labels(2)
    counts = count_class_pixels(as_dataset(labels), NUM_CLASSES)
    assert counts.images == 4
    assert counts.void_pixels == sum(int(np.sum(label == IGNORE_LABEL)) for label in labels)
    assert counts.pixels.sum() + counts.void_pixels == sum(label.size for label in labels)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="Unknown class weighting 'median'"):
        class_weights(as_dataset(random_labels()), NUM_CLASSES, "median")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label values \[4\] are outside"):
        count_class_pixels(as_dataset(random_labels()), num_classes=4)
    with pytest.raises(TypeError, match="unbatched"):
        count_class_pixels(as_dataset(random_labels()).batch(1), NUM_CLASSES)


def test_pipeline_weighs_each_pixel_by_its_class_and_void_and_padding_by_zero():
    labels = random_labels()
    weights = np.array([0.5, 2.0, 3.0, 7.0, 9.0], np.float32)
    batches = training_pipeline(
        as_dataset(labels), crop_size=None, batch_size=2, augment=False, class_weights=weights
    )
    seen = 0
    for _, batch_labels, sample_weights in batches:
        batch_labels, sample_weights = batch_labels.numpy(), sample_weights.numpy()
        assert sample_weights.shape == batch_labels.shape and sample_weights.dtype == np.float32
        void = batch_labels == IGNORE_LABEL  # void and the padding of smaller images
        np.testing.assert_array_equal(sample_weights[void], 0)
        np.testing.assert_array_equal(sample_weights[~void], weights[batch_labels[~void]])
        seen += len(batch_labels)
    assert seen == 4


@pytest.mark.parametrize("weights", [[1.0, -1.0], [[1.0]], [np.nan, 1.0]])
def test_pipeline_rejects_bad_class_weights(weights):
    with pytest.raises(ValueError, match="class_weights must be one finite"):
        training_pipeline(as_dataset(random_labels()), None, 1, class_weights=weights)


@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size"])
def test_keras_loss_with_ignore_class_and_sample_weights_matches_numpy(reduction):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 4, 5, NUM_CLASSES)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, (2, 4, 5)).astype(np.int32)
    labels[0, 0] = IGNORE_LABEL
    weights = rng.uniform(0.1, 5, NUM_CLASSES).astype(np.float32)
    sample_weights = np.where(labels == IGNORE_LABEL, 0, weights[np.minimum(labels, 4)])
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=IGNORE_LABEL, reduction=reduction
    )
    value = float(loss(labels, logits, sample_weight=sample_weights))

    # numpy: cross-entropy of each labelled pixel, weighted by its class.
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    labelled = labels != IGNORE_LABEL
    cross_entropy = -np.take_along_axis(log_softmax, np.where(labelled, labels, 0)[..., None], -1)
    weighted = (cross_entropy[..., 0] * sample_weights)[labelled]
    # "sum" adds the weighted losses; "sum_over_batch_size" divides them by the number of
    # labelled pixels (not by the sum of the weights).
    expected = weighted.sum() if reduction == "sum" else weighted.sum() / labelled.sum()
    assert value == pytest.approx(expected, rel=1e-5)


def test_compiled_metrics_count_pixels_unweighted_while_the_loss_is_weighted():
    # A fixed 1 x 1 convolution: its predictions do not depend on the training.
    rng = np.random.default_rng(4)
    images = rng.normal(size=(4, 6, 6, 3)).astype(np.float32)
    labels = rng.integers(0, 3, (4, 6, 6)).astype(np.int32)
    labels[:, 0] = IGNORE_LABEL
    class_weights = np.array([0.1, 5.0, 1.0], np.float32)
    sample_weights = np.where(labels == IGNORE_LABEL, 0, class_weights[np.minimum(labels, 2)])
    inputs = keras.Input((None, None, 3))
    model = keras.Model(
        inputs,
        keras.layers.Conv2D(3, 1, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs),
    )
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=IGNORE_LABEL
        ),
        metrics=[SegmentationScores(3)],
    )
    weighted = model.evaluate(
        images, labels, sample_weight=sample_weights, batch_size=2, verbose=0, return_dict=True
    )
    unweighted = model.evaluate(images, labels, batch_size=2, verbose=0, return_dict=True)
    assert weighted["loss"] != pytest.approx(unweighted["loss"])
    predictions = np.argmax(model.predict(images, verbose=0), axis=-1)
    labelled = labels != IGNORE_LABEL
    expected_accuracy = np.mean(predictions[labelled] == labels[labelled])
    for scores in (weighted, unweighted):
        assert scores["pixel_accuracy"] == pytest.approx(expected_accuracy)
