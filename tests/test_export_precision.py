import keras
import ml_dtypes
import numpy as np
import pytest

from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.precision import (
    CalibrationProgress,
    bfloat16_model,
    calibration_images,
    float32_model,
    in_process_model,
    to_uint8_image,
)


@pytest.fixture(scope="module")
def images():
    return np.stack([synthetic_example(index, num_classes=3)[0] for index in range(3)])


@pytest.fixture(scope="module")
def fast(small_fcn):
    return bfloat16_model(small_fcn)


def test_layers_compute_in_bfloat16_and_logits_stay_float32(small_fcn, fast, images):
    assert [layer.name for layer in fast.layers] == [layer.name for layer in small_fcn.layers]
    assert fast.inputs[0].dtype == "float32"
    assert fast.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert fast.get_layer("fc6").kernel.dtype == "bfloat16"  # stored once, not cast per call
    assert fast.get_layer("score").compute_dtype == "float32"  # the model's output layer
    logits = fast(images.astype("float32"))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_weights_are_the_float32_weights_rounded_to_bfloat16(small_fcn, fast):
    for source, copy in zip(small_fcn.weights, fast.weights, strict=True):
        expected = np.asarray(source).astype(ml_dtypes.bfloat16)  # round to nearest even
        np.testing.assert_array_equal(
            np.asarray(copy).astype(ml_dtypes.bfloat16), expected, err_msg=source.path
        )


def test_bfloat16_logits_agree_with_float32_to_bfloat16_precision(small_fcn, fast, images):
    reference = np.asarray(small_fcn(images.astype("float32")))
    logits = np.asarray(fast(images.astype("float32")))
    scale = np.abs(reference).max()
    # bfloat16 keeps 8 significant bits: relative steps of 2^-8 per rounding, a few dozen of
    # them accumulated through 16 layers.
    assert np.abs(logits - reference).max() < 0.05 * scale
    assert np.mean(logits.argmax(-1) == reference.argmax(-1)) > 0.95


def test_in_process_model_is_the_model_itself_in_float32_and_rejects_int8(small_fcn):
    assert in_process_model(small_fcn, "float32") is small_fcn
    with pytest.raises(ValueError, match="For int8, export it"):
        in_process_model(small_fcn, "int8")


@pytest.fixture
def mixed_copy(small_fcn):
    """`small_fcn` rebuilt under `mixed_bfloat16`, as a model trained so loads, same weights."""
    from keras_fcn import registry

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")
    finally:
        keras.config.set_dtype_policy("float32")
    mixed.set_weights(small_fcn.get_weights())
    return mixed


def test_a_mixed_precision_model_is_copied_to_float32_for_float32_paths(
    small_fcn, mixed_copy, images
):
    from keras_fcn.export.layout import OUTPUTS
    from keras_fcn.export.segmenter import segmenter

    inputs = images.astype("float32")
    expected = np.asarray(small_fcn(inputs))
    assert np.abs(np.asarray(mixed_copy(inputs)) - expected).max() > 1e-3  # it computes in bf16
    for model in (float32_model(mixed_copy), in_process_model(mixed_copy, "float32")):
        assert {layer.compute_dtype for layer in model.layers} == {"float32"}
        np.testing.assert_allclose(np.asarray(model(inputs)), expected, rtol=1e-5, atol=1e-5)
    # Every export but the SavedModel is the segmenter's graph.
    probabilities = segmenter(mixed_copy, outputs=OUTPUTS)(images)["probabilities"]
    expected_probabilities = keras.ops.softmax(expected)
    np.testing.assert_allclose(probabilities, expected_probabilities, rtol=1e-5, atol=1e-6)
    assert float32_model(small_fcn) is small_fcn


def test_bfloat16_model_rejects_a_subclassed_model():
    class Scores(keras.Model):
        def call(self, images):
            return images

    with pytest.raises(TypeError, match="functional or Sequential"):
        bfloat16_model(Scores())


def test_calibration_takes_the_first_images_of_pairs_and_batches():
    pairs = [(np.full((4, 5, 3), index, "uint8"), np.zeros((4, 5), "int32")) for index in range(3)]
    batch = (np.stack([np.full((4, 5, 3), 7.2)] * 2), np.zeros((2, 4, 5), "int32"))
    taken = calibration_images([*pairs, batch], size=4)
    assert [int(image[0, 0, 0]) for image in taken] == [0, 1, 2, 7]
    assert all(image.dtype == np.uint8 and image.shape == (4, 5, 3) for image in taken)
    assert len(calibration_images(pairs, size=10)) == 3
    with pytest.raises(ValueError, match="positive integer"):
        calibration_images(pairs, size=0)
    with pytest.raises(ValueError, match="holds no image"):
        calibration_images([], size=3)


def test_float_images_are_rounded_and_clipped_to_uint8():
    image = np.array([[[-3.0, 0.49, 254.5], [255.7, 128.5, 12.0]]])
    np.testing.assert_array_equal(to_uint8_image(image), [[[0, 0, 254], [255, 128, 12]]])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        to_uint8_image(np.zeros((4, 4)))


def test_calibration_progress_shows_each_pass_on_stderr(capsys):
    images = [np.zeros((4, 4, 3), "uint8")] * 4
    progress = CalibrationProgress(images, "calibrate int8")
    assert len(progress) == 4
    for _ in range(2):  # a quantizer may pass over the images more than once
        assert [image.shape for image in progress] == [(4, 4, 3)] * 4
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert [line.split(",")[0].split(" in ")[0] for line in lines] == [
        "calibrate int8: 1/4 images (25%)",
        "calibrate int8: 2/4 images (50%)",
        "calibrate int8: 3/4 images (75%)",
        "calibrate int8: 4/4 images (100%)",
    ] * 2
