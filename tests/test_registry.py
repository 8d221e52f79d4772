"""The registry's entries, and every model of it on every Keras backend.

The tests marked `backends` also run with `KERAS_BACKEND=jax` and `torch` (see
tests/conftest.py): each model of the registry, new ones included, must give TensorFlow's
logits for the same weights there, read `.keras` files written on TensorFlow, and write files
TensorFlow reads. TensorFlow's side runs in its own process (tests/backend_reference.py).
"""

import inspect
import pathlib
import shutil
from collections.abc import Iterator

import backend_processes
import backend_reference
import keras
import numpy as np
import pytest

from keras_fcn import registry
from keras_fcn.training.multipliers import multiplier_for
from keras_fcn.training.recipes import Recipe

ROOT = pathlib.Path(__file__).resolve().parents[1]


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


def test_deeplab_v2_resnet101_entry_builds_the_released_net_with_its_solver():
    entry = registry.get("deeplab-aspp-resnet101")
    assert entry.native_size == {"original": (513, 513)} and entry.class_names[15] == "person"
    model = registry.build("deeplab-aspp-resnet101", 3, weights=None, kernel_initializer="zeros")
    assert model.name == "deeplab-aspp-resnet101" and model.output_shape[-1] == 3
    assert {"conv4_block23_3_conv", "fc1_voc12_c3", "fc1_voc12", "fc1_interp"} <= {
        layer.name for layer in model.layers
    }
    with pytest.raises(ValueError, match=r"takes no option fc_units"):
        registry.build("deeplab-aspp-resnet101", 3, weights=None, fc_units=8)
    recipe = entry.paper_recipe
    # DrSleep/tensorflow-deeplab-resnet train.py: 2.5e-4, poly 0.9, momentum 0.9, decay 5e-4,
    # batches of 10 321×321 crops; fc weights at 10×, fc biases at 20×, nothing else biased.
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", 2.5e-4, 0.9)
    assert (recipe.schedule, recipe.poly_power, recipe.l2) == ("poly", 0.9, pytest.approx(2.5e-4))
    assert (recipe.batch_size, recipe.crop_size, recipe.label_stride) == (10, 321, 8)
    assert recipe.augment and recipe.scale_range == (0.5, 1.5)
    rates = {
        path: multiplier_for(path, recipe.learning_rate_multipliers)
        for path in ("fc1_voc12_c0/kernel", "fc1_voc12_c3/bias", "conv1_conv/kernel")
    }
    assert rates == {
        "fc1_voc12_c0/kernel": 10.0,
        "fc1_voc12_c3/bias": 20.0,
        "conv1_conv/kernel": 1.0,
    }


@pytest.mark.parametrize(
    "name, rate", [("dilation8", 1e-4), ("dilation8-basic", 1e-5), ("dilation8-large", 1e-5)]
)
def test_dilation_paper_recipes_are_the_released_solver(name, rate):
    recipe = registry.get(name).paper_recipe
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", rate, 0.9)
    assert (recipe.batch_size, recipe.crop_size, recipe.label_stride) == (14, 500, 8)
    assert recipe.learning_rate_multipliers == (("*/bias", 2.0),)


def assert_tf_deeplab_recipe(recipe, learning_rate, batch_size, crop_size, weight_decay):
    """TF DeepLab's research/deeplab/train.py: SGD of momentum 0.9, "poly" power 0.9, scales
    0.5–2, logits upsampled to the labels, weight decay as slim's l2_regularizer
    (`weight_decay` · ‖w‖² / 2)."""
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", learning_rate, 0.9)
    assert (recipe.schedule, recipe.poly_power) == ("poly", 0.9)
    assert (recipe.batch_size, recipe.crop_size, recipe.label_stride) == (batch_size, crop_size, 1)
    assert (recipe.augment, recipe.scale_range) == (True, (0.5, 2.0))
    assert recipe.l2 == pytest.approx(weight_decay / 2)


@pytest.mark.parametrize("name", ["deeplabv3-resnet50", "deeplabv3-resnet101"])
def test_deeplab_v3_paper_recipe_is_the_released_first_stage(name):
    entry = registry.get(name)
    # research/deeplab/train.py: 0.007 on train_aug, weight decay 1e-4 for ResNets, 513 crops;
    # section 4.1: batches of 16.
    assert_tf_deeplab_recipe(
        entry.paper_recipe, learning_rate=0.007, batch_size=16, crop_size=513, weight_decay=1e-4
    )
    assert entry.native_size == {"original": (513, 513)} and len(entry.class_names) == 21


@pytest.mark.parametrize("name", ["deeplabv3plus-resnet50", "deeplabv3plus-resnet101"])
def test_deeplab_v3_plus_trains_as_deeplab_v3(name):
    entry = registry.get(name)
    # ECCV 2018, section 4: v3's protocol (poly from 0.007, 513 crops, scale augmentation).
    assert entry.paper_recipe == registry.get("deeplabv3-resnet50").paper_recipe
    assert entry.native_size == {"original": (513, 513)} and len(entry.class_names) == 21
    assert registry.parse_options(name, ["low_level=stage", "output_stride=8"]) == {
        "low_level": "stage",
        "output_stride": 8,
    }
    with pytest.raises(ValueError, match=rf"'{name}' takes no option backbone"):
        registry.build(name, 3, weights=None, backbone="resnet152")


def test_gcn_entry_has_the_papers_solver_and_builds_with_its_options():
    entry = registry.get("gcn")
    recipe = entry.paper_recipe
    # Section 4: SGD, momentum 0.99, weight decay 5e-4 (Caffe's: 2.5e-4 · ‖w‖²), batch 1, VOC
    # images padded to 512 × 512 and flipped; the learning rate is the project's (FCN-32s').
    assert (recipe.optimizer, recipe.momentum, recipe.batch_size) == ("sgd", 0.99, 1)
    assert recipe.l2 == pytest.approx(5e-4 / 2) and recipe.learning_rate == 2.5e-5
    assert (recipe.crop_size, recipe.augment, recipe.scale_range) == (512, True, (1.0, 1.0))
    assert entry.native_size == {"original": (512, 512)} and len(entry.class_names) == 21
    assert registry.parse_options("gcn", ["k=9,7,5,3", "backbone=resnet50"]) == {
        "k": (9, 7, 5, 3),
        "backbone": "resnet50",
    }
    model = registry.build(
        "gcn", 3, weights=None, backbone="resnet50", k=(9, 7, 5, 3), kernel_initializer="zeros"
    )
    assert model.name == "gcn" and model.get_layer("gcn2_right_2").kernel_size == (9, 1)
    assert model.get_layer("conv4_block6_out") is not None


@pytest.mark.parametrize(
    "name",
    [f"torchvision-{head}-resnet{depth}" for head in ("fcn", "deeplabv3") for depth in (50, 101)],
)
def test_torchvision_recipe_is_its_reference_training(name):
    entry = registry.get(name)
    recipe = entry.paper_recipe
    # references/segmentation: --lr 0.02 -b 4 on 8 GPUs, momentum 0.9, weight decay 1e-4,
    # (1 - step / total) ** 0.9, 480 crops, the aux_classifier's parameters at 10× the rate.
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", 0.02, 0.9)
    assert (recipe.schedule, recipe.poly_power) == ("poly", 0.9)
    assert (recipe.batch_size, recipe.crop_size) == (32, 480)
    assert recipe.l2 == pytest.approx(1e-4 / 2)
    rules = recipe.learning_rate_multipliers
    rates = [multiplier_for(path, rules) for path in ("aux_logits/bias", "logits/kernel")]
    assert rates == [10.0, 1.0]
    assert entry.native_size == {"original": (520, 520)} and len(entry.class_names) == 21


@pytest.mark.parametrize("variant", ["s", "m", "l"])
def test_auto_deeplab_entries_are_the_papers_cityscapes_nets(variant):
    entry = registry.get(f"auto-deeplab-{variant}")
    assert (
        entry.fixed == {"variant": variant.upper()}
        and entry.title == f"Auto-DeepLab-{variant.upper()}"
    )
    # Section 5: from scratch on 769×769 Cityscapes crops, batch 8, "poly"; TF DeepLab's
    # defaults where it is silent: momentum 0.9, power 0.9, weight decay 4e-5, scales 0.5–2.
    assert_tf_deeplab_recipe(
        entry.paper_recipe, learning_rate=0.05, batch_size=8, crop_size=769, weight_decay=4e-5
    )
    # Cityscapes' 19 evaluated classes, whole images padded to 1025×2049 as TF DeepLab evaluates.
    assert entry.native_size == {"original": (1025, 2049)} and len(entry.class_names) == 19
    assert entry.class_names[0] == "road" and entry.class_names[-1] == "bicycle"
    assert registry.parse_options(entry.name, ["input_shape=(None, None, 3)"]) == {
        "input_shape": (None, None, 3)
    }
    with pytest.raises(ValueError, match=rf"'auto-deeplab-{variant}' takes no option output"):
        registry.build(entry.name, 19, output_stride=16)


@pytest.mark.parametrize("name, depth", [("refinenet101", 101), ("refinenet152", 152)])
def test_refinenet_recipe_is_the_releases_training(name, depth):
    entry = registry.get(name)
    recipe = entry.paper_recipe
    # main/demo_refinenet_train.m and gen_net_opts_model_type1.m: learning_rate 5e-4, momentum
    # 0.9, weightDecay 5e-4 (MatConvNet's: Caffe's rule), batch_size 1, crop_box_size 400,
    # aug_scales 0.7:0.1:1.3 and flips, input_featnet_lr_multiplier 0.1 on the ResNet.
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", 5e-4, 0.9)
    assert (recipe.schedule, recipe.batch_size, recipe.crop_size) == ("constant", 1, 400)
    assert (recipe.augment, recipe.scale_range) == (True, (0.7, 1.3))
    assert recipe.l2 == pytest.approx(5e-4 / 2)
    rules = recipe.learning_rate_multipliers
    paths = ("conv4_block23_2_conv/kernel", "mflow_conv_g1_b1_conv/kernel", "score/bias")
    assert [multiplier_for(path, rules) for path in paths] == [0.1, 1.0, 1.0]
    assert entry.fixed == {"depth": depth} and len(entry.class_names) == 21
    assert registry.parse_options(name, ["pooling=improved", "adapt_widths=8,4,4,4"]) == {
        "pooling": "improved",
        "adapt_widths": (8, 4, 4, 4),
    }
    with pytest.raises(ValueError, match=f"'{name}' takes no option output_stride"):
        registry.build(name, 21, output_stride=16)


def test_resnet_entries_build_by_name_with_their_options():
    model = registry.build(
        "deeplabv3-resnet101",
        3,
        weights=None,
        output_stride=8,
        multi_grid=(1, 1, 1),
        kernel_initializer="zeros",
    )
    assert model.name == "deeplabv3-resnet101" and model.get_layer("conv4_block23_out")
    assert model.get_layer("aspp_1_conv").dilation_rate == (12, 12)
    assert model.get_layer("conv5_block3_2_conv").dilation_rate == (4, 4)
    model = registry.build("torchvision-deeplabv3-resnet50", 3, weights=None, aux=True)
    assert model.name == "torchvision-deeplabv3-resnet50" and set(model.output) == {"out", "aux"}
    assert registry.parse_options("torchvision-fcn-resnet50", ["aux=True"]) == {"aux": True}
    assert registry.parse_options("deeplabv3-resnet50", ["multi_grid=1,2,4"]) == {
        "multi_grid": (1, 2, 4)
    }
    with pytest.raises(ValueError, match=r"aux=maybe.*expected true or false"):
        registry.parse_options("torchvision-fcn-resnet50", ["aux=maybe"])
    with pytest.raises(ValueError, match=r"'deeplabv3-resnet50' takes no option backbone"):
        registry.build("deeplabv3-resnet50", 3, weights=None, backbone="resnet101")
    with pytest.raises(ValueError, match=r"'torchvision-fcn-resnet50' takes no option output"):
        registry.build("torchvision-fcn-resnet50", 3, output_stride=16)


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
    assert recipe.class_weights == "median-frequency"  # the loss layers' class_weighting
    assert entry.native_size == {"original": (360, 480)}
    assert len(entry.class_names) == 11 and entry.class_names[0] == "Sky"


def test_bayesian_entries_build_monte_carlo_dropout_and_keep_their_names():
    model = registry.build("bayesian-segnet-basic", 11, weights=None)
    assert model.name == "bayesian-segnet-basic"
    assert model.get_layer("encdrop3").rate == 0.5
    assert "dropout" in registry.get("bayesian-segnet").options


def test_fcn_alexnet_recipe_is_its_own_solver():
    entry = registry.get("fcn-alexnet")
    recipe = entry.paper_recipe
    # voc-fcn-alexnet/solver.prototxt: base_lr 1e-4, momentum 0.9, normalised loss.
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum) == ("sgd", 1e-4, 0.9)
    assert recipe.loss_reduction == "sum_over_batch_size"
    assert recipe.l2 == pytest.approx(5e-4 / 2)
    assert entry.geometries == ("original",) and entry.native_size == {"original": (500, 500)}
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


def run_on_tensorflow(*arguments: str) -> None:
    """Runs tests/backend_reference.py in a TensorFlow process."""
    if not backend_processes.tensorflow_installed():
        pytest.skip("TensorFlow is not installed: no reference to compare with")
    completed = backend_processes.run_python(
        [str(ROOT / "tests" / "backend_reference.py"), *arguments], backend="tensorflow"
    )
    assert completed.returncode == 0, completed.stderr[-4000:]


@pytest.fixture(scope="module")
def tensorflow_reference(tmp_path_factory) -> Iterator[pathlib.Path]:
    """Every registry model of `backend_reference.models()` as a `.keras` file written on
    TensorFlow, with its logits (about 1.5 GiB, deleted when the module's tests are done)."""
    directory = tmp_path_factory.mktemp("tensorflow_reference")
    if keras.backend.backend() == "tensorflow":
        backend_reference.write(directory)
    else:
        run_on_tensorflow("write", str(directory))
    yield directory
    shutil.rmtree(directory)


BACKEND_TOLERANCE = 3e-5
"""Largest difference between backends' float32 logits, relative to the logits' scale: the
kernels sum in other orders (oneDNN, XLA, PyTorch's CPU kernels), and the deepest unnormalised
net (Dilation8 with its context module, 24 convolutions) differs by about 1.1e-5 on PyTorch."""


def relative_error(actual, expected) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


@pytest.mark.backends
@pytest.mark.parametrize("name, geometry", backend_reference.cases())
def test_every_model_gives_tensorflows_logits_for_the_same_weights(
    tensorflow_reference, name, geometry
):
    stem = tensorflow_reference / f"{name}-{geometry}"
    reference = np.load(stem.with_suffix(".npz"))
    from_file = keras.saving.load_model(stem.with_suffix(".keras"))
    model = backend_reference.build_narrow(name, geometry)
    # What the builder initialises without randomness (FCN's bilinear upsamplers) is the same.
    for built, read in zip(
        model.non_trainable_weights, from_file.non_trainable_weights, strict=True
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(built), keras.ops.convert_to_numpy(read), err_msg=built.path
        )
    model.set_weights(from_file.get_weights())
    logits = backend_reference.logits(model, reference["images"])
    assert logits.shape == (*reference["images"].shape[:3], backend_reference.NUM_CLASSES)
    assert relative_error(logits, reference["logits"]) <= BACKEND_TOLERANCE


@pytest.mark.backends
@pytest.mark.parametrize("name", backend_reference.models())
def test_keras_files_written_on_tensorflow_load_with_equal_outputs(tensorflow_reference, name):
    # One geometry per model: the file format does not depend on it.
    stem = tensorflow_reference / f"{name}-{registry.get(name).geometries[-1]}"
    reference = np.load(stem.with_suffix(".npz"))
    model = keras.saving.load_model(stem.with_suffix(".keras"))
    logits = backend_reference.logits(model, reference["images"])
    assert relative_error(logits, reference["logits"]) <= BACKEND_TOLERANCE


@pytest.mark.backends
def test_a_keras_file_written_on_this_backend_loads_on_tensorflow(tmp_path):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("written and read on TensorFlow: test_models_fcn's round trip covers it")
    name = next(iter(registry.MODELS))
    geometry = registry.get(name).geometries[-1]
    model = backend_reference.randomize(backend_reference.build_narrow(name, geometry), seed=1)
    images = backend_reference.image(seed=1)
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "inputs.npz", images=images)
    run_on_tensorflow(
        "read",
        str(tmp_path / "model.keras"),
        str(tmp_path / "inputs.npz"),
        str(tmp_path / "out.npz"),
    )
    tensorflow_logits = np.load(tmp_path / "out.npz")["logits"]
    assert (
        relative_error(tensorflow_logits, backend_reference.logits(model, images))
        <= BACKEND_TOLERANCE
    )


def test_command_line_options_are_parsed_by_their_declaration_and_checked_once():
    assert registry.parse_options("dilation8", ["context=basic", "dropout=0.25"]) == {
        "context": "basic",
        "dropout": 0.25,
    }
    assert registry.parse_options("fcn8s", ["input_shape=(64, 64, 3)"]) == {
        "input_shape": (64, 64, 3)
    }
    with pytest.raises(ValueError, match=r"takes NAME=VALUE with NAME one of .*fc_units"):
        registry.parse_options("fcn8s", ["context=large"])
    with pytest.raises(ValueError, match=r"fc_units=wide.*width of fc6/fc7"):
        registry.parse_options("fcn8s", ["fc_units=wide"])
    with pytest.raises(ValueError, match=r"set from Python only"):
        registry.parse_options("fcn8s", ["streams=x"])
    with pytest.raises(ValueError, match=r"'fcn8s' takes no option backbone"):
        registry.build("fcn8s", 3, weights=None, backbone="resnet50")


def test_an_entrys_fixed_arguments_make_it_what_it_is():
    large = registry.build("dilation8-large", 3, weights=None, fc_units=8)
    assert large.name == "dilation8-large" and large.get_layer("ct_final") is not None
    with pytest.raises(ValueError, match=r"'dilation8-large' takes no option context"):
        registry.build("dilation8-large", 3, weights=None, context="basic")
