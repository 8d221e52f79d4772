import inspect

import pytest

from keras_fcn import registry
from keras_fcn.training.recipes import Recipe


def test_every_entry_is_named_by_its_key_and_builds_with_its_options():
    for name, entry in registry.MODELS.items():
        assert entry.name == name
        assert isinstance(entry.paper_recipe, Recipe)
        assert entry.geometries and set(entry.native_size) == set(entry.geometries)
        assert all(len(size) == 2 for size in entry.native_size.values())
        parameters = inspect.signature(entry.builder).parameters
        assert "num_classes" in parameters and "weights" in parameters
        assert ("geometry" in parameters) == (len(entry.geometries) > 1)


@pytest.mark.parametrize(
    "name, rate", [("fcn32s", 1e-10), ("fcn16s", 1e-12), ("fcn8s", 1e-14), ("fcn8s-atonce", 1e-10)]
)
def test_fcn_paper_recipes_are_the_original_solver(name, rate):
    recipe = registry.get(name).paper_recipe
    assert recipe.learning_rate == rate
    assert (recipe.optimizer, recipe.momentum, recipe.schedule) == ("sgd", 0.99, "constant")
    assert (recipe.batch_size, recipe.augment, recipe.crop_size) == (1, False, None)
    assert recipe.loss_reduction == "sum"
    # Caffe's decay 5e-4 adds 5e-4·w to the gradient: the gradient of 2.5e-4·‖w‖².
    assert recipe.l2 == pytest.approx(5e-4 / 2)


@pytest.mark.parametrize(
    "name, rate",
    [
        ("segnet", 1e-3),
        ("segnet-basic", 0.1),
        ("bayesian-segnet", 1e-3),
        ("bayesian-segnet-basic", 0.1),
    ],
)
def test_segnet_paper_recipes_are_segnet_tutorial_solvers(name, rate):
    entry = registry.get(name)
    recipe = entry.paper_recipe
    # segnet_solver.prototxt / segnet_basic_solver.prototxt: base_lr, momentum 0.9, "step" with
    # gamma 1 (a fixed rate), weight_decay 0.0005; batch_size 4 in the train prototxts.
    assert recipe.learning_rate == rate
    assert (recipe.optimizer, recipe.momentum, recipe.schedule) == ("sgd", 0.9, "constant")
    assert recipe.l2 == pytest.approx(5e-4 / 2)
    assert (recipe.batch_size, recipe.augment, recipe.crop_size) == (4, False, None)
    assert recipe.loss_reduction == "sum_over_batch_size"  # SoftmaxWithLoss normalises
    assert entry.native_size == {"original": (360, 480)}
    assert len(entry.class_names) == 11 and entry.class_names[0] == "Sky"


def test_bayesian_entries_build_monte_carlo_dropout_and_keep_their_names():
    model = registry.build("bayesian-segnet-basic", 11, weights=None)
    assert model.name == "bayesian-segnet-basic"
    assert model.get_layer("encdrop3").rate == 0.5
    assert "dropout" in registry.get("bayesian-segnet").options


def test_build_passes_options_and_names_the_model():
    model = registry.build("fcn32s", 4, weights=None, fc_units=8, geometry="aligned")
    assert model.name == "fcn32s" and model.output_shape[-1] == 4
    assert model.get_layer("pad_to_stride") is not None


def test_unknown_names_options_and_geometries_are_clear_errors():
    with pytest.raises(ValueError, match=r"Unknown model 'fcn4s'.*fcn8s"):
        registry.get("fcn4s")
    with pytest.raises(ValueError, match=r"takes no option pool_size.*fc_units"):
        registry.build("fcn8s", 3, weights=None, pool_size=3)
    with pytest.raises(ValueError, match=r"geometries \('original', 'aligned'\)"):
        registry.build("fcn8s", 3, weights=None, geometry="same")
