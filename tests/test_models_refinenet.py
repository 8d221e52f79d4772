"""RefineNet's graph, sizes and options. Its values against the release's forward pass are checked
through its `.mat` files (tests/test_weights_mappings_matconvnet.py)."""

import keras
import numpy as np
import pytest
from refinenet_reference import head_convolutions, random_parameters, refinenet_logits

from keras_fcn.layers import ImresizeToReference, ResizeToReference
from keras_fcn.models.refinenet import RefineNet

HEAD_PREFIXES = ("p_ims1d2_", "adapt_input_path", "mflow_", "score")


def parameters_without_statistics(model) -> int:
    """Kernels, biases and batch normalization γ, β: every weight but the moving statistics."""
    statistics = sum(
        int(np.prod(variable.shape))
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for variable in (layer.moving_mean, layer.moving_variance)
    )
    return model.count_params() - statistics


@pytest.fixture(scope="module")
def refinenet101():
    """The release's 21-class ResNet-101 net at its 400 × 400 training crop (built, not run)."""
    return RefineNet(21, depth=101, input_shape=(400, 400, 3), kernel_initializer="zeros")


def test_resnet101_has_the_releases_parameter_count(refinenet101):
    # ResNet-101 without fc (MSRA's, bias-free convolutions, BN γ and β): 42,500,160. Head, the
    # release's graph at widths 512/256/256/256 (3 × 3 kernels):
    #   dimreds 9·(2048·512 + 1024·256 + 512·256 + 256·256) = 12,386,304
    #   RCUs (3×3 with bias + 3×3 without), 2 per path and 3 per block:
    #     5 at 512: 5·(2·9·512² + 512) = 23,595,520; 15 at 256: 15·(2·9·256² + 256) = 17,698,560
    #   CRP, 4 per block: 4·9·512² + 12·9·256² = 16,515,072
    #   fusions: 9·(512·256 + 256·256) + 2·9·(256·256 + 256·256) = 4,128,768 + 2,359,296
    #   classifier 9·256·21 + 21 = 48,405                      → head 75,552,277
    # 42,500,160 + 75,552,277 = 118,052,437 (+64 for the conv1 bias MatConvNet keeps).
    assert parameters_without_statistics(refinenet101) == 118_052_437
    head = sum(
        layer.count_params()
        for layer in refinenet101.layers
        if layer.name.startswith(HEAD_PREFIXES)
    )
    assert head == 75_552_277


def test_head_holds_the_release_graphs_convolutions(refinenet101):
    expected = head_convolutions()
    convolutions = {
        layer.name: layer
        for layer in refinenet101.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.name.startswith(HEAD_PREFIXES[:3])
    }
    assert sorted(convolutions) == sorted(expected)  # the 66 Conv of the release's graph
    for name, (shape, has_bias, _) in expected.items():
        layer = convolutions[name]
        assert (tuple(layer.kernel.shape), layer.use_bias) == (shape, has_bias), name
    counts = {
        kind: sum(
            isinstance(layer, kind) and layer.name.startswith(HEAD_PREFIXES)
            for layer in refinenet101.layers
        )
        for kind in (keras.layers.MaxPooling2D, keras.layers.ReLU, keras.layers.Add)
    }
    # The graph's 16 Pooling, 44 ReLU, and 20 Sum + 7 My_sum_layer.
    assert list(counts.values()) == [16, 44, 27]


def test_shapes_trace_the_releases_graph_at_400(refinenet101):
    # net_graphs/part2_cascaed_refinenet.pdf, variable sizes at a 400 × 400 input.
    expected = {
        "conv5_block3_out": (13, 13, 2048),  # p_ims1d2_outl1
        "conv4_block23_out": (25, 25, 1024),  # p_ims1d2_outl2
        "conv3_block4_out": (50, 50, 512),  # p_ims1d2_outl3
        "conv2_block3_out": (100, 100, 256),  # p_ims1d2_outl4
        "p_ims1d2_outl1_dimred": (13, 13, 512),
        "p_ims1d2_outl2_dimred": (25, 25, 256),
        "p_ims1d2_outl3_dimred": (50, 50, 256),
        "p_ims1d2_outl4_dimred": (100, 100, 256),
        "mflow_conv_g1_pool_joint": (13, 13, 512),
        "mflow_conv_g1_b3_joint": (13, 13, 512),
        "mflow_conv_g1_b3_joint_varout_dimred": (13, 13, 256),
        "mflow_joint_g2": (25, 25, 256),
        "mflow_conv_g2_b3_joint_varout_dimred": (25, 25, 256),
        "mflow_joint_g3": (50, 50, 256),
        "mflow_joint_g4": (100, 100, 256),
        "mflow_conv_g4_b3_joint": (100, 100, 256),
        "score": (100, 100, 21),
        "upsampling": (400, 400, 21),
    }
    shapes = {name: refinenet101.get_layer(name).output.shape[1:] for name in expected}
    assert shapes == expected


@pytest.mark.slow
def test_resnet152_has_the_releases_parameter_count():
    # ResNet-152 without fc: 58,143,808; the same head: 75,552,277.
    model = RefineNet(21, depth=152, kernel_initializer="zeros")
    assert parameters_without_statistics(model) == 133_696_085


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"depth": 34}, "depth must be one of"),
        ({"pooling": "average"}, "pooling must be one of"),
        ({"upsampling": "nearest"}, "upsampling must be one of"),
        ({"adapt_widths": (512, 256, 256)}, "adapt_widths must be four positive"),
        ({"weights": "missing.weights.h5"}, "no file exists at 'missing.weights.h5'"),
        ({"input_shape": (None, None, 1)}, "input_shape must be"),
    ],
)
def test_bad_options_are_refused_with_what_was_received(options, message):
    with pytest.raises(ValueError, match=message):
        RefineNet(21, **options)


def test_upsampling_option_picks_the_resize_of_fusions_and_scores():
    model = RefineNet(3, depth=50, upsampling="bicubic", adapt_widths=(4, 4, 4, 4))
    resizes = [
        layer for layer in model.layers if "resize" in layer.name or "upsampling" in layer.name
    ]
    assert [layer.name for layer in resizes] == [
        "mflow_joint_g2_resize",
        "mflow_joint_g3_resize",
        "mflow_joint_g4_resize",
        "upsampling",
    ]
    assert all(isinstance(layer, ImresizeToReference) and layer.common_scale for layer in resizes)
    assert model.get_layer("upsampling").compute_dtype == "float32"
    assert not any(isinstance(layer, ResizeToReference) for layer in model.layers)
    frozen = [layer.trainable for layer in model.layers if "_bn" in layer.name]
    assert frozen and not any(frozen)


def test_bicubic_and_bilinear_resizing_differ_by_a_measured_amount():
    # The release's bicubic fusions and upsampling against bilinear ones, on one random
    # ResNet-50 net (the forward pass the model is tested equal to). At the release's widths,
    # three random nets at 97 × 129 differed by 5.7–7.2 % of the logits' standard deviation on
    # average (up to 37–63 % at a pixel) and agreed on the argmax at 89–94 % of the pixels;
    # what it costs a trained net in mean IU is not measured here (no released weights).
    rng = np.random.default_rng(7)
    params = random_parameters(rng, 21, 50, (32, 16, 16, 16))
    images = rng.uniform(0, 255, (1, 65, 89, 3))
    bilinear = refinenet_logits(images, params, 50, "original", "bilinear")
    bicubic = refinenet_logits(images, params, 50, "original", "bicubic")
    difference = np.abs(bicubic - bilinear).mean() / bilinear.std()
    agreement = (bicubic.argmax(-1) == bilinear.argmax(-1)).mean()
    assert 0.01 < difference < 0.2
    assert 0.75 < agreement < 1.0
