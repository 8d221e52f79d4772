import keras
import model_checks
import numpy as np
import pytest
import tensorflow as tf

import keras_fcn
from keras_fcn import registry
from keras_fcn.backbones.preprocessing import IMAGENET_MEAN_BGR
from keras_fcn.layers.upsampling import bilinear_kernel
from keras_fcn.models.fcn import FCN8S, FCN32S, GEOMETRIES, Stream, build_fcn

NARROW = 8
VGG_CONVS = [
    f"block{block}_conv{conv}"
    for block, convs in enumerate([2, 2, 3, 3, 3], start=1)
    for conv in range(1, convs + 1)
]
FCN_NAMES = [
    name for name, entry in registry.MODELS.items() if entry.builder.__module__.endswith(".fcn")
]


def narrow(name, geometry="original", num_classes=3):
    return registry.build(name, num_classes, weights=None, fc_units=NARROW, geometry=geometry)


@pytest.fixture(scope="module")
def narrow_models():
    return {
        (name, geometry): narrow(name, geometry) for name in FCN_NAMES for geometry in GEOMETRIES
    }


@pytest.mark.parametrize("size", [(1, 1), (37, 53), (97, 131), (500, 375)])
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("name", FCN_NAMES)
def test_output_matches_input_size(narrow_models, name, geometry, size):
    model_checks.assert_logits_match_input_size(narrow_models[name, geometry], size, num_classes=3)


@pytest.mark.parametrize(
    "builder, expected",
    [
        (keras_fcn.FCN32s, 136_152_917),
        (keras_fcn.FCN16s, 134_815_994),
        (keras_fcn.FCN8s, 134_489_759),
    ],
)
def test_parameter_counts_equal_the_original_nets(builder, expected):
    model = builder(num_classes=21, weights=None)
    assert model.count_params() == expected
    if builder is keras_fcn.FCN32s:
        frozen = sum(int(np.prod(v.shape)) for v in model.non_trainable_weights)
        assert frozen == 64 * 64 * 21 * 21 == 1_806_336


def test_layer_names_follow_the_original_nets(narrow_models):
    expected = {
        "fcn32s": ["fc6", "fc7", "score_fr", "upscore"],
        "fcn16s": ["upscore2", "score_pool4", "fuse_pool4", "upscore16"],
        "fcn8s": [
            "upscore2",
            "score_pool4",
            "fuse_pool4",
            "upscore_pool4",
            "score_pool3",
            "fuse_pool3",
            "upscore8",
        ],
        "fcn8s-atonce": ["scale_pool4", "scale_pool3", "fuse_pool3", "upscore8"],
    }
    assert sorted(expected) == sorted(FCN_NAMES)
    for name, names in expected.items():
        layer_names = {layer.name for layer in narrow_models[name, "original"].layers}
        assert set(names + VGG_CONVS) <= layer_names, name


def test_at_once_net_scales_pool4_and_pool3():
    model = narrow("fcn8s-atonce")
    assert model.get_layer("scale_pool4").scale == 0.01
    assert model.get_layer("scale_pool3").scale == 0.0001


def test_upsamplers_are_frozen_bilinear(narrow_models):
    model = narrow_models["fcn8s", "original"]
    for name, size in [("upscore2", 4), ("upscore_pool4", 4), ("upscore8", 16)]:
        layer = model.get_layer(name)
        assert not layer.trainable and not layer.use_bias
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        np.testing.assert_array_equal(kernel[:, :, 1, 1], bilinear_kernel(size))
        assert kernel[:, :, 0, 1].sum() == 0


def test_fresh_logits_are_zero_and_one_sgd_step_changes_them():
    keras.utils.set_random_seed(1)
    model = narrow("fcn8s", "aligned")
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 40, 3)).astype("float32")
    labels = np.random.default_rng(1).integers(0, 3, (2, 40, 40))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(images)), 0)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.train_on_batch(images, labels)
    assert np.abs(keras.ops.convert_to_numpy(model(images))).max() > 0


def test_surgery_aligned_fc6_fc7_equal_the_classifier_fc1_fc2(vgg16_classifier_file):
    classifier, path = vgg16_classifier_file
    fcn = keras_fcn.FCN32s(num_classes=2, weights=path, geometry="aligned")
    fcn_fc = keras.Model(fcn.input, [fcn.get_layer("fc6").output, fcn.get_layer("fc7").output])
    cls_fc = keras.Model(
        classifier.input, [classifier.get_layer("fc1").output, classifier.get_layer("fc2").output]
    )
    images = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3)).astype("float32")
    fc6, fc7 = (keras.ops.convert_to_numpy(t) for t in fcn_fc(images))
    fc1, fc2 = (
        keras.ops.convert_to_numpy(t)
        for t in cls_fc(keras.applications.vgg16.preprocess_input(images.copy()))
    )
    # pool5 is 7×7; the 7×7 'same' fc6 at the centre (3, 3) sees all of it, as fc1 does.
    assert fc6.shape[1:3] == (7, 7)
    np.testing.assert_allclose(fc6[0, 3, 3], fc1[0], rtol=1e-4, atol=1e-4 * np.abs(fc1).max())
    np.testing.assert_allclose(fc7[0, 3, 3], fc2[0], rtol=1e-4, atol=1e-4 * np.abs(fc2).max())


def test_surgery_original_kernels_are_the_reshaped_classifier(vgg16_classifier_file):
    classifier, path = vgg16_classifier_file
    fcn = keras_fcn.FCN8s(num_classes=2, weights=path)
    fc1_kernel, fc1_bias = classifier.get_layer("fc1").get_weights()
    fc2_kernel, fc2_bias = classifier.get_layer("fc2").get_weights()
    fc6_kernel, fc6_bias = fcn.get_layer("fc6").get_weights()
    fc7_kernel, fc7_bias = fcn.get_layer("fc7").get_weights()
    # Flatten walks pool5 row by row, column by column, channel by channel.
    for row, col, channel in [(0, 0, 0), (3, 5, 17), (6, 6, 511)]:
        flat_index = (row * 7 + col) * 512 + channel
        np.testing.assert_array_equal(fc6_kernel[row, col, channel], fc1_kernel[flat_index])
    np.testing.assert_array_equal(fc6_kernel, fc1_kernel.reshape(7, 7, 512, 4096))
    np.testing.assert_array_equal(fc7_kernel[0, 0], fc2_kernel)
    np.testing.assert_array_equal(fc6_bias, fc1_bias)
    np.testing.assert_array_equal(fc7_bias, fc2_bias)
    for name in VGG_CONVS:
        for ours, theirs in zip(
            fcn.get_layer(name).get_weights(), classifier.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)


def _caffe_fcn8s(model, images):
    """FCN-8s of voc-fcn8s/net.py from raw TF ops: pad 100, ceil pools, VALID deconvs, crops."""

    def weights(name):
        return model.get_layer(name).get_weights()

    def ceil_pool(x):
        # Caffe rounds the pooled size up: pad the odd row/column with -inf, then pool.
        pad_h, pad_w = x.shape[1] % 2, x.shape[2] % 2
        x = tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=-np.inf)
        return tf.nn.max_pool2d(x, 2, 2, "VALID")

    def conv(x, name, relu=True, padding="SAME"):
        kernel, bias = weights(name)
        y = tf.nn.conv2d(x, kernel, 1, padding) + bias
        return tf.nn.relu(y) if relu else y

    def deconv(x, name, stride):
        (kernel,) = weights(name)
        size = (x.shape[1] - 1) * stride + kernel.shape[0]
        out_shape = [x.shape[0], size, (x.shape[2] - 1) * stride + kernel.shape[0], kernel.shape[2]]
        return tf.nn.conv2d_transpose(x, kernel, out_shape, stride, "VALID")

    def crop(x, offset, reference):
        return x[:, offset : offset + reference.shape[1], offset : offset + reference.shape[2]]

    data = images[..., ::-1] - np.array(IMAGENET_MEAN_BGR, "float32")
    x = tf.pad(data, [[0, 0], [100, 100], [100, 100], [0, 0]])
    x = conv(x, "block1_conv1", padding="VALID")
    taps = {}
    for name in VGG_CONVS[1:]:
        if name.endswith("conv1"):
            x = ceil_pool(x)
            taps[f"pool{int(name[5]) - 1}"] = x
        x = conv(x, name)
    pool5 = ceil_pool(x)
    score_fr = conv(conv(conv(pool5, "fc6", padding="VALID"), "fc7"), "score_fr", relu=False)
    upscore2 = deconv(score_fr, "upscore2", 2)
    fuse_pool4 = upscore2 + crop(conv(taps["pool4"], "score_pool4", relu=False), 5, upscore2)
    upscore_pool4 = deconv(fuse_pool4, "upscore_pool4", 2)
    fuse_pool3 = upscore_pool4 + crop(
        conv(taps["pool3"], "score_pool3", relu=False), 9, upscore_pool4
    )
    return crop(deconv(fuse_pool3, "upscore8", 8), 31, images).numpy()


@pytest.mark.parametrize("size", [(37, 53), (64, 45)])
def test_original_geometry_matches_the_caffe_net_value_for_value(size):
    keras.utils.set_random_seed(2)
    model = narrow("fcn8s")
    rng = np.random.default_rng(3)
    for name in ["score_fr", "score_pool4", "score_pool3"]:
        layer = model.get_layer(name)
        layer.set_weights(
            [rng.normal(0, 0.05, w.shape).astype("float32") for w in layer.get_weights()]
        )
    images = rng.integers(0, 256, (1, *size, 3)).astype("float32")
    expected = _caffe_fcn8s(model, images)
    actual = keras.ops.convert_to_numpy(model(images))
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_logits_stay_float32_under_mixed_precision():
    model_checks.assert_logits_stay_float32_under_mixed_precision(
        lambda: narrow("fcn16s"), "fc6", (33, 35)
    )


def test_save_and_load_round_trip_gives_identical_outputs(tmp_path):
    keras.utils.set_random_seed(4)
    model = narrow("fcn8s-atonce", "aligned")
    for name in ["score_fr", "score_pool4", "score_pool3"]:
        layer = model.get_layer(name)
        layer.set_weights([np.full(w.shape, 0.01, "float32") for w in layer.get_weights()])
    images = np.random.default_rng(5).integers(0, 256, (1, 45, 61, 3)).astype("float32")
    model_checks.assert_round_trip_gives_identical_outputs(model, tmp_path / "model.keras", images)


@pytest.mark.parametrize(
    "kwargs, message", [({"geometry": "same"}, "geometry"), *model_checks.INVALID_ARGUMENTS]
)
def test_invalid_arguments_raise_clear_errors(kwargs, message):
    arguments = {"num_classes": 3, "weights": None, "fc_units": NARROW, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_fcn(FCN8S, **arguments)


def test_the_mean_of_the_weights_goes_into_the_model():
    mean = (104.0, 116.5, 122.5)
    model = build_fcn(FCN8S, 3, weights=None, fc_units=NARROW, mean=mean)
    assert model.get_layer("preprocessing").mean == mean
    assert keras_fcn.FCN8s(3, weights=None, fc_units=NARROW).get_layer("preprocessing").mean == (
        IMAGENET_MEAN_BGR
    )


def test_heads_copy_every_layer_after_fc7_with_the_caffe_suffixes():
    model = build_fcn(FCN8S, {"sem": 5, "geo": 3}, weights=None, fc_units=NARROW)
    names = {layer.name for layer in model.layers}
    # siftflow-fcn8s/net.py, once per head.
    for head in ("sem", "geo"):
        assert {
            f"score_fr_{head}",
            f"upscore2_{head}",
            f"score_pool4_{head}",
            f"score_pool4_{head}c",
            f"fuse_pool4_{head}",
            f"upscore_pool4_{head}",
            f"score_pool3_{head}",
            f"score_pool3_{head}c",
            f"fuse_pool3_{head}",
            f"upscore8_{head}",
            f"score_{head}",
        } <= names
    assert {"fc6", "fc7", *VGG_CONVS} <= names and "score_fr" not in names
    logits = model(np.zeros((1, 37, 53, 3), "uint8"))
    assert {key: tuple(value.shape) for key, value in logits.items()} == {
        "score_sem": (1, 37, 53, 5),
        "score_geo": (1, 37, 53, 3),
    }


def test_streams_have_their_own_inputs_means_and_suffixed_trunks():
    streams = (Stream("color", (1.0, 2.0, 3.0)), Stream("hha", (4.0, 5.0, 6.0), False))
    model = build_fcn(FCN32S, 4, weights=None, fc_units=NARROW, streams=streams)
    names = {layer.name for layer in model.layers}
    # nyud-fcn32s-color-hha/net.py: conv1_1color … score_frcolor, conv1_1hha … score_frhha.
    for suffix in ("color", "hha"):
        assert {f"{name}{suffix}" for name in [*VGG_CONVS, "fc6", "fc7", "score_fr"]} <= names
    assert {"score_fused", "upscore", "score"} <= names and "fc6" not in names
    assert model.get_layer("preprocessinghha").mean == (4.0, 5.0, 6.0)
    assert model.get_layer("preprocessinghha").reverse_channels is False
    assert model.get_layer("preprocessingcolor").reverse_channels is True
    logits = model({"color": np.zeros((1, 37, 53, 3)), "hha": np.zeros((1, 37, 53, 3))})
    assert tuple(logits.shape) == (1, 37, 53, 4)


def test_one_stream_keeps_the_unsuffixed_names():
    model = build_fcn(FCN32S, 4, weights=None, fc_units=NARROW, streams=(Stream("hha"),))
    assert model.input.name == "hha"
    assert {"block1_conv1", "fc6", "score_fr", "upscore"} <= {layer.name for layer in model.layers}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": FCN8S, "streams": (Stream("a"), Stream("b"))}, "take FCN-32s"),
        ({"num_classes": {"sem": 3, "geo": 3}, "streams": (Stream("a"), Stream("b"))}, "2 heads"),
        ({"mean": (1.0, 2.0, 3.0), "streams": (Stream(),)}, "either mean or streams"),
        ({"num_classes": {"sem": 0}}, "positive"),
        ({"num_classes": {}}, "mapping"),
    ],
)
def test_invalid_heads_and_streams_raise_clear_errors(kwargs, message):
    arguments = {"variant": FCN32S, "num_classes": 3, "weights": None, "fc_units": NARROW}
    with pytest.raises(ValueError, match=message):
        build_fcn(**{**arguments, **kwargs})


def test_a_kernel_initializer_replaces_the_random_initialisation():
    zeros = build_fcn(FCN8S, 3, weights=None, fc_units=NARROW, kernel_initializer="zeros")
    for name in [*VGG_CONVS, "fc6", "fc7"]:
        assert not np.any(zeros.get_layer(name).get_weights()[0]), name
    # Upsamplers stay bilinear; the default stays He.
    np.testing.assert_array_equal(
        zeros.get_layer("upscore8").get_weights()[0][:, :, 0, 0], bilinear_kernel(16)
    )
    assert np.std(narrow("fcn8s").get_layer("block3_conv1").get_weights()[0]) > 0
