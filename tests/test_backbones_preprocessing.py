import keras
import numpy as np
import pytest

from keras_fcn.backbones.preprocessing import (
    CAFFE_FCN_MEAN_BGR,
    IMAGENET_MEAN_BGR,
    IMAGENET_MEAN_RGB,
    VGGPreprocessing,
)


def test_preprocessing_equals_keras_applications_vgg16():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 5, 7, 3)).astype("uint8")
    expected = keras.applications.vgg16.preprocess_input(images.astype("float32"))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(VGGPreprocessing()(images)), expected, atol=1e-4
    )


def test_the_mean_is_stored_in_the_config_and_subtracted():
    layer = VGGPreprocessing(mean=CAFFE_FCN_MEAN_BGR)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is VGGPreprocessing and restored.mean == CAFFE_FCN_MEAN_BGR
    pixel = np.array([[[[10, 20, 30]]]], "float32")  # RGB
    expected = np.array([30, 20, 10]) - np.array(CAFFE_FCN_MEAN_BGR)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(pixel))[0, 0, 0], expected)


def test_channels_keep_their_order_when_not_reversed():
    hha_mean = (132.431, 94.076, 118.477)
    layer = VGGPreprocessing(mean=hha_mean, reverse_channels=False)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert restored.reverse_channels is False and restored.mean == hha_mean
    pixel = np.array([[[[10, 20, 30]]]], "float32")  # HHA as stored: disparity, height, angle
    expected = np.array([10, 20, 30]) - np.array(hha_mean)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(pixel))[0, 0, 0], expected)


def test_the_rgb_mean_becomes_zero():
    pixel = np.array(IMAGENET_MEAN_RGB, "float32").reshape(1, 1, 1, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(VGGPreprocessing()(pixel)), 0, atol=1e-5)
    assert IMAGENET_MEAN_RGB[::-1] == IMAGENET_MEAN_BGR


def test_a_mean_without_three_values_is_rejected():
    with pytest.raises(ValueError, match="mean"):
        VGGPreprocessing(mean=(1.0, 2.0))
