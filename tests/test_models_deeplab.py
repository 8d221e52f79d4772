import caffe_reference
import fcn_release_reference
import keras
import model_checks
import numpy as np
import pytest
import resnet_reference

import keras_fcn
from keras_fcn import registry
from keras_fcn.backbones.preprocessing import DEEPLAB_MEAN_BGR, IMAGENET_MEAN_BGR
from keras_fcn.backbones.vgg16 import CAFFE_CONV_NAMES, CONV_NAMES
from keras_fcn.models.deeplab import ASPP_S, LARGE_FOV, build_deeplab, build_deeplab_resnet

NARROW = 8
EXPORTED = "deeplab-aspp"
KERAS_NAMES = dict(zip(CAFFE_CONV_NAMES, CONV_NAMES, strict=True))
VGG16_CONVOLUTIONS = [
    # (Caffe name, num_output, kernel_size, input channels): VGG16's 13 3×3 convolutions, as in
    # both released prototxts (pad 1; conv5_x pad 2 with dilation 2).
    (name, outputs, 3, inputs)
    for name, inputs, outputs in fcn_release_reference.VGG16_CONVS
]
LARGE_FOV_PROTOTXT = [
    # DeepLab-LargeFOV/train.prototxt (fc8_${EXP} with EXP=voc12, NUM_LABELS=21).
    *VGG16_CONVOLUTIONS,
    ("fc6", 1024, 3, 512),
    ("fc7", 1024, 1, 1024),
    ("fc8_voc12", 21, 1, 1024),
]
ASPP_PROTOTXT = [
    # DeepLab v2 VGG16 ASPP-L train.prototxt: four branches, "### hole = 6 / 12 / 18 / 24".
    *VGG16_CONVOLUTIONS,
    *(
        layer
        for branch in (1, 2, 3, 4)
        for layer in (
            (f"fc6_{branch}", 1024, 3, 512),
            (f"fc7_{branch}", 1024, 1, 1024),
            (f"fc8_voc12_{branch}", 21, 1, 1024),
        )
    ),
]


@pytest.fixture(scope="module")
def full_models():
    return {
        "deeplab-largefov": keras_fcn.DeepLabLargeFOV(21, weights=None),
        "deeplab-aspp": keras_fcn.DeepLabASPP(21, weights=None),
    }


@pytest.fixture(scope="module")
def narrow_models():
    return {
        name: registry.build(name, 3, weights=None, fc_units=NARROW)
        for name in ("deeplab-largefov", "deeplab-aspp")
    }


def test_parameter_counts_equal_the_papers(full_models):
    # VGG16 convolutions 14,714,688; fc6 3·3·512·1024 + 1024 = 4,719,616; fc7 1024² + 1024 =
    # 1,049,600; fc8 1024·21 + 21 = 21,525: 20,505,429 ("20.5M", PAMI 2017 table 1).
    assert full_models["deeplab-largefov"].count_params() == 20_505_429
    # Four branches of fc6 + fc7 + fc8: 14,714,688 + 4 · 5,790,741.
    assert full_models["deeplab-aspp"].count_params() == 14_714_688 + 4 * 5_790_741


@pytest.mark.parametrize(
    "name, prototxt",
    [("deeplab-largefov", LARGE_FOV_PROTOTXT), ("deeplab-aspp", ASPP_PROTOTXT)],
)
def test_every_parameter_layer_of_the_prototxt_is_there_with_its_blob_shapes(
    full_models, name, prototxt
):
    model = full_models[name]
    with_weights = {layer.name for layer in model.layers if layer.weights}
    assert with_weights == {KERAS_NAMES.get(caffe, caffe) for caffe, *_ in prototxt}
    for caffe_name, outputs, kernel_size, inputs in prototxt:
        kernel, bias = model.get_layer(KERAS_NAMES.get(caffe_name, caffe_name)).get_weights()
        # Caffe's blobs (out, in, kh, kw) and (out,) in Keras' layout (kh, kw, in, out).
        caffe_blob = (outputs, inputs, kernel_size, kernel_size)
        assert kernel.shape == tuple(caffe_blob[i] for i in (2, 3, 1, 0)), caffe_name
        assert bias.shape == (outputs,), caffe_name


@pytest.mark.parametrize("size", [(1, 1), (37, 53), (97, 131), (160, 121)])
@pytest.mark.parametrize("name", ["deeplab-largefov", "deeplab-aspp"])
def test_output_matches_input_size(narrow_models, name, size):
    model_checks.assert_logits_match_input_size(narrow_models[name], size, num_classes=3)


@pytest.mark.parametrize(
    "size, scores",
    [
        # 3×3 stride-2 pad-1 pools: n → n // 2 + 1; 8k + 1 inputs give k + 1 scores.
        (321, 41),
        (37, 6),  # 37 → 19 → 10 → 6
        (100, 14),  # 100 → 51 → 26 → 14
    ],
)
def test_output_stride_is_8(narrow_models, size, scores):
    model = narrow_models["deeplab-largefov"]
    scores_model = keras.Model(model.input, model.get_layer("fc8_voc12").output)
    assert scores_model(np.zeros((1, size, size, 3))).shape[1:3] == (scores, scores)


def caffe_deeplab(model, images, rates, average_pool5):
    """A DeepLab VGG16 prototxt's forward pass with raw ops (float64), from the data layer's
    mean subtraction to fc8_interp and the crop to the image."""

    def weights(name):
        return model.get_layer(KERAS_NAMES.get(name, name)).get_weights()

    x = np.asarray(images, np.float64)[..., ::-1] - np.array(IMAGENET_MEAN_BGR)
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        for conv in range(1, convs + 1):
            # conv1_1 … conv4_3: pad 1; conv5_x: pad 2, dilation (hole) 2.
            dilation = 2 if block == 5 else 1
            x = caffe_reference.convolution(x, *weights(f"conv{block}_{conv}"), dilation, dilation)
        x = caffe_reference.pooling(x, 3, 2 if block <= 3 else 1, 1)
    if average_pool5:
        x = caffe_reference.pooling(x, 3, 1, 1, mode="ave")
    scores = 0
    for index, rate in enumerate(rates, start=1):
        suffix = f"_{index}" if len(rates) > 1 else ""
        branch = caffe_reference.convolution(x, *weights(f"fc6{suffix}"), rate, rate)
        branch = caffe_reference.convolution(branch, *weights(f"fc7{suffix}"))
        scores = scores + caffe_reference.convolution(
            branch, *weights(f"fc8_voc12{suffix}"), relu=False
        )
    scores = np.asarray(scores)
    # fc8_interp: zoom_factor 8 → 8 (n − 1) + 1, then the crop to the image.
    height, width = (8 * (n - 1) + 1 for n in scores.shape[1:3])
    zoomed = caffe_reference.interp(scores, height, width)
    return zoomed[:, : images.shape[1], : images.shape[2]]


@pytest.mark.parametrize(
    "variant, size",
    [(LARGE_FOV, (45, 61)), (ASPP_S, (37, 50))],
    ids=["largefov", "aspp-s"],
)
def test_values_equal_the_prototxt_with_raw_ops(variant, size):
    keras.utils.set_random_seed(3)
    model = build_deeplab(variant, 3, weights=None, fc_units=NARROW)
    images = np.random.default_rng(4).integers(0, 256, (1, *size, 3)).astype("float32")
    expected = caffe_deeplab(model, images, variant.rates, variant.average_pool5)
    actual = keras.ops.convert_to_numpy(model(images))
    assert np.abs(expected).max() > 0
    assert caffe_reference.relative_error(actual, expected) <= 1e-5


def test_pool5a_divides_by_nine_at_the_border():
    # Caffe's AVE pooling with pad 1 counts the padding: a constant map of 9 becomes 4 in the
    # corners (4 of 9 taps inside) and 6 along the edges.
    model = build_deeplab(LARGE_FOV, 2, weights=None, fc_units=NARROW)
    pool5a = keras.Sequential([model.get_layer("pool5a_pad"), model.get_layer("pool5a")])
    averaged = keras.ops.convert_to_numpy(pool5a(np.full((1, 4, 5, 1), 9.0, "float32")))[0, ..., 0]
    np.testing.assert_array_equal(averaged[0], [4, 6, 6, 6, 4])
    np.testing.assert_array_equal(averaged[1], [6, 9, 9, 9, 6])


def test_surgery_decimates_fc1_and_fc2(vgg16_classifier_file):
    classifier, path = vgg16_classifier_file
    model = keras_fcn.DeepLabLargeFOV(21, weights=path)
    fc1_kernel, fc1_bias = classifier.get_layer("fc1").get_weights()
    fc2_kernel, fc2_bias = classifier.get_layer("fc2").get_weights()
    full = fc1_kernel.reshape(7, 7, 512, 4096)  # fc1 reads pool5 row by row, then channels
    fc6_kernel, fc6_bias = model.get_layer("fc6").get_weights()
    fc7_kernel, fc7_bias = model.get_layer("fc7").get_weights()
    # Taps 0, 3, 6 of the 7 along each axis; filters 0, 4, ..., 4092.
    for i, row in enumerate((0, 3, 6)):
        for j, column in enumerate((0, 3, 6)):
            np.testing.assert_array_equal(fc6_kernel[i, j], full[row, column][:, ::4])
    np.testing.assert_array_equal(fc6_bias, fc1_bias[::4])
    np.testing.assert_array_equal(fc7_kernel[0, 0], fc2_kernel[::4, ::4])
    np.testing.assert_array_equal(fc7_bias, fc2_bias[::4])
    # fc8: Gaussian std 0.01, zero bias (the prototxt's fillers).
    fc8_kernel, fc8_bias = model.get_layer("fc8_voc12").get_weights()
    assert np.std(fc8_kernel) == pytest.approx(0.01, rel=0.05)
    assert not fc8_bias.any()
    model_checks.assert_same_weights(model, classifier, CONV_NAMES)


def test_logits_stay_float32_under_mixed_precision():
    model_checks.assert_logits_stay_float32_under_mixed_precision(
        lambda: keras_fcn.DeepLabASPP(3, weights=None, fc_units=NARROW), "fc6_1", (33, 35)
    )


def test_save_and_load_round_trip_gives_identical_outputs(tmp_path, narrow_models):
    images = np.random.default_rng(5).integers(0, 256, (1, 45, 61, 3)).astype("float32")
    model_checks.assert_round_trip_gives_identical_outputs(
        narrow_models["deeplab-largefov"], tmp_path / "model.keras", images
    )


def test_the_mean_of_the_weights_goes_into_the_model():
    model = build_deeplab(LARGE_FOV, 3, weights=None, fc_units=NARROW, mean=DEEPLAB_MEAN_BGR)
    assert model.get_layer("preprocessing").mean == DEEPLAB_MEAN_BGR


@pytest.mark.parametrize(
    "kwargs, message", [*model_checks.INVALID_ARGUMENTS, ({"rates": ()}, "at least one")]
)
def test_invalid_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_fcn.DeepLabASPP(**{"num_classes": 3, "weights": None, "fc_units": NARROW, **kwargs})


@pytest.mark.slow
def test_exported_saved_model_serves_any_size_like_the_model(tmp_path, narrow_models):
    model_checks.assert_saved_model_serves_like_the_model(
        narrow_models[EXPORTED], str(tmp_path / "saved"), sizes=[(23, 41), (50, 37)]
    )


# DeepLab v2's ResNet-101 (DrSleep/tensorflow-deeplab-resnet misc/deploy.prototxt, ASPP-L).


@pytest.fixture(scope="module")
def resnet_release():
    """The ResNet-101 net holding random weights of the raw-op reference's names (float32
    values), with batch normalization statistics far from 0 and 1."""
    rng = np.random.default_rng(7)
    parameters = resnet_reference.random_parameters(rng, resnet_reference.BLOCKS_101)
    parameters |= resnet_reference.random_aspp(rng, 21)
    parameters = {
        name: value.astype("float32").astype("float64") for name, value in parameters.items()
    }
    model = build_deeplab_resnet(21, weights=None, kernel_initializer="zeros")
    for name, weights in resnet_reference.keras_weights(parameters).items():
        model.get_layer(name).set_weights(weights)
    return model, parameters


def test_resnet101_parameter_count_follows_the_layer_list(resnet_release):
    model, parameters = resnet_release
    # Convolutions (bias-free): 42,394,816 (ResNet-101 without fc, He et al. table 1; the sum is
    # tests/test_backbones_resnet.py's bottleneck_parameters). ASPP-L: 4 · (3·3·2048·21 + 21) =
    # 1,548,372. 104 batch normalizations of 52,672 channels in all, 4 numbers each (γ, β,
    # moving mean and variance): 210,688. 42,394,816 + 1,548,372 + 210,688 = 44,153,876.
    assert model.count_params() == 44_153_876
    channels = sum(
        layer.gamma.shape[0]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    assert channels == 52_672 and resnet_reference.batch_norm_count(parameters) == 104
    # Without the moving statistics: 44,153,876 − 2 · 52,672 (RESNET_ERA.md §2.4, 44,048,532).
    assert model.count_params() - 2 * channels == 44_048_532
    # Batch normalization is frozen as in the release: γ and β do not train either.
    trainable = sum(int(np.prod(variable.shape)) for variable in model.trainable_weights)
    assert trainable == 42_394_816 + 1_548_372


def test_resnet101_layers_are_the_prototxts_with_their_blob_shapes(resnet_release):
    model, parameters = resnet_release
    weights = resnet_reference.keras_weights(parameters)
    with_weights = {layer.name: layer for layer in model.layers if layer.weights}
    assert with_weights.keys() == weights.keys()
    for name, arrays in weights.items():
        assert [w.shape for w in with_weights[name].get_weights()] == [a.shape for a in arrays]
    # Bias-free convolutions, Caffe's BatchNorm epsilon, the stride in res3a's 1×1 (and its
    # projection), res4*_branch2b dilated by 2 and res5*_branch2b by 4 in every block.
    convolutions = [layer for name, layer in with_weights.items() if name.endswith("_conv")]
    assert not any(layer.use_bias for layer in convolutions)
    strided = {layer.name for layer in convolutions if layer.strides != (1, 1)}
    assert strided == {"conv1_conv", "conv3_block1_0_conv", "conv3_block1_1_conv"}
    for stage, blocks, rate in ((2, 3, 1), (3, 4, 1), (4, 23, 2), (5, 3, 4)):
        for block in range(1, blocks + 1):
            assert model.get_layer(f"conv{stage}_block{block}_2_conv").dilation_rate == (rate,) * 2
    assert {layer.epsilon for layer in with_weights.values() if hasattr(layer, "epsilon")} == {1e-5}
    # fc1_voc12_c0 … c3: 3×3, pad = dilation 6, 12, 18, 24, with bias; summed, then zoomed.
    for index, rate in enumerate(resnet_reference.ASPP_RATES):
        aspp = model.get_layer(f"fc1_voc12_c{index}")
        assert aspp.dilation_rate == (rate, rate) and aspp.use_bias and aspp.padding == "same"
    assert isinstance(model.get_layer("fc1_voc12"), keras.layers.Add)
    assert model.get_layer("fc1_interp").factor == 8
    assert model.get_layer("preprocessing").mean == DEEPLAB_MEAN_BGR


@pytest.mark.parametrize(
    "size, scores",
    [
        # conv1 (7, stride 2, pad 3): n → (n − 1) // 2 + 1; pool1 rounds up: → ⌈(n − 1) / 2⌉ + 1;
        # res3a's strided 1×1: → (n − 1) // 2 + 1. 8k + 1 gives k + 1.
        ((513, 321), (65, 41)),
        ((41, 49), (6, 7)),  # 21 × 25 → 11 × 13 → 6 × 7
        # 250 × 20 → 126 × 11 → 63 × 6: pool1 rounds 20 up to 11 (down: 10, then 5).
        ((500, 40), (63, 6)),
    ],
)
def test_resnet101_scores_are_at_one_eighth_rounding_as_caffe(resnet_release, size, scores):
    model, _ = resnet_release
    scores_model = keras.Model(model.input, model.get_layer("fc1_voc12").output)
    assert scores_model.compute_output_shape((1, *size, 3))[1:3] == scores


@pytest.mark.parametrize("size", [(1, 1), (33, 39), (41, 49)])
def test_resnet101_output_matches_input_size(resnet_release, size):
    model, _ = resnet_release
    logits = model(np.zeros((1, *size, 3), "uint8"))
    assert tuple(logits.shape) == (1, *size, 21) and logits.dtype == "float32"


def test_resnet101_values_equal_the_prototxt_with_raw_ops(resnet_release):
    model, parameters = resnet_release
    # 41 × 49: odd, and pool1's input (21 × 25) odd, scores 6 × 7 zoomed to 41 × 49.
    images = np.random.default_rng(8).integers(0, 256, (1, 41, 49, 3)).astype("float32")
    expected = resnet_reference.deeplab_v2_logits(images, parameters)
    actual = keras.ops.convert_to_numpy(model(images))
    assert actual.shape == expected.shape == (1, 41, 49, 21)
    assert resnet_reference.relative_error(actual, expected) <= 1e-5
    # Frozen batch normalization normalizes by its moving statistics in training too.
    training = keras.ops.convert_to_numpy(model(images, training=True))
    np.testing.assert_allclose(training, actual, rtol=0, atol=1e-6 * np.abs(actual).max())


def test_deeplab_aspp_takes_the_backbone_by_name():
    model = keras_fcn.DeepLabASPP(3, backbone="resnet101", weights=None, rates=(2, 4))
    assert model.name == "deeplab-aspp-resnet101"
    assert [model.get_layer(f"fc1_voc12_c{i}").dilation_rate[0] for i in (0, 1)] == [2, 4]
    with pytest.raises(
        ValueError, match=r"backbones \('vgg16', 'resnet101'\); received .*'resnet50'"
    ):
        keras_fcn.DeepLabASPP(3, backbone="resnet50", weights=None)
    with pytest.raises(TypeError, match="fc_units"):
        keras_fcn.DeepLabASPP(3, backbone="resnet101", weights=None, fc_units=NARROW)
    with pytest.raises(ValueError, match="at least one rate"):
        build_deeplab_resnet(3, weights=None, rates=())
