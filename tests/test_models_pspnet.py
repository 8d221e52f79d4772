"""PSPNet against its released prototxts: parameter counts from their layer lists, the graph value
for value against pspnet_reference's raw-op forward pass on random weights, the stride and
dilation of each release, the auxiliary head."""

import dataclasses

import keras
import numpy as np
import pspnet_reference as ref
import pytest

from keras_fcn import registry
from keras_fcn.backbones.preprocessing import PSPNET_MEAN_BGR
from keras_fcn.export.exporter import export_model
from keras_fcn.export.predictor import load_predictor
from keras_fcn.inference.protocols import PSPNET_MEAN
from keras_fcn.layers import AdaptiveAveragePooling, ZoomToReference
from keras_fcn.models.pspnet import PSPNet, conv5_size, pyramid_pooling
from keras_fcn.training import paper_recipes
from keras_fcn.training.multipliers import multiplier_for

AUX_LAYERS = ("conv4_24", "conv4_24_bn", "conv6_1")


@pytest.fixture(scope="module")
def release50():
    """Random PSPNet-50 weights (150 classes, with the auxiliary head) and an image of 41 × 41,
    whose conv5 is 6 × 6: the prototxt's pools (kernel = stride = 6, 3, 2, 1) are exact."""
    layers = ref.layer_list(50, 150, aux=True)
    parameters = ref.random_parameters(np.random.default_rng(50), layers)
    images = np.random.default_rng(7).integers(0, 256, (2, 41, 41, 3)).astype("float32")
    return parameters, images


@pytest.fixture(scope="module")
def pspnet50(release50):
    """The ADE20K net at the fixed input of 41 × 41, with the auxiliary head, holding
    `release50`'s weights set by name (not through the Caffe loader)."""
    model = PSPNet(150, depth=50, input_size=41, aux=True, kernel_initializer="zeros")
    for name, weights in ref.keras_weights(release50[0]).items():
        model.get_layer(name).set_weights(weights)
    return model


def test_parameter_counts_follow_the_released_layer_lists(pspnet50):
    # Every blob of the prototxts' layer lists (kernels, conv6's bias, four numbers per BN
    # channel): the counts, to the unit.
    assert ref.parameter_count(101, 21) == 65_819_349
    assert ref.parameter_count(101, 19) == 65_818_323
    assert ref.parameter_count(50, 150) == 46_841_174
    # The model holds exactly those; the auxiliary head (3·3·1024·256 + 4·256 + 256·150 + 150)
    # on top.
    aux = sum(pspnet50.get_layer(name).count_params() for name in AUX_LAYERS)
    assert aux == 9 * 1024 * 256 + 4 * 256 + 256 * 150 + 150
    assert pspnet50.count_params() - aux == 46_841_174
    assert pspnet50.count_params() == ref.parameter_count(50, 150, aux=True)


def test_the_101_layer_net_counts_as_its_layer_list():
    model = registry.build("pspnet101", 21, kernel_initializer="zeros")
    assert model.input.shape == (None, None, None, 3)  # the registry's nets take any size
    assert model.count_params() == ref.parameter_count(101, 21) == 65_819_349
    # PSPNet-101 strides in conv3_1_3x3; every conv4 3×3 dilated by 2, every conv5 3×3 by 4.
    assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert model.get_layer("conv3_block1_1_conv").strides == (1, 1)
    rates = {
        stage: {model.get_layer(f"conv{stage}_block{b}_2_conv").dilation_rate for b in blocks}
        for stage, blocks in ((4, range(1, 24)), (5, range(1, 4)))
    }
    assert rates == {4: {(2, 2)}, 5: {(4, 4)}}


def test_pspnet50_strides_in_the_first_1x1_and_dilates_every_block(pspnet50):
    assert pspnet50.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert pspnet50.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert pspnet50.get_layer("conv4_block1_2_conv").dilation_rate == (2, 2)
    assert pspnet50.get_layer("conv5_block1_2_conv").dilation_rate == (4, 4)


def test_the_fixed_net_computes_the_prototxts_graph(pspnet50, release50):
    parameters, images = release50
    results = pspnet50(images, training=False)
    outputs, aux = (keras.ops.convert_to_numpy(results[key]) for key in ("out", "aux"))
    logits, expected_aux = ref.forward(images, parameters, 50, aux=True)
    assert outputs.shape == logits.shape == (2, 41, 41, 150)
    assert ref.relative_error(outputs, logits) <= 1e-5
    assert ref.relative_error(aux, expected_aux) <= 1e-5
    # The prototxt's fixed pools: kernel = stride = conv5's side over the bin.
    pools = [pspnet50.get_layer(f"conv5_3_pool{b}").pool_size for b in (1, 2, 3, 6)]
    assert pools == [(6, 6), (3, 3), (2, 2), (1, 1)]


def test_any_size_pools_adaptively_and_agrees_where_the_pools_are_exact(release50):
    parameters, images = release50
    model = PSPNet(150, depth=50, input_size=None, kernel_initializer="zeros")
    for name, weights in ref.keras_weights(parameters).items():
        if name not in AUX_LAYERS:
            model.get_layer(name).set_weights(weights)
    # 41 × 41: conv5 6 × 6, the adaptive bins are the prototxt's pools.
    exact = keras.ops.convert_to_numpy(model(images[:1], training=False))
    assert ref.relative_error(exact, ref.forward(images[:1], parameters, 50)) <= 1e-5
    # 57 × 49: conv5 8 × 7, bins of uneven cells (torch's adaptive pooling), odd output sizes.
    odd = np.random.default_rng(8).integers(0, 256, (1, 57, 49, 3)).astype("float32")
    assert (conv5_size(57), conv5_size(49)) == (8, 7)
    actual = keras.ops.convert_to_numpy(model(odd, training=False))
    assert actual.shape == (1, 57, 49, 150)
    assert ref.relative_error(actual, ref.forward(odd, parameters, 50)) <= 1e-5


def test_the_released_input_sizes_give_conv5_of_60_and_90():
    # 473 → 237 (conv1_1_3x3_s2) → 119 (pool1, rounding up) → 60 (conv3); 713 → 357 → 179 → 90.
    assert (conv5_size(473), conv5_size(713)) == (60, 90)
    # conv6_interp zooms n scores to 8 (n − 1) + 1: the input again.
    assert (8 * 59 + 1, 8 * 89 + 1) == (473, 713)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"depth": 152}, "PSPNet was released at depth"),
        ({"weights": "nowhere.weights.h5"}, "no file exists at 'nowhere.weights.h5'"),
        ({"input_size": 0}, "input_size must be positive"),
    ],
)
def test_bad_options_are_refused_with_what_was_received(options, message):
    with pytest.raises(ValueError, match=message):
        PSPNet(2, **options)


def test_the_paper_recipe_trains_the_new_layers_ten_times_faster(pspnet50):
    # hszhao/semseg tool/train.py: the pyramid pooling module, the classifier and the auxiliary
    # head at 10 × base_lr, the ResNet at base_lr.
    recipe = registry.get("pspnet50").paper_recipe
    assert (recipe.learning_rate, recipe.momentum, recipe.batch_size, recipe.crop_size) == (
        0.01,
        0.9,
        16,
        473,
    )
    new = ("conv5_3_pool", "conv5_4", "conv6", "conv4_24")
    for variable in pspnet50.weights:
        expected = 10.0 if variable.path.startswith(new) else 1.0
        assert multiplier_for(variable.path, recipe.learning_rate_multipliers) == expected
    assert registry.get("pspnet101").paper_recipe.crop_size == 473
    # Cityscapes: the same solver on 713 × 713 crops (cityscapes_pspnet101.yaml).
    assert dataclasses.replace(recipe, crop_size=713) == paper_recipes.PSPNET_CITYSCAPES_SOLVER


def test_the_protocols_padding_is_the_mean_the_model_subtracts():
    # eval_all.m pads with the RGB mean; the model subtracts it after turning RGB into BGR.
    assert PSPNET_MEAN == tuple(reversed(PSPNET_MEAN_BGR)) == (123.68, 116.779, 103.939)


@pytest.fixture(scope="module")
def small_pyramid_net():
    """A narrow net around PSPNet's own layers, for images of any size: a stride-8 convolution
    of 8 channels for the backbone, the pyramid pooling module (adaptive at every bin, the
    sizes being unknown), 3 scores and `conv6_interp`'s zoom."""
    keras.utils.set_random_seed(0)
    images = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(images)
    x = keras.layers.Conv2D(8, 8, strides=8, padding="same", activation="relu")(x)
    x = pyramid_pooling(x)
    scores = keras.layers.Conv2D(3, 1, kernel_initializer="random_normal")(x)
    return keras.Model(images, ZoomToReference(8)([scores, images]))


@pytest.mark.slow  # three exports: about 25 s
@pytest.mark.parametrize("format", ["saved_model", "onnx", "litert"])
def test_the_pyramid_pooling_module_exports_at_any_size(small_pyramid_net, format, tmp_path):
    # The registry-wide export test leaves PSPNet-50 out for time (its OpenVINO export takes
    # about 75 s on two cores): its backbone exports as every ResNet's does, and its pyramid
    # pooling module is this. OpenVINO reads the same SavedModel graph (about 20 s more).
    assert all(
        type(small_pyramid_net.get_layer(f"conv5_3_pool{bins}")) is AdaptiveAveragePooling
        for bins in (1, 2, 3, 6)
    )
    sizes = [(45, 37)] if format == "litert" else [(45, 37), (29, 62)]
    path = export_model(small_pyramid_net, str(tmp_path), format, input_size=sizes[0])
    predictor = load_predictor(path)
    for height, width in sizes:
        image = np.random.default_rng(height).integers(0, 256, (1, height, width, 3), "uint8")
        logits = small_pyramid_net(image.astype("float32"))
        expected = keras.ops.convert_to_numpy(logits).argmax(-1)
        assert len(np.unique(expected)) > 1
        assert np.mean(predictor(image) == expected) > 0.99
