"""`keras_fcn.models.auto_deeplab`: Auto-DeepLab's parameter counts from the layer list, its
endpoints' shapes at 321×321, its cell against a raw-op forward pass written from the release
(`hnasnet_reference`), and the whole net on small images."""

import caffe_reference
import hnasnet_reference
import keras
import numpy as np
import pytest
import random_weights

from keras_fcn.models.auto_deeplab import AutoDeepLab, nas_cell

NUM_CLASSES = 19

LEVELS = [0, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1]
"""hnasnet's `backbone` (nas_network.py), the cells' levels: output stride 4 · 2^level."""


def separable_2(kernel_size: int, f: int) -> int:
    """`separable_kxk_2`: twice a depthwise k×k (multiplier 1) and pointwise 1×1 on f channels,
    then a BN (γ, β)."""
    return 2 * (kernel_size * kernel_size * f + f * f + 2 * f)


def atrous(kernel_size: int, f: int) -> int:
    """`atrous_kxk`: a full k×k convolution f → f, then a BN."""
    return kernel_size * kernel_size * f * f + 2 * f


def cell_parameters(in_channels: int, previous_channels: int, f: int) -> int:
    """h0's and h1's 1×1 + BN, then the ten operations of hnasnet's genotype."""
    operations = (
        atrous(5, f)
        + separable_2(3, f)  # block 0
        + separable_2(3, f)
        + atrous(3, f)  # block 1
        + separable_2(3, f)
        + separable_2(3, f)  # block 2
        + separable_2(5, f)
        + separable_2(5, f)  # block 3
        + separable_2(5, f)
        + atrous(5, f)  # block 4
    )
    return (in_channels + 2) * f + (previous_channels + 2) * f + operations


def backbone_parameters(filter_multiplier: int) -> int:
    """The stem (3×3 convolutions 3 → 64 → 64 → 128, each with a BN) and the 12 cells, each
    reading the output before it (5f' channels; the stem's 128, and conv1's 64 for cell 0)."""
    total = 9 * (3 * 64 + 64 * 64 + 64 * 128) + 2 * (64 + 64 + 128)
    channels = [64, 128]
    for level in LEVELS:
        f = filter_multiplier * 2**level
        total += cell_parameters(channels[-1], channels[-2], f)
        channels.append(5 * f)
    return total


def head_parameters(filter_multiplier: int) -> int:
    """ASPP on cell 11 (10F channels): 1×1, three 3×3 and the pooling's 1×1 to 256, the
    projection 5 · 256 → 256, six BNs; the decoder on cell 2 (5F): 1×1 → 48, 3×3 (256 + 48) →
    256 and 256 → 256, three BNs; the logits 1×1 256 → 19 with bias."""
    aspp_in, low_level = 10 * filter_multiplier, 5 * filter_multiplier
    aspp = 256 * aspp_in * (1 + 3 * 9 + 1) + 5 * 256 * 256 + 6 * 2 * 256
    decoder = low_level * 48 + 9 * (256 + 48) * 256 + 9 * 256 * 256 + 2 * (48 + 256 + 256)
    return aspp + decoder + 256 * NUM_CLASSES + NUM_CLASSES


def trainable_parameters(model: keras.Model) -> int:
    return sum(int(np.prod(variable.shape)) for variable in model.trainable_weights)


@pytest.fixture(scope="module")
def auto_deeplab_s():
    keras.utils.set_random_seed(0)
    return AutoDeepLab(NUM_CLASSES, variant="S")


@pytest.mark.parametrize(
    "variant, filter_multiplier, expected",
    # The paper's table 2: 10.15 M, 21.62 M, 44.42 M.
    [("S", 20, 10_147_427), ("M", 32, 21_622_451), ("L", 48, 44_424_691)],
)
def test_parameter_counts_follow_the_layer_list(
    auto_deeplab_s, variant, filter_multiplier, expected
):
    assert backbone_parameters(filter_multiplier) + head_parameters(filter_multiplier) == expected
    model = (
        auto_deeplab_s
        if variant == "S"
        else AutoDeepLab(NUM_CLASSES, variant=variant, kernel_initializer="zeros")
    )
    assert trainable_parameters(model) == expected
    batch_norm_channels = sum(
        layer.gamma.shape[0]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    # count_params adds each BN's moving mean and variance.
    assert model.count_params() == expected + 2 * batch_norm_channels


def test_endpoint_shapes_at_321_are_the_releases(auto_deeplab_s):
    # tensorflow/models issue #6393 posts them for F = 10 at 321×321 (Stem 81×81×128 …
    # Cell_11 41×41×100): a level-L cell's output has (321 − 1) / (4 · 2^L) + 1 pixels and
    # 5 · F · 2^L channels. Here F = 20, the graph traced again on a 321×321 input.
    names = ["conv2_bn", *(f"cell_{number}_cell_output" for number in range(len(LEVELS)))]
    endpoints = keras.Model(
        auto_deeplab_s.input,
        [*(auto_deeplab_s.get_layer(name).output for name in names), auto_deeplab_s.output],
    )(keras.Input((321, 321, 3)))
    expected = [(81, 81, 128)]
    for level in LEVELS:
        side = 320 // (4 * 2**level) + 1
        expected.append((side, side, 100 * 2**level))
    expected.append((321, 321, NUM_CLASSES))
    assert [tuple(tensor.shape[1:]) for tensor in endpoints] == expected
    assert expected[-2] == (41, 41, 200)


def keras_weights(model: keras.Model):
    """The weights of a release scope (`cell_3/comb_iter_0/left/atrous_5x5`): the layer of the
    same name with `/` written `_`."""

    def weights(scope: str):
        return [
            keras.ops.convert_to_numpy(w) for w in model.get_layer(scope.replace("/", "_")).weights
        ]

    return weights


@pytest.mark.parametrize(
    "level_change, inputs_shape, previous_shape, filters",
    [
        # One level up (stride 2) on an even width; h1 at another size (resized) and width.
        (1, (1, 9, 10, 20), (1, 17, 19, 12), 8),
        # One level down: the input resized ×2 to 9×11, h1 there already.
        (-1, (1, 5, 6, 40), (1, 9, 11, 20), 4),
        # The same level.
        (0, (1, 9, 11, 20), (1, 9, 11, 20), 4),
    ],
)
def test_cell_matches_a_raw_op_forward_pass_of_the_release(
    level_change, inputs_shape, previous_shape, filters
):
    keras.utils.set_random_seed(1)
    inputs = keras.Input(inputs_shape[1:])
    previous = keras.Input(previous_shape[1:])
    model = keras.Model(
        [inputs, previous],
        nas_cell(inputs, previous, filters, level_change=level_change, name="cell_3"),
    )
    random_weights.randomize_batch_normalization(model, seed=2)
    rng = np.random.default_rng(3)
    net = rng.normal(size=inputs_shape).astype("float32")
    prev_layer = rng.normal(size=previous_shape).astype("float32")
    expected = hnasnet_reference.network_step(
        keras_weights(model), net, prev_layer, filters, "cell_3", level_change
    )
    actual = keras.ops.convert_to_numpy(model([net, prev_layer]))
    assert actual.shape == expected.shape == (1, *expected.shape[1:3], 5 * filters)
    assert caffe_reference.relative_error(actual, expected) <= 1e-5


@pytest.mark.parametrize("size", [(65, 65), (66, 75)])
def test_whole_net_gives_finite_logits_of_the_image_size(auto_deeplab_s, size):
    images = np.random.default_rng(4).uniform(0, 255, (1, *size, 3)).astype("float32")
    logits = keras.ops.convert_to_numpy(auto_deeplab_s(images))
    assert logits.shape == (1, *size, NUM_CLASSES) and logits.dtype == np.float32
    assert np.isfinite(logits).all() and logits.std() > 0


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"variant": "XL"}, "variant must be one of"),
        ({"weights": "/no/such/file.weights.h5"}, "no file exists"),
        ({"input_shape": (None, None, 1)}, "input_shape"),
    ],
)
def test_invalid_arguments_are_refused_by_name(arguments, message):
    with pytest.raises(ValueError, match=message):
        AutoDeepLab(NUM_CLASSES, **arguments)
