import keras
import numpy as np
import pytest

from keras_fcn.backbones.preprocessing import VGGPreprocessing
from keras_fcn.layers import CropToReference, MatmulConv2D, PadToMultiple


def test_preprocessing_equals_keras_applications_vgg16():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 5, 7, 3)).astype("uint8")
    expected = keras.applications.vgg16.preprocess_input(images.astype("float32"))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(VGGPreprocessing()(images)), expected, atol=1e-4
    )


@pytest.mark.parametrize("size, padded", [((1, 1), (32, 32)), ((37, 64), (64, 64))])
def test_pad_to_multiple_pads_bottom_right_with_zeros(size, padded):
    images = np.ones((1, *size, 2), "float32")
    output = keras.ops.convert_to_numpy(PadToMultiple(32)(images))
    assert output.shape == (1, *padded, 2)
    np.testing.assert_array_equal(output[:, : size[0], : size[1]], images)
    assert output.sum() == images.sum()


def test_crop_to_reference_takes_the_window_at_the_offset():
    features = np.arange(20 * 20).reshape(1, 20, 20, 1).astype("float32")
    cropped = CropToReference(offset=5)([features, np.zeros((1, 8, 9, 3))])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cropped), features[:, 5:13, 5:14])


def test_crop_follows_a_dynamic_reference_size():
    features = keras.Input((None, None, 4))
    reference = keras.Input((None, None, 3))
    model = keras.Model([features, reference], CropToReference(2)([features, reference]))
    output = model([np.zeros((1, 30, 31, 4)), np.zeros((1, 11, 13, 3))])
    assert tuple(output.shape) == (1, 11, 13, 4)


@pytest.mark.parametrize(
    "layer",
    [VGGPreprocessing(mean=(1.0, 2.0, 3.0)), PadToMultiple(16), CropToReference(offset=7)],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="offset"):
        CropToReference(offset=-1)
    with pytest.raises(ValueError, match="multiple"):
        PadToMultiple(0)
    with pytest.raises(ValueError, match="mean"):
        VGGPreprocessing(mean=(1.0, 2.0))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel_size", [7, 4, 1, (3, 5)])
def test_matmul_conv_equals_conv2d_values_and_gradients(padding, kernel_size):
    import tensorflow as tf

    reference = keras.layers.Conv2D(6, kernel_size, padding=padding, activation="relu")
    reference.build((None, None, None, 5))
    layer = MatmulConv2D(6, kernel_size, padding=padding, activation="relu")
    layer.build((None, None, None, 5))
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in reference.weights])
    reference.set_weights(layer.get_weights())
    inputs = tf.constant(rng.normal(size=(2, 9, 11, 5)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 5])])
    def both(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours, theirs = layer(x), reference(x)
        return ours, theirs, tape.gradient(ours, x), tape.gradient(theirs, x)

    ours, theirs, our_gradient, their_gradient = both(inputs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(our_gradient.numpy(), their_gradient.numpy(), rtol=1e-4, atol=1e-4)


def test_matmul_conv_rejects_strides_and_round_trips_its_config():
    with pytest.raises(ValueError, match="strides=1"):
        MatmulConv2D(4, 3, strides=2)
    layer = MatmulConv2D(4, 7, padding="same", name="fc6")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is MatmulConv2D and restored.get_config() == layer.get_config()
