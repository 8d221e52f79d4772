"""`keras_fcn.backbones.resnet`: keras.applications' ResNet50 reproduced and loaded by name,
parameter counts from the layer lists, output strides and dilation rules, and values against
raw-op references of torchvision's ResNet and DeepLab v2's prototxt (`resnet_reference`).

Tests marked `backends` also run with `KERAS_BACKEND=jax` and `torch` (see tests/conftest.py).
"""

import dataclasses

import keras
import numpy as np
import pytest
import resnet_reference
from random_weights import randomize_batch_normalization

from keras_fcn.backbones.resnet import (
    CAFFE_DEEPLAB_V2,
    KERAS_APPLICATIONS,
    PSPNET_50,
    PSPNET_101,
    TORCHVISION,
    ResNetLayout,
    resnet,
)


def build(layout=KERAS_APPLICATIONS, shape=(None, None, 3), **options) -> keras.Model:
    """`resnet` as a model of all its pyramid levels."""
    images = keras.Input(shape)
    return keras.Model(images, resnet(images, layout=layout, **options))


def weighted_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    return {layer.name: layer for layer in model.layers if layer.weights}


def layer_names(model: keras.Model) -> set[str]:
    return {layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)}


@pytest.fixture(scope="module")
def application():
    """keras.applications' ResNet50 without its classifier, with random weights and batch
    normalization statistics."""
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(None, None, 3)
    )
    randomize_batch_normalization(model, seed=0, scale=(0.2, 1.0), shift=0.2)
    return model


def test_keras_applications_layout_is_resnet50_layer_for_layer(application):
    model = build(depth=50, output_stride=32)
    assert layer_names(model) == layer_names(application)
    ours, theirs = weighted_layers(model), weighted_layers(application)
    assert ours.keys() == theirs.keys()
    for name, layer in theirs.items():
        ours[name].set_weights(layer.get_weights())  # by name; refuses a shape mismatch
    # 67 × 75 is odd, and pool1's input (34 × 38) even, where its rounding matters.
    x = np.random.default_rng(1).normal(0, 50, (1, 67, 75, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(application(x))
    actual = keras.ops.convert_to_numpy(model(x)["P5"])
    assert actual.shape == expected.shape == (1, 3, 3, 2048)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_weights_load_from_a_keras_applications_file_by_name(application, tmp_path):
    path = tmp_path / "resnet50_notop.weights.h5"
    application.save_weights(path)
    images = keras.Input((None, None, 3))
    model = keras.Model(images, resnet(images, weights=str(path))["P5"])
    ours = weighted_layers(model)
    assert ours.keys() == weighted_layers(application).keys()
    for name, layer in weighted_layers(application).items():
        for actual, expected in zip(ours[name].get_weights(), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(actual, expected)


def test_a_bias_free_layout_takes_the_biases_into_its_batch_normalization(tmp_path):
    # keras.applications' ResNet50 with random conv biases and statistics, loaded into the
    # bias-free DeepLab v2 layout (made to pad and pool as keras.applications does): each bias
    # goes into the moving mean after it, the epsilon 1.001e-5 into the moving variance.
    keras.utils.set_random_seed(5)
    application = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(None, None, 3)
    )
    rng = np.random.default_rng(5)
    for layer in application.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.5, bias.shape).astype("float32")])
        elif isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.2, 1.0, channels),
                    rng.normal(0, 0.2, channels),
                    rng.normal(0, 0.5, channels),
                    rng.uniform(0.5, 2.0, channels),
                ]
            )
    path = tmp_path / "resnet50_notop.weights.h5"
    application.save_weights(path)
    layout = dataclasses.replace(CAFFE_DEEPLAB_V2, symmetric_padding=False, ceil_mode=False)
    model = build(layout, depth=50, weights=str(path))
    assert not model.get_layer("conv1_conv").use_bias
    x = np.random.default_rng(6).normal(0, 50, (1, 67, 75, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(application(x))
    actual = keras.ops.convert_to_numpy(model(x)["P5"])
    assert resnet_reference.relative_error(actual, expected) <= 1e-5
    conv1_bias = application.get_layer("conv1_conv").get_weights()[1]
    np.testing.assert_allclose(
        model.get_layer("conv1_bn").moving_mean.numpy(),
        application.get_layer("conv1_bn").moving_mean.numpy() - conv1_bias,
        rtol=1e-6,
    )


BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
"""Blocks of conv2 … conv5 (He et al., table 1)."""


def bottleneck_parameters(depth: int, bias: bool, deep_stem: bool = False) -> int:
    """The Keras count of a ResNet without fc from its layer list (He et al., table 1).

    Stem: 7·7·3·64 = 9,408, or 3·3·3·64 + 3·3·64·64 + 3·3·64·128 = 112,320 for the deep stem.
    A stage of width w, input c and n blocks: block 1 is 1×1 c→w, 3×3 w→w, 1×1 w→4w and the
    projection c→4w, 5cw + 13w²; blocks 2 … n are 4w→w, 3×3, w→4w, 17w² each. ResNet-50:
    9,408 + (73,728 + 2·69,632) + (376,832 + 3·278,528) + (1,507,328 + 5·1,114,112)
    + (6,029,312 + 2·4,456,448) = 23,454,912 conv weights. Every conv has a BN of its output
    channels: stem 64 (deep 64 + 64 + 128), a stage 6w per block + 4w; ResNet-50 26,560. The
    Keras count adds 4 per BN channel (γ, β, mean, variance) and 1 with biases.
    """
    stem_channels = (64, 64, 128) if deep_stem else (64,)
    convs = 112_320 if deep_stem else 9_408
    channels = sum(stem_channels)
    inputs = stem_channels[-1]
    for width, blocks in zip((64, 128, 256, 512), BLOCKS[depth], strict=True):
        convs += 5 * inputs * width + 13 * width**2 + (blocks - 1) * 17 * width**2
        channels += blocks * 6 * width + 4 * width
        inputs = 4 * width
    return convs + (5 if bias else 4) * channels


@pytest.mark.parametrize(
    "layout, depth, expected",
    [
        # keras.applications' ResNet50 notop (RESNET_ERA.md §1.1): 23,454,912 + 5 · 26,560.
        (KERAS_APPLICATIONS, 50, 23_587_712),
        # Bias-free (§1.1, = keras-hub's presets): 23,454,912 + 4 · 26,560, ...
        (CAFFE_DEEPLAB_V2, 50, 23_561_152),
        (CAFFE_DEEPLAB_V2, 101, 42_605_504),
        (TORCHVISION, 152, 58_295_232),
        # PSPNet-50's 46,841,174 (§4.3) less its head: PPM 4 · (2048·512 + 4·512), conv5_4
        # 9·4096·512 + 4·512, conv6 512·150 + 150 = 23,155,862. The deep stem adds
        # 112,320 − 9,408 conv weights, 4 · 192 BN statistics, and conv2_block1's 128 inputs
        # 5·64·(128 − 64) = 20,480 weights to 23,561,152.
        (PSPNET_50, 50, 23_685_312),
    ],
)
def test_parameter_counts_follow_the_layer_lists(layout, depth, expected):
    deep_stem = layout.stem == "deep"
    assert bottleneck_parameters(depth, layout.use_bias, deep_stem) == expected
    model = build(layout, depth=depth, kernel_initializer="zeros")
    assert model.count_params() == expected


def test_deep_stem_feeds_128_channels_to_conv2():
    model = build(PSPNET_101, depth=50, kernel_initializer="zeros")
    assert [model.get_layer(f"conv1_{i}_3x3").kernel.shape for i in (1, 2, 3)] == [
        (3, 3, 3, 64),
        (3, 3, 64, 64),
        (3, 3, 64, 128),
    ]
    assert model.get_layer("conv1_1_3x3").strides == (2, 2)
    assert model.get_layer("conv2_block1_0_conv").kernel.shape == (1, 1, 128, 256)
    assert model.get_layer("conv2_block1_1_conv").kernel.shape == (1, 1, 128, 64)
    assert model.outputs[0].shape[-1] == 128  # P1, the stem's last ReLU


# 65 × 97: conv1 and pool1 → 33 × 49 and 17 × 25 (P1, P2); each stride halves, rounding up:
# 1/8 = 9 × 13, 1/16 = 5 × 7, 1/32 = 3 × 4.
SIZES = {
    32: {"P1": (33, 49), "P2": (17, 25), "P3": (9, 13), "P4": (5, 7), "P5": (3, 4)},
    16: {"P1": (33, 49), "P2": (17, 25), "P3": (9, 13), "P4": (5, 7), "P5": (5, 7)},
    8: {"P1": (33, 49), "P2": (17, 25), "P3": (9, 13), "P4": (9, 13), "P5": (9, 13)},
}


def rates(model, stage, blocks):
    return tuple(model.get_layer(f"conv{stage}_block{b}_2_conv").dilation_rate[0] for b in blocks)


def strides(model, stage):
    return {
        conv: model.get_layer(f"conv{stage}_block1_{conv}_conv").strides[0] for conv in (0, 1, 2)
    }


@pytest.mark.parametrize(
    "layout, output_stride, multi_grid, conv4_rates, conv5_rates",
    [
        (KERAS_APPLICATIONS, 32, (1, 1, 1), (1,) * 6, (1, 1, 1)),
        # The "new" rule (DeepLab v2, PSPNet): the stage's first block takes its new rate.
        (CAFFE_DEEPLAB_V2, 16, (1, 1, 1), (1,) * 6, (2, 2, 2)),
        (CAFFE_DEEPLAB_V2, 8, (1, 1, 1), (2,) * 6, (4, 4, 4)),
        # torchvision's `previous_dilation`: the first block keeps the stage before's rate.
        (TORCHVISION, 16, (1, 1, 1), (1,) * 6, (1, 2, 2)),
        (TORCHVISION, 8, (1, 1, 1), (1,) + (2,) * 5, (2, 4, 4)),
        # DeepLab v3's multi-grid: (2, 4, 8) at 16, (4, 8, 16) at 8 (tensorflow/models
        # research/slim/nets/resnet_utils.py, RESNET_ERA.md §1.2).
        (KERAS_APPLICATIONS, 16, (1, 2, 4), (1,) * 6, (2, 4, 8)),
        (KERAS_APPLICATIONS, 8, (1, 2, 4), (2,) * 6, (4, 8, 16)),
    ],
)
def test_output_stride_sets_sizes_strides_and_rates(
    layout, output_stride, multi_grid, conv4_rates, conv5_rates
):
    model = build(
        layout,
        (65, 97, 3),
        output_stride=output_stride,
        multi_grid=multi_grid,
        kernel_initializer="zeros",
    )
    sizes = {level: tuple(output.shape[1:3]) for level, output in model.output.items()}
    assert sizes == SIZES[output_stride]
    assert rates(model, 2, range(1, 4)) == (1, 1, 1)
    assert rates(model, 3, range(1, 5)) == (1, 1, 1, 1)
    assert rates(model, 4, range(1, 7)) == conv4_rates
    assert rates(model, 5, range(1, 4)) == conv5_rates
    strided_conv = 1 if layout.stride_in == "1x1" else 2
    for stage, stage_stride in ((3, 8), (4, 16), (5, 32)):
        stride = 2 if stage_stride <= output_stride else 1
        expected = {0: stride, 1: 1, 2: 1} | {strided_conv: stride}
        assert strides(model, stage) == expected


def forward(model, images_nchw) -> dict[str, np.ndarray]:
    """The model's pyramid on NCHW images, NCHW."""
    outputs = model(np.transpose(images_nchw, (0, 2, 3, 1)).astype("float32"))
    return {
        level: np.transpose(keras.ops.convert_to_numpy(value), (0, 3, 1, 2))
        for level, value in outputs.items()
    }


def load_reference_parameters(model, parameters):
    weights = resnet_reference.keras_weights(parameters)
    assert weights.keys() == weighted_layers(model).keys()
    for name, layer_weights in weights.items():
        model.get_layer(name).set_weights(layer_weights)


# 33 × 39: conv1 gives 17 × 20, so pool1's input has an even side (Caffe's rounding up gives
# 11 columns, rounding down 10) and so has layer2's strided 3×3 input in torchvision (10),
# where Keras' "same" padding would pad the right only.
REFERENCE_IMAGES = np.random.default_rng(2).normal(0, 1, (1, 3, 33, 39))


def assert_layout_computes_the_reference(layout, reference, parameters):
    """`layout` at depth 50 and output stride 8, with `parameters`, computes every pyramid level
    of `reference` on REFERENCE_IMAGES (relative error at most 1e-5); returns those levels."""
    expected = reference(REFERENCE_IMAGES, parameters)
    model = build(layout, depth=50, output_stride=8)
    load_reference_parameters(model, parameters)
    actual = forward(model, REFERENCE_IMAGES)
    for level in expected:
        assert actual[level].shape == expected[level].shape
        assert resnet_reference.relative_error(actual[level], expected[level]) <= 1e-5, level
    return expected


def test_torchvision_layout_computes_torchvision_resnet50_at_output_stride_8():
    parameters = resnet_reference.random_parameters(np.random.default_rng(3))
    expected = assert_layout_computes_the_reference(
        TORCHVISION, resnet_reference.torchvision_resnet50, parameters
    )
    assert expected["P5"].shape[2:] == (5, 5)
    # Keras' "same" padding of conv3_block1's strided 3×3 (10 columns) pads the right only.
    asymmetric = build(dataclasses.replace(TORCHVISION, symmetric_padding=False), output_stride=8)
    load_reference_parameters(asymmetric, parameters)
    assert (
        resnet_reference.relative_error(forward(asymmetric, REFERENCE_IMAGES)["P5"], expected["P5"])
        > 1e-2
    )


@pytest.mark.backends
def test_caffe_deeplab_v2_layout_computes_its_prototxt_at_output_stride_8():
    parameters = resnet_reference.random_parameters(np.random.default_rng(4))
    expected = assert_layout_computes_the_reference(
        CAFFE_DEEPLAB_V2, resnet_reference.deeplab_v2_resnet, parameters
    )
    # pool1 rounds 17 × 20 up to 9 × 11 (down would give 9 × 10); conv3 halves it to 5 × 6.
    assert expected["P2"].shape[2:] == (9, 11)
    assert expected["P5"].shape[2:] == (5, 6)


@pytest.mark.parametrize(
    "arguments, value",
    [
        ({"output_stride": 4}, "received 4"),
        ({"depth": 34}, "received 34"),
        ({"multi_grid": (1, 2)}, r"\(1, 2\)"),
        ({"layout": TORCHVISION, "multi_grid": (2, 2, 2)}, r"\(2, 2, 2\)"),
        ({"weights": "missing.h5"}, "missing.h5"),
        ({"weights": "imagenet", "layout": TORCHVISION}, "use_bias=False"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, value):
    with pytest.raises(ValueError, match=value):
        resnet(keras.Input((None, None, 3)), **arguments)


def test_unknown_layout_choices_are_refused_by_name():
    with pytest.raises(ValueError, match="'5x5'"):
        dataclasses.replace(KERAS_APPLICATIONS, stem="5x5")
    with pytest.raises(ValueError, match="'2x2'"):
        ResNetLayout("2x2", "new", "7x7", True, 1e-5, True, False)
