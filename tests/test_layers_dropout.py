import keras
import numpy as np

from keras_fcn.layers.dropout import MonteCarloDropout


def test_inference_is_the_identity_until_sampling_is_switched_on():
    layer = MonteCarloDropout(0.5, seed=1)
    x = np.ones((4, 256), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    layer.sampling = True
    first = keras.ops.convert_to_numpy(layer(x))
    second = keras.ops.convert_to_numpy(layer(x))
    # Inverted dropout: kept units are scaled by 1 / (1 - rate); each call draws a new mask.
    assert set(np.unique(first)) == {0.0, 2.0}
    assert 0.4 < np.mean(first == 0) < 0.6
    assert np.any(first != second)
    layer.sampling = False
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)


def test_training_drops_units_as_keras_dropout_does():
    layer = MonteCarloDropout(0.25, seed=2)
    output = keras.ops.convert_to_numpy(layer(np.ones((8, 128), "float32"), training=True))
    np.testing.assert_allclose(np.unique(output), [0.0, 1 / 0.75])


def test_sampling_in_a_model_leaves_batch_normalization_in_inference():
    inputs = keras.Input((16,))
    normalized = keras.layers.BatchNormalization(name="bn")(inputs)
    outputs = MonteCarloDropout(0.5, name="drop")(normalized)
    model = keras.Model(inputs, outputs)
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.full(16, 3.0, "float32"))
    bn.moving_variance.assign(np.full(16, 4.0, "float32"))
    model.get_layer("drop").sampling = True
    x = np.full((2, 16), 7.0, "float32")  # batch statistics would give zeros
    output = keras.ops.convert_to_numpy(model(x, training=False))
    expected = (7.0 - 3.0) / np.sqrt(4.0 + bn.epsilon)
    np.testing.assert_allclose(np.unique(output), [0.0, 2 * expected], rtol=1e-6)


def test_config_round_trip_starts_without_sampling():
    layer = MonteCarloDropout(0.5, seed=3, name="encdrop3")
    layer.sampling = True
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is MonteCarloDropout
    assert restored.get_config() == layer.get_config()
    assert restored.sampling is False
