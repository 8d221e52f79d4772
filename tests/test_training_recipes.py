import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn import training
from keras_fcn.training.recipes import Recipe, make_learning_rate, make_loss, make_optimizer


def _labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 32, 32)).astype("int32")
    labels[:, :4] = 255
    return tf.constant(labels)


def test_summed_loss_adds_the_cross_entropy_of_labelled_pixels_only():
    labels = _labels()
    logits = tf.random.stateless_normal((*labels.shape, 3), seed=(1, 2))
    summed = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=255, reduction="sum"
    )(labels, logits)
    # Independent reference: log-softmax in numpy over the labelled pixels.
    logits_np, labels_np = logits.numpy(), labels.numpy()
    log_probs = logits_np - np.log(np.exp(logits_np).sum(-1, keepdims=True))
    mask = labels_np != 255
    expected = -np.take_along_axis(log_probs, np.where(mask, labels_np, 0)[..., None], -1)[..., 0]
    assert float(summed) == pytest.approx(expected[mask].sum(), rel=1e-5)


def test_default_schedule_warms_up_then_decays_to_zero():
    schedule = make_learning_rate(training.default_recipe(1e-3, warmup_steps=10), total_steps=110)
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    rates = [float(schedule(step)) for step in (0, 5, 10, 60, 110)]
    # Linear from 0 to 1e-3 over 10 steps, then half a cosine over the 100 left.
    expected = [0.0, 5e-4, 1e-3, 1e-3 * 0.5 * (1 + np.cos(np.pi * 50 / 100)), 0.0]
    np.testing.assert_allclose(rates, expected, atol=1e-9)


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
