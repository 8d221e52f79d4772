import inspect

import pytest

from keras_fcn import registry
from keras_fcn.training.multipliers import multiplier_for
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
    # net.py: every convolution's bias has lr_mult 2.
    assert recipe.learning_rate_multipliers == (("*/bias", 2.0),)


@pytest.mark.parametrize("name", ["deeplab-largefov", "deeplab-aspp"])
def test_deeplab_paper_recipes_are_the_released_solver(name):
    recipe = registry.get(name).paper_recipe
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", 1e-3, 0.9)
    assert (recipe.schedule, recipe.poly_power) == ("poly", 0.9)
    assert (recipe.batch_size, recipe.crop_size, recipe.label_stride) == (10, 321, 8)
    assert recipe.l2 == pytest.approx(5e-4 / 2)
    # train.prototxt: fc8_voc12 at lr_mult 10 (bias 20), every other bias at 2.
    rates = {
        path: multiplier_for(path, recipe.learning_rate_multipliers)
        for path in ("fc8_voc12/kernel", "fc8_voc12_4/bias", "fc6_1/bias", "fc7/kernel")
    }
    assert rates == {
        "fc8_voc12/kernel": 10.0,
        "fc8_voc12_4/bias": 20.0,
        "fc6_1/bias": 2.0,
        "fc7/kernel": 1.0,
    }


@pytest.mark.parametrize(
    "name, rate", [("dilation8", 1e-4), ("dilation8-basic", 1e-5), ("dilation8-large", 1e-5)]
)
def test_dilation_paper_recipes_are_the_released_solver(name, rate):
    recipe = registry.get(name).paper_recipe
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", rate, 0.9)
    assert (recipe.batch_size, recipe.crop_size, recipe.label_stride) == (14, 500, 8)
    assert recipe.learning_rate_multipliers == (("*/bias", 2.0),)


@pytest.mark.parametrize(
    "name, layers",
    [
        ("deeplab-largefov", ["pool5a", "fc6", "fc7", "fc8_voc12", "fc8_interp"]),
        ("deeplab-aspp", ["fc6_1", "fc6_4", "fc8_voc12_4", "fc8_voc12", "fc8_interp"]),
        ("dilation8", ["fc6", "fc7", "fc-final", "interp"]),
        ("dilation8-basic", ["fc-final", "ct_conv1_1", "ct_fc1", "ct_final"]),
        ("dilation8-large", ["ct_conv5_1", "ct_final"]),
    ],
)
def test_successors_build_by_name_with_their_layers(name, layers):
    model = registry.build(name, 3, weights=None, fc_units=8, geometry="original")
    assert model.name == name
    assert set(layers) <= {layer.name for layer in model.layers}


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
