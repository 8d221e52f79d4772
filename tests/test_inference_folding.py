"""Batch normalization folded into convolutions: the formula, which pairs fold, the ResNet nets,
dilated convolutions as `DilatedConv2D`, and every path that runs the folded copy (evaluation,
the in-process predictor, the exports)."""

import export_checks
import keras
import numpy as np
import pytest

from keras_fcn import registry
from keras_fcn.export import export_model, in_process_model, load_predictor, segmenter
from keras_fcn.inference import foldable_pairs, inference_copy, logits_function
from keras_fcn.inference.folding import TAP_SUM_INPUT_CHANNELS
from keras_fcn.layers import DilatedConv2D, MatmulConv2D, TapSumConv2D

EPSILON = 1e-3


def randomize_batch_normalization(model, seed=0):
    """Gives every batch normalization of `model` random γ, β, mean and variance."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            values = {
                "gamma": rng.uniform(0.5, 1.5, channels),
                "beta": rng.normal(0, 0.5, channels),
                "moving_mean": rng.normal(0, 0.5, channels),
                "moving_variance": rng.uniform(0.2, 3.0, channels),
            }
            layer.set_weights([values[w.name] for w in layer.weights])
    return model


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return np.abs(actual - expected).max() / np.abs(expected).max()


def conv_bn(convolution, normalization=None):
    images = keras.Input((None, None, 3))
    features = convolution(images)
    normalization = normalization or keras.layers.BatchNormalization(epsilon=EPSILON, name="bn")
    return keras.Model(images, keras.layers.ReLU()(normalization(features)))


@pytest.mark.parametrize(
    "convolution",
    [
        keras.layers.Conv2D(6, 3, use_bias=False, name="conv"),
        keras.layers.Conv2D(6, 3, padding="same", dilation_rate=2, name="conv"),
        keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="conv"),
    ],
    ids=["conv", "conv-bias-dilated", "depthwise"],
)
def test_folded_weights_are_the_formula_and_compute_the_same(convolution):
    model = randomize_batch_normalization(conv_bn(convolution))
    conv = model.get_layer("conv")
    conv.set_weights([np.random.default_rng(1).normal(size=w.shape) for w in conv.weights])
    bn = {w.name: np.asarray(w, np.float64) for w in model.get_layer("bn").weights}
    scale = bn["gamma"] / np.sqrt(bn["moving_variance"] + EPSILON)
    kernel = np.asarray(conv.kernel, np.float64)
    bias = np.asarray(conv.bias, np.float64) if conv.use_bias else 0.0

    folded = inference_copy(model)

    assert "bn" not in [layer.name for layer in folded.layers]
    new_kernel, new_bias = folded.get_layer("conv").get_weights()
    np.testing.assert_allclose(
        new_kernel,
        kernel
        * scale.reshape(
            kernel.shape[-2:] if isinstance(conv, keras.layers.DepthwiseConv2D) else -1
        ),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        new_bias, (bias - bn["moving_mean"]) * scale + bn["beta"], rtol=1e-6, atol=1e-7
    )
    images = np.random.default_rng(2).normal(size=(2, 9, 11, 3)).astype("float32")
    assert relative_error(folded(images), model(images, training=False)) < 1e-5


def test_pairs_that_do_not_fold_are_left_as_they_are():
    images = keras.Input((5, 7, 4))
    activated = keras.layers.Conv2D(4, 1, activation="relu", name="activated")(images)
    after_activation = keras.layers.BatchNormalization(name="bn_after_activation")(activated)
    shared = keras.layers.Conv2D(4, 1, name="shared")(images)
    read_twice = keras.layers.BatchNormalization(name="bn_read_twice")(shared)
    summed = keras.layers.Add(name="add")([after_activation, read_twice, shared])
    after_add = keras.layers.BatchNormalization(name="bn_after_add")(summed)
    channels_first = keras.layers.BatchNormalization(axis=1, name="bn_axis_1")(after_add)
    model = randomize_batch_normalization(keras.Model(images, channels_first))

    assert foldable_pairs(model) == {}
    assert inference_copy(model) is model


def test_dilated_convolutions_run_as_dilated_conv2d_in_the_copy():
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", dilation_rate=6, name="dilated")(images)
    x = keras.layers.Conv2D(4, 3, dilation_rate=(1, 2), name="valid_dilated")(x)
    x = MatmulConv2D(4, 3, padding="same", dilation_rate=2, name="matmul")(x)  # its own class
    x = keras.layers.Conv2D(4, 3, padding="same", name="undilated")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", dilation_rate=2, groups=2, name="grouped")(x)
    model = keras.Model(images, x)
    rng = np.random.default_rng(4)
    for layer in model.layers:
        layer.set_weights([rng.normal(size=w.shape) for w in layer.weights])

    folded = inference_copy(model)  # no batch normalization: still a copy

    types = {layer.name: type(layer) for layer in folded.layers[1:]}
    assert types == {
        "dilated": DilatedConv2D,
        "valid_dilated": DilatedConv2D,
        "matmul": MatmulConv2D,
        "undilated": keras.layers.Conv2D,
        "grouped": keras.layers.Conv2D,
    }
    for size in ((5, 7), (13, 16)):  # rate 6 beyond and within the map
        x = rng.uniform(-1, 1, (1, *size, 3)).astype("float32")
        assert relative_error(folded(x), model(x)) < 1e-5


def test_convolutions_from_wide_inputs_run_as_tap_sums_in_the_copy():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the copy swaps convolutions on TensorFlow only")
    wide = keras.Input((None, None, TAP_SUM_INPUT_CHANNELS))
    branches = {
        "aspp": keras.layers.Conv2D(4, 3, padding="same", dilation_rate=6),  # 36 ≤ 2048
        "head": keras.layers.Conv2D(300, 3, padding="same"),  # undilated
        "wide_dilated": keras.layers.Conv2D(300, 3, padding="same", dilation_rate=2),  # 2700
        "strip": keras.layers.Conv2D(4, (5, 1), padding="same"),  # not square
        "pointwise": keras.layers.Conv2D(4, 1),
    }
    model = keras.Model(wide, [layer(wide) for layer in branches.values()])
    for name, layer in branches.items():
        layer.name = name
    rng = np.random.default_rng(5)
    for layer in model.layers[1:]:
        layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])

    copy = inference_copy(model)

    assert {layer.name: type(layer) for layer in copy.layers[1:]} == {
        "aspp": TapSumConv2D,
        "head": TapSumConv2D,
        "wide_dilated": DilatedConv2D,
        "strip": keras.layers.Conv2D,
        "pointwise": keras.layers.Conv2D,
    }
    x = rng.uniform(-1, 1, (1, 5, 7, TAP_SUM_INPUT_CHANNELS)).astype("float32")
    for ours, theirs in zip(copy(x), model(x), strict=True):
        assert relative_error(ours, theirs) < 1e-5


def test_a_resnet_net_folds_every_batch_normalization_and_keeps_its_logits():
    model = registry.build("deeplabv3-resnet50", num_classes=3, weights=None, output_stride=16)
    randomize_batch_normalization(model)
    normalizations = [
        layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]

    folded = inference_copy(model)

    assert len(normalizations) == 59 and sorted(foldable_pairs(model)) == sorted(normalizations)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert len(folded.layers) == len(model.layers) - len(normalizations)
    images = np.random.default_rng(0).uniform(0, 255, (1, 45, 37, 3)).astype("float32")
    expected = model(images, training=False)
    assert relative_error(folded(images), expected) < 1e-5


def test_the_copy_shares_no_variable_and_the_model_is_unchanged():
    model = randomize_batch_normalization(conv_bn(keras.layers.Conv2D(6, 3, name="conv")))
    before = [np.array(w) for w in model.weights]

    folded = inference_copy(model)

    assert not {id(w) for w in folded.weights} & {id(w) for w in model.weights}
    for weight, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(weight, value)


def test_evaluation_predictors_and_exports_run_the_folded_model():
    model = randomize_batch_normalization(conv_bn(keras.layers.Conv2D(6, 3, name="conv")))

    for wrapped in (in_process_model(model, "float32"), segmenter(model)):
        assert not any(
            isinstance(layer, keras.layers.BatchNormalization) for layer in wrapped.layers
        )
    images = np.random.default_rng(0).uniform(0, 255, (1, 9, 11, 3)).astype("float32")
    expected = model(images, training=False)
    assert relative_error(logits_function(model)(images), expected) < 1e-5
    assert relative_error(in_process_model(model, "float32")(images), expected) < 1e-5


@pytest.fixture(scope="module")
def small_resnet_net():
    """torchvision's DeepLabV3 on ResNet-50, batch normalization randomized (random weights)."""
    model = registry.build("torchvision-deeplabv3-resnet50", num_classes=3, weights=None)
    return randomize_batch_normalization(model, seed=3)


@pytest.mark.slow  # three conversions of a ResNet-50 net: tens of seconds
@pytest.mark.parametrize("format", ["onnx", "openvino", "litert"])
def test_a_resnet_net_exports_folded_and_segments_like_the_model(
    small_resnet_net, format, tmp_path
):
    input_size = (40, 40) if format == "litert" else None

    path = export_model(small_resnet_net, str(tmp_path / "net"), format, input_size=input_size)

    export_checks.assert_function_segments_like_keras(load_predictor(path), small_resnet_net)
