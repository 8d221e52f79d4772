import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.layers.matmul_conv import MatmulConv2D


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize(
    "kernel_size, dilation", [(7, 1), (4, 1), (1, 1), ((3, 5), 1), (3, 2), ((2, 3), (3, 2))]
)
def test_matmul_conv_equals_conv2d_values_and_gradients(padding, kernel_size, dilation):
    options = {"padding": padding, "dilation_rate": dilation, "activation": "relu"}
    reference = keras.layers.Conv2D(6, kernel_size, **options)
    reference.build((None, None, None, 5))
    layer = MatmulConv2D(6, kernel_size, **options)
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
    layer = MatmulConv2D(4, 3, padding="same", dilation_rate=12, name="fc6")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is MatmulConv2D and restored.get_config() == layer.get_config()
