"""`keras_fcn.models.deeplab_v3_plus`: the decoder against tensorflow/models' `refine_by_decoder`
written with TensorFlow's raw ops, the model's wiring (which low-level features, the resize to the
image), its parameter counts from the layer list, and its sizes at output stride 16 and 8."""

import keras
import numpy as np
import pytest
import resnet_reference
import tensorflow as tf
from random_weights import randomize_batch_normalization
from test_models_deeplab_v3 import BACKBONE_BN_CHANNELS, BACKBONE_CONV_WEIGHTS, aspp_parameters

from keras_fcn.models.deeplab_v3_plus import DeepLabV3Plus, deeplab_v3_plus_decoder

EPSILON = 1e-5
"""`refine_by_decoder`'s batch normalization epsilon."""


def resize_bilinear(x, size) -> tf.Tensor:
    """`tf.image.resize_bilinear(x, size, align_corners=True)`, TF DeepLab's every resize."""
    resized = tf.raw_ops.ResizeBilinear(
        images=tf.cast(x, tf.float32), size=size, align_corners=True, half_pixel_centers=False
    )
    return tf.cast(resized, tf.float64)


def reference_decoder(model: keras.Model, features, low_level) -> np.ndarray:
    """`refine_by_decoder` with `decoder_use_separable_conv=False`, then the logits, in float64
    with the weights of `model`'s layers: `feature_projection0` (1×1 → 48, BN, ReLU) on the
    low-level features; `[features, projection]` resized to the low-level size, concatenated
    in that order; `slim.repeat(…, 2, conv2d, 256, 3)` with BN and ReLU ('SAME' padding);
    `get_branch_logits` (1×1 with bias, no activation)."""

    def weights(name):
        return [tf.constant(value, tf.float64) for value in model.get_layer(name).get_weights()]

    def conv_bn_relu(x, name):
        (kernel,) = weights(f"{name}_conv")
        gamma, beta, mean, variance = weights(f"{name}_bn")
        x = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
        return tf.nn.relu(tf.nn.batch_normalization(x, mean, variance, beta, gamma, EPSILON))

    features, low_level = (tf.constant(value, tf.float64) for value in (features, low_level))
    projection = conv_bn_relu(low_level, "decoder_projection")
    size = tf.shape(low_level)[1:3]
    x = tf.concat([resize_bilinear(features, size), resize_bilinear(projection, size)], axis=3)
    x = conv_bn_relu(conv_bn_relu(x, "decoder_0"), "decoder_1")
    kernel, bias = weights("logits")
    return (tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias).numpy()


def randomize(model: keras.Model, seed: int) -> None:
    """He-scaled kernels, small biases and batch normalizations with non-trivial statistics."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, *bias = layer.get_weights()
            scale = np.sqrt(2 / np.prod(kernel.shape[:3]))
            values = [rng.normal(0, scale, kernel.shape)] + [
                rng.normal(0, 0.1, b.shape) for b in bias
            ]
            layer.set_weights([value.astype("float32") for value in values])
    randomize_batch_normalization(model, seed)


def test_decoder_computes_refine_by_decoder():
    # ASPP features 3 × 4 at a stride that is no whole factor of the low-level 11 × 14 (the
    # corner-aligned ratios 2/10 and 3/13), narrow inputs: 16 and 8 channels.
    features, low_level = keras.Input((None, None, 16)), keras.Input((None, None, 8))
    decoder = keras.Model([features, low_level], deeplab_v3_plus_decoder(features, low_level, 5))
    randomize(decoder, seed=21)
    rng = np.random.default_rng(22)
    inputs = [rng.normal(0, 1, (2, 3, 4, 16)), rng.normal(0, 1, (2, 11, 14, 8))]
    expected = reference_decoder(decoder, *inputs)
    logits = keras.ops.convert_to_numpy(decoder([value.astype("float32") for value in inputs]))
    assert logits.shape == expected.shape == (2, 11, 14, 5)
    assert resnet_reference.relative_error(logits, expected) <= 1e-5
    assert decoder.get_layer("decoder_concat").output.shape[-1] == 16 + 48
    for name in ("decoder_projection_bn", "decoder_0_bn", "decoder_1_bn"):
        layer = decoder.get_layer(name)
        assert (layer.epsilon, layer.momentum) == (EPSILON, 0.9997)


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """DeepLab v3+ on ResNet-50 at output stride 16 with the release's low-level features and
    random weights, and the same weights in a net at output stride 8 reading conv2's output."""
    keras.utils.set_random_seed(23)
    os16 = DeepLabV3Plus(3, weights=None, output_stride=16)
    randomize(os16, seed=24)
    path = tmp_path_factory.mktemp("deeplab_v3_plus") / "os16.weights.h5"
    os16.save_weights(path)
    os8 = DeepLabV3Plus(3, weights=None, output_stride=8, low_level="stage")
    os8.load_weights(path)
    return {16: os16, 8: os8}


def input_of(model: keras.Model, name: str) -> str:
    """The name of the layer whose output feeds the layer `name`."""
    (tensor,) = model.get_layer(name)._inbound_nodes[0].input_tensors
    return tensor._keras_history.operation.name


@pytest.mark.parametrize(
    "output_stride, tap",
    [
        # tensorflow/models' block1/unit_2/bottleneck_v1/conv3: the second block's residual
        # branch after its BN, before the shortcut and the ReLU.
        (16, "conv2_block2_3_bn"),
        # conv2's output, "P2".
        (8, "conv2_block3_out"),
    ],
)
def test_model_decodes_its_low_level_features_and_resizes_to_the_image(nets, output_stride, tap):
    model = nets[output_stride]
    assert input_of(model, "decoder_projection_conv") == tap
    images = np.random.default_rng(25).uniform(0, 255, (1, 50, 70, 3)).astype("float32")
    taps = keras.Model(
        model.input,
        [model.get_layer("aspp_dropout").output, model.get_layer(tap).output, model.output],
    )
    features, low_level, logits = (keras.ops.convert_to_numpy(value) for value in taps(images))
    # 50 × 70: conv2 at 1/4, 13 × 18; the ASPP at 1/16, 4 × 5, or 1/8, 7 × 9.
    assert low_level.shape[1:3] == (13, 18)
    assert features.shape[1:3] == {16: (4, 5), 8: (7, 9)}[output_stride]
    # predict_labels: the logits resized to the image with the corners aligned.
    expected = resize_bilinear(reference_decoder(model, features, low_level), (50, 70)).numpy()
    assert logits.shape == expected.shape == (1, 50, 70, 3) and logits.dtype == np.float32
    assert resnet_reference.relative_error(logits, expected) <= 1e-5


def test_output_stride_and_low_level_change_no_weight(nets):
    resnet_reference.assert_same_weights(nets[16], nets[8])
    assert [nets[8].get_layer(f"aspp_{i}_conv").dilation_rate[0] for i in (1, 2, 3)] == [12, 24, 36]


def decoder_parameters(num_classes: int) -> tuple[int, int]:
    """Trainable parameters and BN channels of the decoder and logits on 256 ASPP and 256
    low-level channels: projection 256 · 48, 3×3 (256 + 48) → 256, 3×3 256 → 256, BN γ and β
    of 48 + 256 + 256 channels, logits 256 · K + K."""
    convs = 256 * 48 + 9 * 304 * 256 + 9 * 256 * 256
    channels = 48 + 256 + 256
    return convs + 2 * channels + 257 * num_classes, channels


def expected_counts(depth: int, num_classes: int) -> tuple[int, int]:
    """Trainable parameters and `count_params` from the layer list: the backbone's conv weights
    and 3 per BN channel (conv bias, γ, β), the ASPP's, the decoder's and the logits; the moving
    mean and variance of every BN channel."""
    aspp_convs, aspp_channels = aspp_parameters(2048)
    decoder, decoder_channels = decoder_parameters(num_classes)
    channels = BACKBONE_BN_CHANNELS[depth]
    trainable = BACKBONE_CONV_WEIGHTS[depth] + 3 * channels + aspp_convs + 2 * aspp_channels
    trainable += decoder
    return trainable, trainable + 2 * (channels + aspp_channels + decoder_channels)


def test_parameter_counts_follow_the_layer_list(nets):
    # ResNet-50, 21 classes: backbone 23,454,912 + 3 · 26,560; ASPP 15,532,032 + 2 · 1,536;
    # decoder 12,288 + 700,416 + 589,824 + 2 · 560; logits 257 · 21; count_params adds the
    # moving mean and variance, 2 · (26,560 + 1,536 + 560). ResNet-101 likewise.
    assert expected_counts(50, 21) == (40_378_741, 40_436_053)
    assert expected_counts(101, 21) == (59_396_981, 59_506_517)
    for model in nets.values():
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert (trainable, model.count_params()) == expected_counts(50, 3)
    model = DeepLabV3Plus(21, backbone="resnet101", weights=None, kernel_initializer="zeros")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (trainable, model.count_params()) == (59_396_981, 59_506_517)


@pytest.mark.parametrize("output_stride", [16, 8])
@pytest.mark.parametrize("size", [(35, 45), (1, 1)])
def test_output_matches_input_size_and_the_decoder_works_at_a_quarter(nets, output_stride, size):
    model = nets[output_stride]
    names = ("aspp_dropout", "logits", "upsampling")
    inner = keras.Model(model.input, [model.get_layer(name).output for name in names])
    images = np.random.default_rng(26).integers(0, 256, (1, *size, 3)).astype("uint8")
    aspp, scores, logits = inner(images)
    # Every stride halves rounding up: 35 × 45 → 18 × 23, 9 × 12 (1/4), 5 × 6 (1/8), 3 × 3.
    quarter = tuple(-(-side // 4) for side in size)
    coarse = tuple(-(-side // output_stride) for side in size)
    assert tuple(aspp.shape[1:3]) == coarse and tuple(scores.shape[1:3]) == quarter
    assert tuple(logits.shape) == (1, *size, 3) and logits.dtype == "float32"
    assert np.isfinite(keras.ops.convert_to_numpy(logits)).all()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"low_level": "P3"}, "received 'P3'"),
        ({"output_stride": 32}, "received 32"),
        ({"backbone": "resnet152"}, "received 'resnet152'"),
        ({"num_classes": 0}, "num_classes must be positive"),
    ],
)
def test_bad_arguments_are_clear_value_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        DeepLabV3Plus(**{"num_classes": 3, "weights": None, **arguments})
