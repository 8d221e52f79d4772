"""`keras_fcn.models.deeplab_v3`: DeepLab v3's and torchvision's nets, their parameter counts from
the layer lists, output sizes and output strides, and their values against raw-op references of
their forward passes (`deeplab_v3_reference`, from tensorflow/models' DeepLab; and
`torchvision_segmentation_reference`)."""

import deeplab_v3_reference
import keras
import numpy as np
import pytest
import resnet_reference
import torchvision_segmentation_reference as reference

from keras_fcn.models.deeplab_v3 import (
    DeepLabV3,
    TorchvisionDeepLabV3,
    TorchvisionFCN,
)

NUM_CLASSES = 21

BACKBONE_CONV_WEIGHTS = {50: 23_454_912, 101: 42_394_816}
"""Conv weights of the bottleneck ResNets without fc (RESNET_ERA.md §1.1, from He et al.'s
table 1; `test_backbones_resnet.bottleneck_parameters` writes out the sum)."""

BACKBONE_BN_CHANNELS = {50: 26_560, 101: 52_672}
"""Channels of their batch normalizations: one per conv output channel."""


def trainable_parameters(model: keras.Model, prefix: str = "") -> int:
    return sum(
        int(np.prod(variable.shape))
        for layer in model.layers
        if layer.name.startswith(prefix)
        for variable in layer.trainable_weights
    )


def batch_norm_channels(model: keras.Model) -> int:
    return sum(
        layer.gamma.shape[0]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )


def aspp_parameters(in_channels: int) -> tuple[int, int]:
    """Conv weights and BN channels of the ASPP: 1×1, three 3×3, pooling 1×1, each
    in_channels → 256, and the projection 5 · 256 → 256, six BNs of 256."""
    convs = 256 * in_channels * (1 + 3 * 9 + 1) + 5 * 256 * 256
    return convs, 6 * 256


def fcn_head_parameters(in_channels: int) -> tuple[int, int]:
    """FCNHead: 3×3 in_channels → in_channels / 4 without bias, its BN, 1×1 to the classes with
    bias."""
    inter = in_channels // 4
    return 9 * in_channels * inter + (inter + 1) * NUM_CLASSES, inter


@pytest.mark.parametrize(
    "backbone, depth, trainable, total",
    [
        # Backbone: keras.applications' notop, conv biases included: 23,454,912 + 26,560
        # (biases) + 2 · 26,560 (γ, β) = 23,534,592. Head: ASPP 2048 · 256 · 29 + 1,280 · 256
        # = 15,532,032 conv weights + 2 · 1,536 (γ, β) + logits 256 · 21 + 21 = 15,540,501.
        # count_params adds the moving mean and variance, 2 · (26,560 + 1,536).
        ("resnet50", 50, 39_075_093, 39_131_285),
        # 42,394,816 + 3 · 52,672 = 42,552,832; + 15,540,501; + 2 · (52,672 + 1,536).
        ("resnet101", 101, 58_093_333, 58_201_749),
    ],
)
def test_paper_parameter_counts_follow_the_layer_list(backbone, depth, trainable, total):
    aspp_convs, aspp_channels = aspp_parameters(2048)
    logits = 256 * NUM_CLASSES + NUM_CLASSES
    channels = BACKBONE_BN_CHANNELS[depth]
    expected = BACKBONE_CONV_WEIGHTS[depth] + 3 * channels + aspp_convs + 2 * aspp_channels + logits
    assert expected == trainable
    assert expected + 2 * (channels + aspp_channels) == total
    model = DeepLabV3(NUM_CLASSES, backbone=backbone, weights=None, kernel_initializer="zeros")
    assert trainable_parameters(model) == trainable
    assert model.count_params() == total


@pytest.mark.parametrize(
    "builder, depth, num_params, without_aux",
    [
        # Bias-free backbone: conv weights + 2 · BN channels (23,508,032 / 42,500,160).
        # FCNHead(2048): 9 · 2048 · 512 + 513 · 21 = 9,447,957 + 2 · 512.
        (TorchvisionFCN, 50, 35_322_218, 32_957_013),
        (TorchvisionFCN, 101, 54_314_346, 51_949_141),
        # DeepLabHead: ASPP 15,532,032 + 2 · 1,536; 3×3 256 → 256 589,824 + 2 · 256; 257 · 21.
        (TorchvisionDeepLabV3, 50, 42_004_074, 39_638_869),
        (TorchvisionDeepLabV3, 101, 60_996_202, 58_630_997),
    ],
)
def test_torchvision_parameter_counts_are_its_num_params(builder, depth, num_params, without_aux):
    # num_params counts the trainable parameters of the released nets, aux head included:
    # FCNHead(1024), 9 · 1024 · 256 + 257 · 21 + 2 · 256 = 2,365,205.
    aux_convs, aux_channels = fcn_head_parameters(1024)
    aux = aux_convs + 2 * aux_channels
    backbone = BACKBONE_CONV_WEIGHTS[depth] + 2 * BACKBONE_BN_CHANNELS[depth]
    if builder is TorchvisionFCN:
        convs, channels = fcn_head_parameters(2048)
        head = convs + 2 * channels
    else:
        convs, channels = aspp_parameters(2048)
        head = convs + 2 * channels + 9 * 256 * 256 + 2 * 256 + 257 * NUM_CLASSES
    assert (backbone + head, backbone + head + aux) == (without_aux, num_params)
    model = builder(NUM_CLASSES, depth=depth, aux=True, kernel_initializer="zeros")
    assert trainable_parameters(model) == num_params
    assert trainable_parameters(model, "aux_") == aux
    # count_params adds each BN's moving mean and variance.
    assert model.count_params() == num_params + 2 * batch_norm_channels(model)


TORCHVISION_HEAD_NAMES = {
    "fcn": {
        "classifier.0": "head_conv",
        "classifier.1": "head_bn",
        "classifier.4": "logits",
    },
    "deeplabv3": {
        **{f"classifier.0.convs.{i}.0": f"aspp_{i}_conv" for i in range(4)},
        **{f"classifier.0.convs.{i}.1": f"aspp_{i}_bn" for i in range(4)},
        "classifier.0.convs.4.1": "aspp_pooling_conv",
        "classifier.0.convs.4.2": "aspp_pooling_bn",
        "classifier.0.project.0": "aspp_projection_conv",
        "classifier.0.project.1": "aspp_projection_bn",
        "classifier.1": "head_conv",
        "classifier.2": "head_bn",
        "classifier.4": "logits",
    },
}
"""torchvision's head modules (state-dict key prefixes) and the layers that hold them."""

AUX_NAMES = {
    "aux_classifier.0": "aux_head_conv",
    "aux_classifier.1": "aux_head_bn",
    "aux_classifier.4": "aux_logits",
}


def keras_weights(parameters: dict, head: str) -> dict[str, list[np.ndarray]]:
    """torchvision's parameters as Keras layers' weights by layer name: the backbone's by
    `resnet_reference.keras_weights`, the heads' by `TORCHVISION_HEAD_NAMES`."""
    heads = ("classifier.", "aux_classifier.")
    backbone = {name: value for name, value in parameters.items() if not name.startswith(heads)}
    weights = resnet_reference.keras_weights(backbone)
    for module, layer in {**TORCHVISION_HEAD_NAMES[head], **AUX_NAMES}.items():
        if f"{module}.running_mean" in parameters:
            keys = ("weight", "bias", "running_mean", "running_var")
            weights[layer] = [parameters[f"{module}.{key}"].astype("float32") for key in keys]
        elif f"{module}.weight" in parameters:
            kernel = parameters[f"{module}.weight"].transpose(2, 3, 1, 0)
            bias = [parameters[f"{module}.bias"]] if f"{module}.bias" in parameters else []
            weights[layer] = [value.astype("float32") for value in (kernel, *bias)]
    return weights


# 35 × 45: conv1 18 × 23, pool1 9 × 12, then 1/8: 5 × 6 (conv3's strided 3×3 on an even side).
IMAGES = np.random.default_rng(5).uniform(0, 255, (1, 3, 35, 45))


@pytest.mark.parametrize("aux", [False, True])
@pytest.mark.parametrize(
    "head, builder", [("fcn", TorchvisionFCN), ("deeplabv3", TorchvisionDeepLabV3)]
)
def test_torchvision_nets_compute_torchvisions_forward_pass(head, builder, aux):
    parameters = reference.random_parameters(np.random.default_rng(6), head, NUM_CLASSES, aux)
    expected = reference.segmentation_model(IMAGES, parameters, head)
    model = builder(NUM_CLASSES, depth=50, aux=aux)
    weights = keras_weights(parameters, head)
    weighted = {layer.name for layer in model.layers if layer.weights}
    assert weights.keys() == weighted
    for name, layer_weights in weights.items():
        model.get_layer(name).set_weights(layer_weights)
    outputs = model(np.transpose(IMAGES, (0, 2, 3, 1)).astype("float32"))
    outputs = outputs if aux else {"out": outputs}
    assert outputs.keys() == expected.keys()
    for key, value in outputs.items():
        actual = np.transpose(keras.ops.convert_to_numpy(value), (0, 3, 1, 2))
        assert value.dtype == "float32" and actual.shape == expected[key].shape == (1, 21, 35, 45)
        assert resnet_reference.relative_error(actual, expected[key]) <= 1e-5, key


HEAD_BATCH_NORMALIZATIONS = (
    "aspp_pooling_bn",
    *(f"aspp_{i}_bn" for i in range(4)),
    "aspp_projection_bn",
)


@pytest.fixture(scope="module")
def paper_nets(tmp_path_factory):
    """DeepLab v3 on ResNet-50 at output stride 16 with random weights (the head's batch
    normalizations with random statistics, the logits with a random bias), and the same weights
    loaded into a net built at output stride 8."""
    keras.utils.set_random_seed(7)
    os16 = DeepLabV3(3, weights=None, output_stride=16)
    rng = np.random.default_rng(11)
    for name in HEAD_BATCH_NORMALIZATIONS:  # statistics that make epsilon and order count
        channels = os16.get_layer(name).gamma.shape[0]
        os16.get_layer(name).set_weights(
            [
                rng.uniform(0.5, 1.5, channels),
                rng.normal(0, 0.5, channels),
                rng.normal(0, 0.5, channels),
                rng.uniform(0.01, 2.0, channels),
            ]
        )
    logits = os16.get_layer("logits")
    logits.set_weights([logits.get_weights()[0], rng.normal(0, 0.1, logits.bias.shape)])
    path = tmp_path_factory.mktemp("deeplab_v3") / "os16.weights.h5"
    os16.save_weights(path)
    os8 = DeepLabV3(3, weights=None, output_stride=8)
    os8.load_weights(path)
    return {16: os16, 8: os8}


TF_DEEPLAB_SCOPES = {
    "image_pooling": "aspp_pooling",
    "aspp0": "aspp_0",
    "aspp1": "aspp_1",
    "aspp2": "aspp_2",
    "aspp3": "aspp_3",
    "concat_projection": "aspp_projection",
}
"""TF DeepLab's head scopes (`core/model.py`) and the prefixes of the layers that hold them."""


def tf_deeplab_parameters(model: keras.Model) -> dict[str, np.ndarray]:
    """The head's weights of `model`, read by layer name, under TF DeepLab's variable names."""
    parameters = {}
    for scope, prefix in TF_DEEPLAB_SCOPES.items():
        (parameters[f"{scope}/weights"],) = model.get_layer(f"{prefix}_conv").get_weights()
        gamma, beta, mean, variance = model.get_layer(f"{prefix}_bn").get_weights()
        parameters[f"{scope}/BatchNorm/gamma"], parameters[f"{scope}/BatchNorm/beta"] = gamma, beta
        parameters[f"{scope}/BatchNorm/moving_mean"] = mean
        parameters[f"{scope}/BatchNorm/moving_variance"] = variance
    kernel, bias = model.get_layer("logits").get_weights()
    parameters["logits/semantic/weights"], parameters["logits/semantic/biases"] = kernel, bias
    return parameters


@pytest.mark.parametrize(
    "output_stride, rates",
    # 321 × 289 (DeepLab's k · output stride + 1): conv5 at 21 × 19 (1/16) or 41 × 37 (1/8),
    # wider than every rate, so that each 3×3 branch has taps both inside the map and in the
    # padding.
    [(16, (6, 12, 18)), (8, (12, 24, 36))],
)
def test_paper_net_computes_tf_deeplabs_head(paper_nets, output_stride, rates):
    model = paper_nets[output_stride]
    conv5 = model.get_layer("aspp_0_conv").input
    both = keras.Model(model.input, [conv5, model.output])
    images = np.random.default_rng(12).uniform(0, 255, (1, 321, 289, 3)).astype("float32")
    features, actual = (keras.ops.convert_to_numpy(x) for x in both(images))
    assert features.shape == (1, *{16: (21, 19), 8: (41, 37)}[output_stride], 2048)
    expected = deeplab_v3_reference.deeplab_v3_logits(
        features, tf_deeplab_parameters(model), rates, (321, 289)
    )
    assert actual.shape == expected.shape == (1, 321, 289, 3)
    assert resnet_reference.relative_error(actual, expected) <= 1e-5


def test_output_stride_16_weights_load_into_output_stride_8(paper_nets):
    resnet_reference.assert_same_weights(paper_nets[16], paper_nets[8])

    def rates(model, names):
        return [model.get_layer(name).dilation_rate[0] for name in names]

    aspp = [f"aspp_{i}_conv" for i in range(4)]
    conv4 = [f"conv4_block{b}_2_conv" for b in (1, 6)]
    conv5 = [f"conv5_block{b}_2_conv" for b in (1, 2, 3)]
    # Rates 6, 12, 18 at 16, doubled at 8; conv5 2 or 4 times the multi-grid (1, 2, 4).
    assert rates(paper_nets[16], aspp + conv4 + conv5) == [1, 6, 12, 18, 1, 1, 2, 4, 8]
    assert rates(paper_nets[8], aspp + conv4 + conv5) == [1, 12, 24, 36, 2, 2, 4, 8, 16]


@pytest.mark.parametrize("output_stride", [16, 8])
@pytest.mark.parametrize("size", [(35, 45), (97, 33), (1, 1)])
def test_paper_output_matches_input_size(paper_nets, output_stride, size):
    model = paper_nets[output_stride]
    images = np.random.default_rng(8).integers(0, 256, (1, *size, 3)).astype("uint8")
    logits = model(images)
    assert tuple(logits.shape) == (1, *size, 3) and logits.dtype == "float32"
    assert np.isfinite(keras.ops.convert_to_numpy(logits)).all()


@pytest.mark.parametrize("output_stride", [16, 8])
def test_paper_scores_are_at_the_output_stride(paper_nets, output_stride):
    model = paper_nets[output_stride]
    scores = keras.Model(model.input, model.get_layer("logits").output)
    # Every stride halves rounding up: 35 × 45 → 18 × 23, 9 × 12, 5 × 6 (1/8), 3 × 3 (1/16).
    expected = {16: (3, 3), 8: (5, 6)}[output_stride]
    assert tuple(scores(np.zeros((1, 35, 45, 3))).shape) == (1, *expected, 3)


def test_each_release_orders_and_normalizes_its_aspp(paper_nets):
    torchvision = TorchvisionDeepLabV3(3, kernel_initializer="zeros")

    def concatenated(model):
        node = model.get_layer("aspp_concat")._inbound_nodes[0]
        return [tensor._keras_history.operation.name for tensor in node.input_tensors]

    branches = [f"aspp_{i}_relu" for i in range(4)]
    # TF DeepLab's concatenation puts the image pooling first, torchvision's last.
    assert concatenated(paper_nets[16]) == ["aspp_pooling_resize", *branches]
    assert concatenated(torchvision) == [*branches, "aspp_pooling_resize"]
    for model, dropout, momentum in ((paper_nets[16], 0.1, 0.9997), (torchvision, 0.5, 0.9)):
        assert model.get_layer("aspp_dropout").rate == dropout
        for name in ("aspp_0_bn", "aspp_pooling_bn", "aspp_projection_bn"):
            layer = model.get_layer(name)
            assert (layer.epsilon, layer.momentum) == (1e-5, momentum)
    assert torchvision.get_layer("head_bn").epsilon == 1e-5
    assert torchvision.get_layer("conv1_bn").epsilon == 1e-5


def test_torchvision_nets_load_a_weights_file_of_their_own(tmp_path):
    keras.utils.set_random_seed(9)
    model = TorchvisionFCN(3, aux=True)
    path = tmp_path / "fcn.weights.h5"
    model.save_weights(path)
    loaded = TorchvisionFCN(3, aux=True, weights=str(path), kernel_initializer="zeros")
    images = np.random.default_rng(10).uniform(0, 255, (1, 17, 21, 3)).astype("float32")
    for key, value in model(images).items():
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded(images)[key]), keras.ops.convert_to_numpy(value)
        )


@pytest.mark.parametrize(
    "build, value",
    [
        (lambda: DeepLabV3(weights=None, output_stride=4), "received 4"),
        (lambda: DeepLabV3(weights=None, output_stride=32), "received 32"),
        (lambda: DeepLabV3(weights=None, backbone="vgg16"), "received 'vgg16'"),
        (lambda: DeepLabV3(weights=None, multi_grid=(1, 2)), r"\(1, 2\)"),
        (lambda: DeepLabV3(0, weights=None), "num_classes must be positive"),
        (lambda: TorchvisionFCN(depth=152), "depth=152"),
        (lambda: TorchvisionDeepLabV3(weights="imagenet"), "'imagenet'"),
    ],
)
def test_bad_arguments_are_clear_value_errors(build, value):
    with pytest.raises(ValueError, match=value):
        build()
