"""`keras_fcn.models.gcn`: GCN's head against its equations written with raw torch ops (Peng et
al., CVPR 2017, figure 2) on the backbone's stage outputs, its parameter count from the layer
list, the bilinear start of its deconvolutions, and its output size."""

import keras
import numpy as np
import pytest
import resnet_reference
import torch
from test_backbones_resnet import bottleneck_parameters
from torch.nn import functional

from keras_fcn.models.gcn import GCN

STAGE_CHANNELS = {2: 256, 3: 512, 4: 1024, 5: 2048}
"""Channels of res-2 … res-5 (the bottleneck ResNet's stage outputs)."""

STAGE_LAYERS = {
    1: "conv1_relu",
    2: "conv2_block3_out",
    3: "conv3_block4_out",
    4: "conv4_block6_out",
    5: "conv5_block3_out",
}
"""The ResNet-50 layers whose outputs GCN reads: the stem (only its size) and res-2 … res-5."""


def head_parameters(num_classes: int, k: dict[int, int]) -> int:
    """Figure 2's layer list, bias-free: per stage s a GCN block, k×1 (C_s → K) and 1×k (K → K)
    plus 1×k (C_s → K) and k×1 (K → K), 2k(C_s + K)K weights; 9 BR blocks of two 3×3 K → K,
    18K² each; 5 deconvolutions 4×4 K → K, 16K² each."""
    gcn = sum(
        2 * k[s] * (channels + num_classes) * num_classes for s, channels in STAGE_CHANNELS.items()
    )
    return gcn + 9 * 18 * num_classes**2 + 5 * 16 * num_classes**2


def head_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if layer.name.startswith(("gcn", "br", "deconv"))]


@pytest.fixture(scope="module")
def paper_net():
    """The paper's GCN, ResNet-152 and k = 15, for 21 classes (built fast: zero kernels)."""
    return GCN(21, weights=None, kernel_initializer="zeros")


def test_paper_net_counts_resnet152_and_the_head_of_the_layer_list(paper_net):
    # 21 classes, k = 15: GCN 630 · (256 + 512 + 1024 + 2048) + 4 · 13,230 = 2,472,120;
    # BR 9 · 7,938 = 71,442; deconvolutions 5 · 7,056 = 35,280.
    expected = head_parameters(21, dict.fromkeys(STAGE_CHANNELS, 15))
    assert expected == 2_472_120 + 71_442 + 35_280 == 2_578_842
    head = head_layers(paper_net)
    assert sum(layer.count_params() for layer in head) == 2_578_842
    # keras.applications' ResNet-152 without fc, conv biases included (He et al., table 1).
    assert paper_net.count_params() == bottleneck_parameters(152, bias=True) + 2_578_842
    assert paper_net.get_layer("gcn3_right_1").kernel_size == (1, 15)
    # 4 GCN blocks, 9 BR blocks, 5 deconvolutions, no bias anywhere in the head.
    names = [layer.name for layer in head]
    assert sum(name in {f"gcn{s}" for s in STAGE_CHANNELS} for name in names) == 4
    assert sum(name.startswith("br") and name.endswith("_add") for name in names) == 9
    assert sum(isinstance(layer, keras.layers.Conv2DTranspose) for layer in head) == 5
    assert not any(getattr(layer, "use_bias", False) for layer in head)


def test_deconvolutions_start_as_bilinear_upsampling_and_learn(paper_net):
    # FCN's upsample_filt for size 4: factor 2, centre 1.5, 1 − |i − 1.5| / 2 = ¼, ¾, ¾, ¼.
    profile = np.array([0.25, 0.75, 0.75, 0.25])
    identity = np.eye(21)
    for level in range(5):
        layer = paper_net.get_layer(f"deconv{level}")
        assert (layer.kernel_size, layer.strides, layer.padding) == ((4, 4), (2, 2), "same")
        assert layer.trainable and layer.kernel.trainable
        (weights,) = layer.get_weights()
        expected = np.outer(profile, profile)[:, :, None, None] * identity
        np.testing.assert_array_equal(weights, expected)


# 50 × 70: res-1 25 × 35, res-2 13 × 18, res-3 7 × 9, res-4 4 × 5, res-5 2 × 3; every ×2 is
# cropped (4 × 6 → 4 × 5, 8 × 10 → 7 × 9, 14 × 18 → 13 × 18, 26 × 36 → 25 × 35, 50 × 70).
IMAGE_SIZE = (50, 70)
NUM_CLASSES = 3
KERNEL_SIZES = {2: 9, 3: 7, 4: 5, 5: 3}


@pytest.fixture(scope="module")
def net():
    """GCN on ResNet-50 with k = 9, 7, 5, 3 on res-2 … res-5 and random weights everywhere, the
    deconvolutions included."""
    keras.utils.set_random_seed(11)
    model = GCN(NUM_CLASSES, backbone="resnet50", k=tuple(KERNEL_SIZES.values()), weights=None)
    rng = np.random.default_rng(12)
    for layer in head_layers(model):
        if layer.weights:
            (kernel,) = layer.get_weights()
            fan_in = np.prod(kernel.shape[:2]) * kernel.shape[-1]
            layer.set_weights([rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype("float32")])
    return model


def kernel(model: keras.Model, name: str) -> torch.Tensor:
    """A Keras kernel as torch's `(out, in, kh, kw)`, float64."""
    value = model.get_layer(name).get_weights()[0].astype(np.float64)
    return torch.from_numpy(value.transpose(3, 2, 0, 1).copy())


def reference_head(model: keras.Model, stages: dict[int, np.ndarray], image_size) -> np.ndarray:
    """Figure 2 on NCHW float64 stage outputs, with the model's weights: GCN(x) = conv_{1×k}(
    conv_{k×1}(x)) + conv_{k×1}(conv_{1×k}(x)), zero padding (k − 1) / 2; BR(x) = x +
    conv_{3×3}(ReLU(conv_{3×3}(x))); ×2 = `conv_transpose2d` 4×4, stride 2, padding 1, the
    first rows and columns kept up to the finer map's size."""

    def gcn(x, level):
        pad = KERNEL_SIZES[level] // 2
        name = f"gcn{level}"
        left = functional.conv2d(x, kernel(model, f"{name}_left_1"), padding=(pad, 0))
        left = functional.conv2d(left, kernel(model, f"{name}_left_2"), padding=(0, pad))
        right = functional.conv2d(x, kernel(model, f"{name}_right_1"), padding=(0, pad))
        right = functional.conv2d(right, kernel(model, f"{name}_right_2"), padding=(pad, 0))
        return left + right

    def br(x, name):
        residual = functional.relu(functional.conv2d(x, kernel(model, f"{name}_conv1"), padding=1))
        return x + functional.conv2d(residual, kernel(model, f"{name}_conv2"), padding=1)

    def up(x, level, size):
        # Keras' transposed kernel is (kh, kw, out, in); torch's (in, out, kh, kw).
        weight = model.get_layer(f"deconv{level}").get_weights()[0].astype(np.float64)
        weight = torch.from_numpy(weight.transpose(3, 2, 0, 1).copy())
        x = functional.conv_transpose2d(x, weight, stride=2, padding=1)
        return x[:, :, : size[0], : size[1]]

    x = {
        level: torch.from_numpy(value.transpose(0, 3, 1, 2).astype(np.float64))
        for level, value in stages.items()
    }
    scores = {level: br(gcn(x[level], level), f"br{level}") for level in (2, 3, 4, 5)}
    out = scores[5]
    for level in (4, 3, 2):
        out = br(up(out, level, scores[level].shape[2:]) + scores[level], f"br{level}_fused")
    out = br(up(out, 1, x[1].shape[2:]), "br1")
    out = br(up(out, 0, image_size), "br0")
    return out.numpy().transpose(0, 2, 3, 1)


def test_head_parameters_follow_the_layer_list_per_stage_kernel_size(net):
    head = sum(layer.count_params() for layer in head_layers(net))
    assert head == head_parameters(NUM_CLASSES, KERNEL_SIZES)
    assert [net.get_layer(f"gcn{s}_left_1").kernel_size for s in (2, 3, 4, 5)] == [
        (9, 1),
        (7, 1),
        (5, 1),
        (3, 1),
    ]


def test_head_computes_the_papers_equations(net):
    images = np.random.default_rng(13).uniform(0, 255, (1, *IMAGE_SIZE, 3)).astype("float32")
    stages = keras.Model(net.input, [net.get_layer(name).output for name in STAGE_LAYERS.values()])
    stages = dict(
        zip(STAGE_LAYERS, (keras.ops.convert_to_numpy(t) for t in stages(images)), strict=True)
    )
    assert [stages[level].shape[1:3] for level in (1, 2, 3, 4, 5)] == [
        (25, 35),
        (13, 18),
        (7, 9),
        (4, 5),
        (2, 3),
    ]
    expected = reference_head(net, stages, IMAGE_SIZE)
    logits = keras.ops.convert_to_numpy(net(images))
    assert logits.shape == (1, *IMAGE_SIZE, NUM_CLASSES) and logits.dtype == np.float32
    assert resnet_reference.relative_error(logits, expected) <= 1e-5


@pytest.mark.parametrize("size", [(35, 45), (97, 33), (1, 1), (64, 64)])
def test_output_matches_input_size(net, size):
    images = np.random.default_rng(14).integers(0, 256, (1, *size, 3)).astype("uint8")
    logits = net(images)
    assert tuple(logits.shape) == (1, *size, NUM_CLASSES) and logits.dtype == "float32"
    assert np.isfinite(keras.ops.convert_to_numpy(logits)).all()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"k": 14}, "received 14"),
        ({"k": (15, 15, 15)}, r"received \(15, 15, 15\)"),
        ({"k": (15, 15, 0, 15)}, "odd positive integer"),
        ({"backbone": "vgg16"}, "received 'vgg16'"),
        ({"num_classes": 0}, "num_classes must be positive"),
    ],
)
def test_bad_arguments_are_clear_value_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        GCN(**{"num_classes": 3, "weights": None, **arguments})
