import inspect

import pytest

from keras_fcn import registry
from keras_fcn.training.recipes import Recipe


def test_every_entry_is_named_by_its_key_and_builds_with_its_options():
    for name, entry in registry.MODELS.items():
        assert entry.name == name
        assert isinstance(entry.paper_recipe, Recipe)
        assert entry.geometries and set(entry.native_size) == set(entry.geometries)
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


def test_fcn_alexnet_recipe_is_its_own_solver():
    entry = registry.get("fcn-alexnet")
    recipe = entry.paper_recipe
    # voc-fcn-alexnet/solver.prototxt: base_lr 1e-4, momentum 0.9, normalised loss.
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", 1e-4, 0.9)
    assert recipe.loss_reduction == "sum_over_batch_size"
    assert recipe.l2 == pytest.approx(5e-4 / 2)
    assert entry.geometries == ("original",) and entry.native_size == {"original": 500}
    model = registry.build("fcn-alexnet", 3, weights=None, fc_units=8, geometry="original")
    assert model.name == "fcn-alexnet" and model.get_layer("norm1") is not None


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
