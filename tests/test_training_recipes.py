"""Recipes, schedules, optimisers and losses; every test runs on every Keras backend."""

import dataclasses

import keras
import numpy as np
import pytest

from keras_fcn import training
from keras_fcn.training.recipes import Recipe, make_learning_rate, make_loss, make_optimizer

pytestmark = pytest.mark.backends


def _labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 32, 32)).astype("int32")
    labels[:, :4] = 255
    return labels


def _logits(shape):
    return np.random.default_rng(1).normal(size=(*shape, 3)).astype("float32")


def _cross_entropy(logits, labels):
    """Numpy reference: minus the log-softmax of the labelled class (0 where void)."""
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    labelled = labels != 255
    picked = np.take_along_axis(log_probs, np.where(labelled, labels, 0)[..., None], -1)
    return -picked[..., 0], labelled


def test_summed_loss_adds_the_cross_entropy_of_labelled_pixels_only():
    labels = _labels()
    logits = _logits(labels.shape)
    summed = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=255, reduction="sum"
    )(labels, logits)
    expected, labelled = _cross_entropy(logits, labels)
    assert float(summed) == pytest.approx(expected[labelled].sum(), rel=1e-5)


@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size"])
def test_recipe_loss_weighs_each_labelled_pixel_and_skips_void(reduction):
    # Class weights given as per-pixel sample weights: the loss is
    # sum(w * CE) over labelled pixels, divided by their number for the averaged recipe.
    labels = _labels()
    logits = _logits(labels.shape)
    class_weights = np.array([0.5, 2.0, 1.0], "float32")
    weights = class_weights[np.where(labels == 255, 0, labels)]
    loss = make_loss(Recipe("r", "sgd", 0.1, loss_reduction=reduction))
    value = float(loss(labels, logits, sample_weight=weights))
    cross_entropy, labelled = _cross_entropy(logits, labels)
    expected = (weights * cross_entropy)[labelled].sum()
    if reduction == "sum_over_batch_size":
        expected /= labelled.sum()
    assert value == pytest.approx(expected, rel=1e-5)


def test_default_schedule_warms_up_then_decays_to_zero():
    schedule = make_learning_rate(training.default_recipe(1e-3, warmup_steps=10), total_steps=110)
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    rates = [float(schedule(step)) for step in (0, 5, 10, 60, 110)]
    # Linear from 0 to 1e-3 over 10 steps, then half a cosine over the 100 left.
    expected = [0.0, 5e-4, 1e-3, 1e-3 * 0.5 * (1 + np.cos(np.pi * 50 / 100)), 0.0]
    np.testing.assert_allclose(rates, expected, atol=1e-9)


def test_cosine_ends_at_the_final_learning_rate():
    recipe = Recipe(
        "floor", "adam", 3e-4, schedule="cosine", warmup_steps=10, final_learning_rate=1e-4
    )
    schedule = make_learning_rate(recipe, total_steps=110)
    rates = [float(schedule(step)) for step in (10, 60, 110, 200)]
    # Half a cosine from 3e-4 down to 1e-4 over the 100 steps after the warm-up, then 1e-4.
    expected = [3e-4, 1e-4 + 2e-4 * 0.5 * (1 + np.cos(np.pi * 50 / 100)), 1e-4, 1e-4]
    np.testing.assert_allclose(rates, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="final_learning_rate must lie in \\[0, learning_rate\\]"):
        dataclasses.replace(recipe, final_learning_rate=4e-4)


def test_poly_schedule_is_deeplabs():
    recipe = Recipe("poly", "sgd", 1e-3, momentum=0.9, schedule="poly", poly_power=0.9)
    schedule = make_learning_rate(recipe, total_steps=1000)
    for step in (0, 250, 999):
        assert float(schedule(step)) == pytest.approx(1e-3 * (1 - step / 1000) ** 0.9, rel=1e-4)


def test_without_total_steps_the_rate_stays_fixed():
    assert make_learning_rate(training.default_recipe(1e-3)) == 1e-3


def test_optimizer_and_loss_follow_the_recipe():
    sgd = make_optimizer(Recipe("sgd", "sgd", 0.1, momentum=0.9))
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.9
    assert isinstance(make_optimizer(training.default_recipe()), keras.optimizers.Adam)
    loss = make_loss(Recipe("summed", "sgd", 0.1, loss_reduction="sum"))
    assert (loss.reduction, loss.ignore_class, loss.from_logits) == ("sum", 255, True)


@pytest.mark.parametrize(
    "field, value", [("optimizer", "rmsprop"), ("schedule", "step"), ("loss_reduction", "mean")]
)
def test_unknown_recipe_fields_are_rejected(field, value):
    with pytest.raises(ValueError, match=f"{field} must be one of"):
        Recipe("bad", **{"optimizer": "sgd", "learning_rate": 0.1, field: value})


def test_multipliers_and_label_stride_become_the_optimizer_and_the_loss():
    rules = (("fc8*/kernel", 10.0), ("*/bias", 2.0))
    recipe = Recipe(
        "deeplab", "sgd", 1e-3, momentum=0.9, learning_rate_multipliers=rules, label_stride=8
    )
    optimizer = make_optimizer(recipe)
    assert isinstance(optimizer, training.SGDWithMultipliers)
    assert (optimizer.multipliers, optimizer.momentum) == (rules, 0.9)
    adam = make_optimizer(dataclasses.replace(recipe, optimizer="adam"))
    assert isinstance(adam, training.AdamWithMultipliers) and adam.multipliers == rules
    loss = make_loss(recipe)
    assert isinstance(loss, training.SubsampledSparseCategoricalCrossentropy)
    assert (loss.stride, loss.ignore_class, loss.from_logits) == (8, 255, True)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("label_stride", 0, "label_stride"),
        ("learning_rate_multipliers", (("*/bias", -2.0),), "pattern, multiplier"),
        ("learning_rate_multipliers", (("*/bias",),), "pattern, multiplier"),
    ],
)
def test_invalid_multipliers_and_strides_are_rejected(field, value, message):
    with pytest.raises(ValueError, match=message):
        Recipe("bad", "sgd", 0.1, **{field: value})


def test_recipe_options_convert_to_the_fields_types():
    recipe = training.with_options(
        training.default_recipe(),
        [
            "learning_rate=3e-4",
            "warmup_steps=20",
            "scale_range=0.75,1.5",
            "augment=false",
            "crop_size=none",
            "class_weights=median-frequency",
        ],
    )
    assert recipe.learning_rate == 3e-4 and recipe.warmup_steps == 20
    assert recipe.scale_range == (0.75, 1.5) and recipe.augment is False
    assert recipe.crop_size is None and recipe.class_weights == "median-frequency"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("momentum", "must be KEY=VALUE"),
        ("speed=3", "must be KEY=VALUE"),
        ("warmup_steps=many", "invalid literal"),
        ("augment=yes", "expected true or false"),
        ("schedule=linear", "schedule must be one of"),
    ],
)
def test_bad_recipe_options_are_rejected(option, message):
    with pytest.raises(ValueError, match=message):
        training.with_options(training.default_recipe(), [option])
