import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.training.multipliers import (
    AdamWithMultipliers,
    SGDWithMultipliers,
    multiplier_for,
)

RULES = (("fc8_voc12*/kernel", 10.0), ("fc8_voc12*/bias", 20.0), ("*/bias", 2.0))


def tiny_model():
    """fc7 → fc8_voc12 (DeepLab's names), on 2 features, with fixed weights."""
    inputs = keras.Input((2,))
    fc7 = keras.layers.Dense(3, name="fc7")
    fc8 = keras.layers.Dense(2, name="fc8_voc12")
    model = keras.Model(inputs, fc8(fc7(inputs)))
    fc7.set_weights([np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]), np.array([0.1, 0.2, 0.3])])
    fc8.set_weights([np.array([[1.0, -2.0], [0.5, 1.0], [-1.0, 0.25]]), np.array([0.0, 0.5])])
    return model


def gradients(model, x):
    """d(sum of outputs)/d(variable) for each trainable variable, by automatic differentiation."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x))
    return tape.gradient(loss, model.trainable_variables)


def test_rules_match_variable_paths_first_rule_first():
    model = tiny_model()
    paths = [variable.path for variable in model.trainable_variables]
    assert paths == ["fc7/kernel", "fc7/bias", "fc8_voc12/kernel", "fc8_voc12/bias"]
    assert [multiplier_for(path, RULES) for path in paths] == [1.0, 2.0, 10.0, 20.0]
    assert multiplier_for("fc8_voc12_3/bias", RULES) == 20.0
    assert multiplier_for("block1_conv1/kernel", ()) == 1.0


def test_two_sgd_steps_with_momentum_equal_caffes_update_by_hand():
    model = tiny_model()
    x = np.array([[1.0, 2.0]], "float32")
    optimizer = SGDWithMultipliers(0.01, momentum=0.9, multipliers=RULES)
    # Caffe's SGD: v ← μ v + lr · lr_mult · g, then w ← w − v, with each step's gradients.
    expected = [variable.numpy().copy() for variable in model.trainable_variables]
    velocity = [np.zeros_like(weights) for weights in expected]
    for _ in range(2):
        grads = gradients(model, x)
        for i, (grad, multiplier) in enumerate(zip(grads, (1.0, 2.0, 10.0, 20.0), strict=True)):
            velocity[i] = 0.9 * velocity[i] + 0.01 * multiplier * grad.numpy()
            expected[i] = expected[i] - velocity[i]
        optimizer.apply(grads, model.trainable_variables)
        for variable, weights in zip(model.trainable_variables, expected, strict=True):
            np.testing.assert_allclose(variable.numpy(), weights, rtol=1e-6, atol=1e-7)


def test_one_adam_step_scales_the_step_not_the_gradient():
    model = tiny_model()
    x = np.array([[1.0, 2.0]], "float32")
    initial = [variable.numpy().copy() for variable in model.trainable_variables]
    grads = gradients(model, x)
    optimizer = AdamWithMultipliers(1e-3, multipliers=RULES)
    optimizer.apply(grads, model.trainable_variables)
    # Adam's first step: m = (1 − β1) g, v = (1 − β2) g², bias-corrected lr =
    # lr · sqrt(1 − β2) / (1 − β1); w ← w − lr_t · m / (sqrt(v) + ε), here with lr · multiplier.
    for variable, before, grad, multiplier in zip(
        model.trainable_variables, initial, grads, (1.0, 2.0, 10.0, 20.0), strict=True
    ):
        g = grad.numpy()
        m, v = 0.1 * g, 0.001 * g**2
        lr_t = 1e-3 * multiplier * np.sqrt(1 - 0.999) / (1 - 0.9)
        np.testing.assert_allclose(
            variable.numpy(), before - lr_t * m / (np.sqrt(v) + 1e-7), rtol=1e-5, atol=1e-8
        )


def test_fit_trains_with_the_multipliers_and_a_schedule():
    model = tiny_model()
    x, y = np.array([[1.0, 2.0]], "float32"), np.zeros((1, 2), "float32")
    schedule = keras.optimizers.schedules.PolynomialDecay(0.01, 10, power=0.9)
    model.compile(optimizer=SGDWithMultipliers(schedule, multipliers=(("fc7/*", 0.0),)), loss="mse")
    fc7_before = [w.copy() for w in model.get_layer("fc7").get_weights()]
    fc8_before = model.get_layer("fc8_voc12").get_weights()[0].copy()
    model.fit(x, y, epochs=1, verbose=0)
    # A multiplier of 0 freezes fc7; fc8 learns.
    for before, after in zip(fc7_before, model.get_layer("fc7").get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(fc8_before, model.get_layer("fc8_voc12").get_weights()[0])


def test_a_compiled_model_saves_and_reloads_its_multipliers(tmp_path):
    model = tiny_model()
    model.compile(optimizer=SGDWithMultipliers(0.1, momentum=0.9, multipliers=RULES), loss="mse")
    model.fit(np.ones((2, 2)), np.zeros((2, 2)), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(restored.optimizer, SGDWithMultipliers)
    assert restored.optimizer.multipliers == RULES
    assert restored.optimizer.momentum == 0.9


@pytest.mark.parametrize("optimizer_class", [SGDWithMultipliers, AdamWithMultipliers])
def test_config_round_trip(optimizer_class):
    optimizer = optimizer_class(0.5, multipliers=RULES)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is optimizer_class
    assert restored.multipliers == RULES and float(restored.learning_rate) == 0.5


@pytest.mark.parametrize("rule", [("*/bias",), (3, 2.0), ("*/bias", -1.0)])
def test_malformed_rules_are_rejected(rule):
    with pytest.raises(ValueError, match="pattern, multiplier"):
        SGDWithMultipliers(0.1, multipliers=[rule])
