import backend_processes
import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data import testing
from keras_fcn.data.folder import folder
from keras_fcn.data.pipeline import PAD_COLOUR, evaluation_pipeline, training_pipeline

LABEL_VALUES = (0, 3, 7, 11)  # not consecutive: any interpolation would create new values
SIZES = ((40, 56), (33, 47), (64, 48), (20, 30))


def coded_example(height, width, index=0):
    """Blocks of labels; the image's red channel encodes the label, green and blue the position.

    red = 20 * label + 10, green = row, blue = column, so that a transform applied to the image
    but not to the label (or differently) shows up as a red value that disagrees with the label.
    """
    y, x = np.mgrid[0:height, 0:width]
    blocks = (y // 9) * 3 + (x // 13) * 5 + index  # asymmetric, so that flips change it
    label = np.asarray(LABEL_VALUES)[blocks % len(LABEL_VALUES)].astype(np.int32)
    image = np.stack([20 * label + 10, y, x], axis=-1).astype(np.uint8)
    return image, label


def coded_dataset(sizes=SIZES):
    examples = [coded_example(h, w, i) for i, (h, w) in enumerate(sizes)]
    return tf.data.Dataset.from_generator(
        lambda: iter(examples),
        output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([None, None], tf.int32),
        ),
    )


def batches(dataset):
    return [(images.numpy(), labels.numpy()) for images, labels in dataset]


def assert_aligned(image, label):
    """Red encodes the label wherever the label is constant around a pixel; padding is padding.

    Pixels within 2 of the crop's edge are left out: a label boundary just outside the crop
    blends into the bilinearly resized image there without showing in the label.
    """
    padding = label == IGNORE_LABEL
    pad_colour = np.float32(PAD_COLOUR)
    np.testing.assert_array_equal(image[padding], np.broadcast_to(pad_colour, image[padding].shape))
    interior = ~padding
    for value in LABEL_VALUES:
        same = scipy.ndimage.binary_erosion(label == value, np.ones((5, 5)), border_value=0)
        np.testing.assert_allclose(image[same & interior, 0], 20 * value + 10, atol=0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_image_and_label_stay_aligned_under_scale_crop_and_flip(seed):
    pipeline = training_pipeline(coded_dataset(), crop_size=32, batch_size=2, seed=seed)
    for images, labels in batches(pipeline):
        assert images.shape == (2, 32, 32, 3) and labels.shape == (2, 32, 32)
        for image, label in zip(images, labels, strict=True):
            assert_aligned(image, label)


def test_label_resizing_creates_no_new_values():
    pipeline = training_pipeline(
        coded_dataset(), crop_size=None, batch_size=1, scale_range=(0.37, 2.3), seed=3
    )
    for _ in range(3):
        for _, labels in batches(pipeline):
            assert set(np.unique(labels)) <= set(LABEL_VALUES)


def test_scaling_changes_sizes_within_the_scale_range():
    pipeline = training_pipeline(
        coded_dataset(), crop_size=None, batch_size=1, shuffle_buffer=1, seed=4
    )
    ratios = []
    for _ in range(4):
        for (height, _), (images, labels) in zip(SIZES, batches(pipeline), strict=True):
            assert images.shape[1:3] == labels.shape[1:]
            ratios.append(labels.shape[1] / height)
            assert_aligned(images[0], labels[0])
    # Sizes are rounded to whole pixels: 20 * 0.5 = 10 and 64 * 2 = 128 are the extremes.
    assert min(ratios) >= 0.5 - 1 / 20 and max(ratios) <= 2.0 + 1 / 20
    assert len(set(np.round(ratios, 3))) > 8


def test_flip_mirrors_image_and_label_together():
    image, label = coded_example(20, 30)
    dataset = tf.data.Dataset.from_tensors((image, label)).repeat(12)
    pipeline = training_pipeline(dataset, None, 1, scale_range=(1.0, 1.0), seed=5)
    flipped = []
    for images, labels in batches(pipeline):
        is_flipped = np.array_equal(labels[0], label[:, ::-1])
        assert is_flipped or np.array_equal(labels[0], label)
        expected_image = image[:, ::-1] if is_flipped else image
        np.testing.assert_array_equal(images[0], expected_image)
        flipped.append(is_flipped)
    assert any(flipped) and not all(flipped)


def test_small_images_are_padded_with_the_mean_colour_and_ignore_label():
    image, label = coded_example(20, 30)
    dataset = tf.data.Dataset.from_tensors((image, label))
    ((images, labels),) = batches(training_pipeline(dataset, (32, 40), 1, augment=False))
    # A 32 x 40 crop of a 20 x 30 image padded at the bottom and right can only start at (0, 0).
    np.testing.assert_array_equal(images[0, :20, :30], image)
    np.testing.assert_array_equal(labels[0, :20, :30], label)
    np.testing.assert_array_equal(labels[0, 20:], IGNORE_LABEL)
    np.testing.assert_array_equal(labels[0, :, 30:], IGNORE_LABEL)
    np.testing.assert_allclose(images[0, 20:], np.broadcast_to(PAD_COLOUR, (12, 40, 3)))
    np.testing.assert_allclose(images[0, :, 30:], np.broadcast_to(PAD_COLOUR, (32, 10, 3)))


def test_crop_without_augmentation_is_a_window_of_the_original():
    image, label = coded_example(40, 56)
    dataset = tf.data.Dataset.from_tensors((image, label)).repeat(6)
    for images, labels in batches(training_pipeline(dataset, 16, 1, augment=False, seed=6)):
        # Green and blue hold the source row and column of every pixel.
        top, left = int(images[0, 0, 0, 1]), int(images[0, 0, 0, 2])
        np.testing.assert_array_equal(images[0], image[top : top + 16, left : left + 16])
        np.testing.assert_array_equal(labels[0], label[top : top + 16, left : left + 16])


def test_same_seed_gives_same_batches_and_epochs_differ():
    def run(seed):
        pipeline = training_pipeline(coded_dataset(), 24, 2, seed=seed)
        return [batches(pipeline) for _ in range(2)]

    first, second, other = run(7), run(7), run(8)
    for epoch_a, epoch_b in zip(first, second, strict=True):
        for (images_a, labels_a), (images_b, labels_b) in zip(epoch_a, epoch_b, strict=True):
            np.testing.assert_array_equal(images_a, images_b)
            np.testing.assert_array_equal(labels_a, labels_b)
    assert not np.array_equal(first[0][0][1], first[1][0][1])
    assert not np.array_equal(first[0][0][1], other[0][0][1])


def test_a_shuffled_source_reaches_the_whole_listing_through_a_small_buffer(tmp_path):
    """A shuffle buffer mixes only neighbours of a sorted listing; shuffled files mix them all."""

    def grey(stem):
        return np.full((6, 8, 3), 5 * int(stem), np.uint8), np.zeros((6, 8), np.uint8)

    testing.write_folder_tree(tmp_path, [f"{index:02d}" for index in range(40)], grey)

    def first_batch(shuffle):
        source = folder(tmp_path / "images", tmp_path / "masks", shuffle=shuffle, seed=0)
        pipeline = training_pipeline(source, None, 4, augment=False, shuffle_buffer=4, seed=0)
        images, _ = next(iter(pipeline))
        return np.round(images.numpy().mean(axis=(1, 2, 3)) / 5).astype(int)

    assert first_batch(shuffle=False).max() < 7  # the buffer's first 4 and the 3 drawn after
    assert first_batch(shuffle=True).max() >= 7


def test_fixed_crops_drop_the_incomplete_last_batch():
    pipeline = training_pipeline(coded_dataset(), 16, 3, seed=0)
    assert [labels.shape for _, labels in batches(pipeline)] == [(3, 16, 16)]


def test_whole_image_batches_are_padded_to_their_largest_example():
    pipeline = training_pipeline(coded_dataset(SIZES[:2]), None, 2, augment=False, seed=0)
    ((images, labels),) = batches(pipeline)
    assert labels.shape == (2, 40, 56)  # the larger of 40 x 56 and 33 x 47
    for image, label in zip(images, labels, strict=True):
        assert_aligned(image, label)


def test_paper_recipe_passes_whole_images_unchanged():
    pipeline = training_pipeline(coded_dataset(), None, 1, augment=False, shuffle_buffer=1)
    for (height, width), (images, labels) in zip(SIZES, batches(pipeline), strict=True):
        index = SIZES.index((height, width))
        image, label = coded_example(height, width, index)
        np.testing.assert_array_equal(images[0], image)
        np.testing.assert_array_equal(labels[0], label)


def test_cached_pipeline_gives_the_same_examples():
    cached = training_pipeline(
        coded_dataset(), None, 1, augment=False, shuffle_buffer=1, cache=True
    )
    for _ in range(2):
        assert [labels.shape[1:] for _, labels in batches(cached)] == list(SIZES)


def test_evaluation_with_batch_one_keeps_order_and_native_size():
    batched = batches(evaluation_pipeline(coded_dataset()))
    for index, (size, (images, labels)) in enumerate(zip(SIZES, batched, strict=True)):
        image, label = coded_example(*size, index)
        assert images.dtype == np.float32 and labels.dtype == np.int32
        np.testing.assert_array_equal(images[0], image)
        np.testing.assert_array_equal(labels[0], label)


def test_evaluation_batches_pad_with_ignore_label_and_keep_the_last_batch():
    batched = batches(evaluation_pipeline(coded_dataset(SIZES[:3]), batch_size=2))
    # 3 examples in batches of 2: the last batch holds the third example alone.
    assert [labels.shape for _, labels in batched] == [(2, 40, 56), (1, 64, 48)]
    images, labels = batched[0]
    image, label = coded_example(33, 47, 1)
    np.testing.assert_array_equal(images[1, :33, :47], image)
    np.testing.assert_array_equal(labels[1, :33, :47], label)
    np.testing.assert_array_equal(labels[1, 33:], IGNORE_LABEL)
    np.testing.assert_array_equal(labels[1, :, 47:], IGNORE_LABEL)
    np.testing.assert_array_equal(
        images[1, 33:], np.broadcast_to(np.float32(PAD_COLOUR), (7, 56, 3))
    )


def test_batched_dataset_is_rejected():
    with pytest.raises(TypeError, match="unbatched dataset of"):
        training_pipeline(coded_dataset().batch(2), 16, 2)
    with pytest.raises(TypeError, match="unbatched dataset of"):
        evaluation_pipeline(coded_dataset().batch(2))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"crop_size": 0}, "crop_size must be"),
        ({"crop_size": (16, 16, 3)}, "crop_size must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"scale_range": (2.0, 1.0)}, "scale_range must be"),
        ({"shuffle_buffer": 0}, "shuffle_buffer must be"),
    ],
)
def test_bad_arguments_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        training_pipeline(coded_dataset(), **{"crop_size": 16, "batch_size": 2, **arguments})


PIPELINE_INTO_FIT = """
import keras
import numpy as np
from keras_fcn import data

examples = data.synthetic(num_examples=4, image_size=32, num_classes=3)
batches = data.training_pipeline(examples, crop_size=32, batch_size=2)
model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
model.compile(
    optimizer="sgd",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
)
history = model.fit(batches, epochs=1, verbose=0)
print(keras.backend.backend(), bool(np.isfinite(history.history["loss"][0])))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_pipelines_feed_model_fit_on_the_other_backends(backend):
    # tf.data needs TensorFlow installed, not the TensorFlow backend.
    completed = backend_processes.run_python(["-c", PIPELINE_INTO_FIT], backend=backend)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split() == [backend, "True"]


def test_without_tensorflow_importing_the_data_package_says_what_to_do():
    completed = backend_processes.run_python(
        ["-c", "import keras_fcn.data"], backend="jax", without_tensorflow=True
    )
    assert completed.returncode != 0
    assert "keras_fcn.data builds tf.data pipelines and needs TensorFlow installed" in (
        completed.stderr
    )
