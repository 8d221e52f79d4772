import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from keras_fcn.data.synthetic import (
    SHAPES,
    synthetic,
    synthetic_class_names,
    synthetic_example,
)


def arrays(split, count=150, num_classes=4, seed=0):
    examples = [synthetic_example(i, 64, num_classes, seed, split) for i in range(count)]
    return np.stack([e[0] for e in examples]), np.stack([e[1] for e in examples])


def test_examples_are_deterministic():
    first = [tensor.numpy() for example in synthetic(num_examples=3) for tensor in example]
    second = [tensor.numpy() for example in synthetic(num_examples=3) for tensor in example]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_splits_and_seeds_draw_different_examples():
    train, _ = synthetic_example(0, split="train")
    val, _ = synthetic_example(0, split="val")
    reseeded, _ = synthetic_example(0, split="train", seed=1)
    assert not np.array_equal(train, val)
    assert not np.array_equal(train, reseeded)


def test_dataset_has_uint8_images_and_int32_labels_of_the_requested_size():
    image, label = next(iter(synthetic(num_examples=2, image_size=96, num_classes=5)))
    assert image.shape == (96, 96, 3) and image.dtype == tf.uint8
    assert label.shape == (96, 96) and label.dtype == tf.int32
    assert set(np.unique(label)) <= set(range(5))


def test_class_names_are_background_then_shapes():
    assert synthetic_class_names(4) == ("background", "disc", "square", "triangle")
    assert synthetic_class_names(len(SHAPES) + 1)[1:] == SHAPES


@pytest.mark.parametrize("num_classes", [1, len(SHAPES) + 2])
def test_num_classes_outside_range_is_an_error(num_classes):
    with pytest.raises(ValueError, match="num_classes must be in"):
        synthetic(num_examples=1, num_classes=num_classes)


def test_classes_are_balanced():
    _, labels = arrays("train")
    fractions = np.bincount(labels.ravel(), minlength=4) / labels.size
    assert 0.7 < fractions[0] < 0.95
    # Each shape covers a few percent of the pixels, none more than twice another.
    assert all(0.02 < fraction < 0.12 for fraction in fractions[1:])
    assert fractions[1:].max() < 2 * fractions[1:].min()
    present = [(labels == k).any(axis=(1, 2)).mean() for k in range(1, 4)]
    assert min(present) > 0.25


def test_each_shape_fills_its_box_as_its_geometry_says():
    # Area / bounding-box area of each kind, with r the half-size: disc pi r^2 / 4r^2 = pi/4;
    # square 1; triangle (base 2r, height 2r) 1/2; ring (inner radius r/2) 3/4 * pi/4;
    # cross (arms 2r/3 wide) (2 * 2r * 2r/3 - (2r/3)^2) / 4r^2 = 5/9; diamond 1/2.
    expected = [np.pi / 4, 1.0, 0.5, 0.75 * np.pi / 4, 5 / 9, 0.5]
    _, labels = arrays("train", count=300, num_classes=len(SHAPES) + 1)
    ratios = {kind: [] for kind in range(1, len(SHAPES) + 1)}
    for label in labels:
        for kind in ratios:
            # Holes of rings are background: fill them to find each shape as one component.
            components, count = scipy.ndimage.label(scipy.ndimage.binary_fill_holes(label == kind))
            for index in range(1, count + 1):
                ys, xs = np.nonzero(components == index)
                box = (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
                ratios[kind].append(np.sum(label[ys, xs] == kind) / box)
    for kind, ratio in zip(ratios, expected, strict=True):
        assert abs(np.median(ratios[kind]) - ratio) < 0.06, SHAPES[kind - 1]


def test_colour_alone_cannot_tell_the_classes_apart():
    # The best colour lookup: each quantised colour (8 levels per channel) predicts the class
    # it most often has in the training images. On validation images it finds the background
    # but hardly any shape, far below the 0.7 mean IU that a model recognising shapes reaches.
    train_images, train_labels = arrays("train")
    val_images, val_labels = arrays("val")

    def colour_codes(images):
        quantised = images.astype(int) // 32
        return (quantised[..., 0] * 8 + quantised[..., 1]) * 8 + quantised[..., 2]

    counts = np.zeros((512, 4))
    np.add.at(counts, (colour_codes(train_images).ravel(), train_labels.ravel()), 1)
    predicted = counts.argmax(axis=1)[colour_codes(val_images)]
    confusion = np.bincount(val_labels.ravel() * 4 + predicted.ravel(), minlength=16).reshape(4, 4)
    iou = np.diag(confusion) / (confusion.sum(0) + confusion.sum(1) - np.diag(confusion))
    assert np.nanmean(iou) < 0.35
    assert iou[1:].max() < 0.1
