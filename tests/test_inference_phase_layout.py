"""ResNet stages on phases in the inference copy: which layers, where the maps are split and
merged, the copy's values against the model at odd and even sizes, DeepLab v2's third stage, and
which paths run phases (TensorFlow in float32) and which do not (the other runtimes' exports,
bfloat16)."""

import export_checks
import keras
import numpy as np
import pytest

from keras_fcn import registry
from keras_fcn.export import export_model, in_process_model, load_predictor, segmenter
from keras_fcn.inference import inference_copy
from keras_fcn.inference.phase_layout import PHASE_INPUT_CHANNELS, phase_layers
from keras_fcn.layers import DilatedConv2D, PhaseConv2D, PhasesToSpace, SpaceToPhases

if keras.backend.backend() != "tensorflow":
    pytest.skip("the copy runs phases on TensorFlow only", allow_module_level=True)

WIDTH = PHASE_INPUT_CHANNELS[0]
"""The 3×3 convolutions' input width: the narrowest that runs on phases."""


def relative_error(actual, expected):
    actual, expected = keras.ops.convert_to_numpy(actual), keras.ops.convert_to_numpy(expected)
    return np.abs(actual - expected).max() / np.abs(expected).max()


def block(x, name, rate=2, dtype="float32"):
    """A residual block: 1×1 (to `WIDTH`) + BN + ReLU, 3×3 at `rate` + BN, sum, ReLU."""
    layers = keras.layers
    y = layers.Conv2D(WIDTH, 1, use_bias=False, dtype=dtype, name=f"{name}_1_conv")(x)
    y = layers.BatchNormalization(dtype=dtype, name=f"{name}_1_bn")(y)
    y = layers.Activation("relu", dtype=dtype, name=f"{name}_1_relu")(y)
    y = layers.Conv2D(
        x.shape[-1],
        3,
        padding="same",
        dilation_rate=rate,
        use_bias=False,
        dtype=dtype,
        name=f"{name}_2_conv",
    )(y)
    y = layers.BatchNormalization(dtype=dtype, name=f"{name}_2_bn")(y)
    y = layers.Add(dtype=dtype, name=f"{name}_add")([x, y])
    return layers.Activation("relu", dtype=dtype, name=f"{name}_out")(y)


def stage_net(dtype="float32"):
    """Images → stem → three rate-2 blocks → a rate-4 block → logits, every layer computing in
    `dtype`, random weights (batch normalization's included)."""
    images = keras.Input((None, None, 3), name="images")
    x = keras.layers.Conv2D(8, 3, padding="same", dtype=dtype, name="stem")(images)
    for index in range(3):
        x = block(x, f"block{index}", dtype=dtype)
    x = block(x, "wide", rate=4, dtype=dtype)
    model = keras.Model(images, keras.layers.Conv2D(3, 1, name="logits")(x))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape) * 0.3 for w in layer.weights])
    return model


def count(model, layer_class):
    return sum(type(layer) is layer_class for layer in model.layers)


def test_a_dilated_stage_runs_on_phases_from_its_first_dilated_convolution_to_its_last():
    model = stage_net()

    found = phase_layers(model)
    copy = inference_copy(model)

    inner = {f"block{i}_{part}" for i in (1, 2) for part in ("1_conv", "1_bn", "1_relu")}
    sums = {f"block{i}_{part}" for i in (0, 1) for part in ("2_bn", "add", "out")}
    assert found == {"block0_2_conv", "block1_2_conv", "block2_2_conv"} | inner | sums
    types = {layer.name: type(layer) for layer in copy.layers}
    assert [name for name, kind in types.items() if kind is PhaseConv2D] == [
        "block0_2_conv",
        "block1_2_conv",
        "block2_2_conv",
    ]
    assert types["wide_2_conv"] is DilatedConv2D  # rate 4: measured no faster on phases
    # Split where the stage begins (the first 3×3's input, the first sum's other input), merged
    # where it ends (the last 3×3's output, the last sum's other input).
    assert sorted(n for n, kind in types.items() if kind is SpaceToPhases) == [
        "block0_1_relu_phases",
        "stem_phases",
    ]
    assert sorted(n for n, kind in types.items() if kind is PhasesToSpace) == [
        "block1_out_merged",
        "block2_2_conv_merged",
    ]
    rng = np.random.default_rng(1)
    for size in ((13, 9), (12, 16), (1, 3)):
        images = rng.uniform(0, 255, (2, *size, 3)).astype("float32")
        expected = model(images, training=False)
        assert relative_error(copy(images), expected) < 1e-5
        assert relative_error(inference_copy(model, phases=False)(images), expected) < 1e-5


def test_layers_that_phases_were_not_measured_faster_on_stay_as_they_are():
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(WIDTH - 1, 1, name="narrow_in")(images)
    x = keras.layers.Conv2D(WIDTH - 1, 3, padding="same", dilation_rate=2, name="narrow")(x)
    x = keras.layers.Conv2D(WIDTH, 3, padding="same", dilation_rate=2, name="to_output")(x)
    assert phase_layers(keras.Model(images, x)) == set()  # its output is the model's

    shared = keras.layers.Conv2D(WIDTH, 3, padding="same", dilation_rate=2, name="shared")
    y = keras.layers.Conv2D(WIDTH, 1, name="wide_in")(images)
    y = shared(shared(y))  # called twice
    y = keras.layers.Conv2D(WIDTH, 3, padding="valid", dilation_rate=2, name="valid")(y)
    assert phase_layers(keras.Model(images, keras.layers.Conv2D(2, 1)(y))) == set()

    z = keras.layers.Conv2D(WIDTH, 3, padding="same", dilation_rate=2, name="first")(y)
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(z)
    z = keras.layers.Add(name="broadcast")([z, pooled])  # (B, 1, 1, C) added to every pixel
    z = keras.layers.Conv2D(WIDTH, 3, padding="same", dilation_rate=2, name="second")(z)
    # Not one stage: each alone would be split and merged for one convolution.
    assert phase_layers(keras.Model(images, keras.layers.Conv2D(2, 1)(z))) == set()

    assert phase_layers(stage_net("mixed_bfloat16")) == set()
    assert phase_layers(stage_net("bfloat16")) == set()


def test_paths_run_phases_in_tensorflow_float32_only(tmp_path):
    model = stage_net()

    assert count(in_process_model(model, "float32"), PhaseConv2D) == 3
    assert count(in_process_model(model, "bfloat16"), PhaseConv2D) == 0
    exported = segmenter(model).get_layer(model.name)  # the ONNX, OpenVINO and LiteRT graph
    assert count(exported, PhaseConv2D) == count(exported, SpaceToPhases) == 0

    path = export_model(model, str(tmp_path / "net"), "saved_model")  # TF Serving: phases

    export_checks.assert_function_segments_like_keras(load_predictor(path), model)


@pytest.mark.slow  # a ResNet-101: ten seconds to build and copy
def test_deeplab_v2_runs_its_third_stage_on_phases_and_keeps_its_logits():
    model = registry.build("deeplab-aspp-resnet101", num_classes=3, weights=None)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.weights])

    copy = inference_copy(model)

    convolutions = [layer.name for layer in copy.layers if type(layer) is PhaseConv2D]
    assert convolutions == [f"conv4_block{i}_2_conv" for i in range(1, 24)]
    assert count(copy, SpaceToPhases) == count(copy, PhasesToSpace) == 2
    for size in ((97, 83), (72, 64)):
        images = rng.uniform(0, 255, (1, *size, 3)).astype("float32")
        assert relative_error(copy(images), model(images, training=False)) < 1e-5
