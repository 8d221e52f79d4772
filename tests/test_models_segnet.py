import keras
import model_checks
import numpy as np
import pytest
from random_weights import randomize_batch_normalization
from segnet_reference import segnet_basic_forward, segnet_forward

import keras_fcn
from keras_fcn import registry
from keras_fcn.models.segnet import BN_SHIFT, SEGNET, SEGNET_BASIC, build_segnet


def conv(kernel, inputs, outputs):
    """Parameters of a convolution with bias."""
    return kernel * kernel * inputs * outputs + outputs


@pytest.fixture(scope="module")
def segnet():
    keras.utils.set_random_seed(0)
    return keras_fcn.SegNet(num_classes=11, weights=None)


@pytest.fixture(scope="module")
def segnet_basic():
    keras.utils.set_random_seed(0)
    return keras_fcn.SegNetBasic(num_classes=11)


def counts(model):
    convolutions = sum(
        layer.count_params() for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    )
    bn_channels = sum(
        layer.gamma.shape[0]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    return convolutions, bn_channels


def test_segnet_parameters_equal_segnet_train_prototxt(segnet):
    # segnet_train.prototxt, 3×3 convolutions with bias, 11 classes.
    encoder = (
        conv(3, 3, 64) + conv(3, 64, 64)  # conv1_1, conv1_2: 1,792 + 36,928
        + conv(3, 64, 128) + conv(3, 128, 128)  # conv2_x: 73,856 + 147,584
        + conv(3, 128, 256) + 2 * conv(3, 256, 256)  # conv3_x: 295,168 + 2 · 590,080
        + conv(3, 256, 512) + 2 * conv(3, 512, 512)  # conv4_x: 1,180,160 + 2 · 2,359,808
        + 3 * conv(3, 512, 512)  # conv5_x: 3 · 2,359,808
    )  # fmt: skip
    decoder = (
        3 * conv(3, 512, 512)  # conv5_3_D … conv5_1_D: 3 · 2,359,808
        + 2 * conv(3, 512, 512) + conv(3, 512, 256)  # conv4_3_D, 4_2_D; 4_1_D: 1,179,904
        + 2 * conv(3, 256, 256) + conv(3, 256, 128)  # conv3_3_D, 3_2_D; 3_1_D: 295,040
        + conv(3, 128, 128) + conv(3, 128, 64)  # conv2_2_D: 147,584; conv2_1_D: 73,792
        + conv(3, 64, 64) + conv(3, 64, 11)  # conv1_2_D: 36,928; conv1_1_D: 6,347
    )  # fmt: skip
    assert encoder == 14_714_688  # VGG16's 13 convolutions
    assert encoder + decoder == 29_433_483
    # BN after every convolution but conv1_1_D: the encoder's 4,224 channels, the decoder's
    # 512·3 + 512·2 + 256 + 256·2 + 128 + 128 + 64 + 64 = 3,712.
    assert counts(segnet) == (29_433_483, 7_936)
    # Caffe's BN learns a scale and a shift per channel; Keras also keeps two moving statistics.
    assert sum(int(np.prod(w.shape)) for w in segnet.trainable_weights) == 29_433_483 + 2 * 7_936
    assert segnet.count_params() == 29_433_483 + 4 * 7_936


def test_segnet_basic_parameters_equal_segnet_basic_train_prototxt(segnet_basic):
    # segnet_basic_train.prototxt: 7×7 convolutions of 64 with bias, 1×1 classifier, 11 classes.
    # conv1: 9,472; conv2–conv4 and conv_decode4–conv_decode1: 7 · 200,768; conv_classifier: 715.
    expected = conv(7, 3, 64) + 7 * conv(7, 64, 64) + conv(1, 64, 11)
    assert expected == 1_415_563
    assert counts(segnet_basic) == (1_415_563, 8 * 64)
    assert segnet_basic.count_params() == 1_415_563 + 4 * 512


def test_layer_names_follow_the_prototxts(segnet, segnet_basic):
    names = [layer.name for layer in segnet.layers]
    for name in ["conv1_1", "conv1_1_bn", "relu1_1", "pool1", "pool5", "upsample5"]:
        assert name in names
    decoder = [name for name in names if "_D" in name]
    assert decoder[:4] == ["conv5_3_D", "conv5_3_D_bn", "relu5_3_D", "conv5_2_D"]
    assert decoder[-1] == "conv1_1_D" and names[-1] == "conv1_1_D"
    assert names.index("upsample4") == names.index("relu5_1_D") + 1
    basic = [layer.name for layer in segnet_basic.layers]
    assert basic[:4] == ["image", "preprocessing", "norm", "conv1"]
    assert basic[-4:] == ["upsample1", "conv_decode1", "conv_decode1_bn", "conv_classifier"]
    assert not any(name.startswith("relu") and "decode" in name for name in basic)


@pytest.mark.parametrize(
    "name, size",
    [
        *[
            (name, size)
            for name in ("segnet", "segnet_basic")
            for size in [(37, 53), (1, 1), (45, 61)]
        ],
        ("segnet_basic", (360, 480)),  # SegNet's own: test_segnet_runs_at_camvid_size (slow)
    ],
)
def test_output_matches_input_size(request, name, size):
    model_checks.assert_logits_match_input_size(request.getfixturevalue(name), size, num_classes=11)


@pytest.mark.slow
def test_segnet_runs_at_camvid_size(segnet):
    # 360×480 pools to 180×240, 90×120, 45×60, 23×30, 12×15 and comes back.
    logits = segnet(np.zeros((1, 360, 480, 3), "uint8"))
    assert tuple(logits.shape) == (1, 360, 480, 11)


@pytest.mark.parametrize(
    "name, forward, bn_seed, image_seed, size",
    [
        # 19×27 pools to 10×14, 5×7, 3×4, 2×2, 1×1: every stage rounds up somewhere.
        ("segnet", segnet_forward, 1, 2, (19, 27)),
        ("segnet_basic", segnet_basic_forward, 3, 4, (23, 30)),
    ],
    ids=["segnet", "segnet-basic"],
)
def test_values_equal_the_prototxt_written_with_raw_ops(
    request, name, forward, bn_seed, image_seed, size
):
    model = request.getfixturevalue(name)
    randomize_batch_normalization(model, seed=bn_seed)
    images = np.random.default_rng(image_seed).uniform(0, 255, (2, *size, 3)).astype("float32")
    expected = forward(model, images)
    logits = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_inference_after_training_uses_the_moving_statistics():
    keras.utils.set_random_seed(5)
    model = keras_fcn.SegNetBasic(num_classes=3)
    generator = np.random.default_rng(6)
    images = generator.uniform(0, 255, (2, 16, 20, 3)).astype("float32")
    labels = generator.integers(0, 3, (2, 16, 20))
    before = [keras.ops.convert_to_numpy(w) for w in model.get_layer("conv1").weights]
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    for _ in range(3):
        model.train_on_batch(images, labels)
    bn = model.get_layer("conv1_bn")
    assert np.abs(keras.ops.convert_to_numpy(bn.moving_mean)).max() > 0
    assert np.abs(keras.ops.convert_to_numpy(model.get_layer("conv1").kernel) - before[0]).max()
    # The reference normalises with each layer's moving mean and variance.
    expected = segnet_basic_forward(model, images)
    inference = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(inference, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # In training mode the batch statistics are used instead, and the outputs differ.
    training = keras.ops.convert_to_numpy(model(images, training=True))
    assert np.abs(training - inference).max() > 1e-2 * np.abs(inference).max()


@pytest.mark.slow
def test_imagenet_weights_fill_the_encoder_and_leave_the_rest_fresh(vgg16_classifier_file):
    classifier, path = vgg16_classifier_file
    model = keras_fcn.SegNet(num_classes=5, weights=path)
    for block, convs in enumerate([2, 2, 3, 3, 3], start=1):
        for conv_index in range(1, convs + 1):
            ours = model.get_layer(f"conv{block}_{conv_index}").get_weights()
            theirs = classifier.get_layer(f"block{block}_conv{conv_index}").get_weights()
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(a, b)
    gamma, beta, mean, variance = model.get_layer("conv3_2_bn").get_weights()
    np.testing.assert_array_equal(gamma, 1)
    np.testing.assert_allclose(beta, BN_SHIFT)
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(variance, 1)
    # The decoder's 512 → 512 kernels start from Caffe's msra filler, N(0, 2 / fan_in).
    kernel = model.get_layer("conv5_3_D").get_weights()[0]
    assert kernel.std() == pytest.approx(np.sqrt(2 / (9 * 512)), rel=0.01)


@pytest.mark.parametrize(
    "variant, dropouts",
    [
        (
            SEGNET,
            {
                "encdrop3": "pool3",
                "encdrop4": "pool4",
                "encdrop5": "pool5",
                "decdrop5": "relu5_1_D",
                "decdrop4": "relu4_1_D",
                "decdrop3": "relu3_1_D",
            },
        ),
        (
            SEGNET_BASIC,
            {
                "encdrop3": "pool3",
                "encdrop4": "pool4",
                "decdrop4": "conv_decode4_bn",
                "decdrop3": "conv_decode3_bn",
            },
        ),
    ],
    ids=["segnet", "segnet-basic"],
)
def test_bayesian_dropout_follows_the_bayesian_prototxts(variant, dropouts):
    model = build_segnet(variant, num_classes=3, dropout=0.5)
    layers = [layer for layer in model.layers if isinstance(layer, keras_fcn.MonteCarloDropout)]
    assert [layer.name for layer in layers] == list(dropouts)
    for layer in layers:
        assert layer.rate == 0.5
        source = model.get_layer(dropouts[layer.name]).output
        source = source[0] if isinstance(source, (list, tuple)) else source  # pool: values
        assert layer.input is source, layer.name
    plain = build_segnet(variant, num_classes=3)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)


def test_models_save_and_load_with_identical_outputs(tmp_path, segnet_basic):
    model = registry.build("bayesian-segnet-basic", 11, weights=None)
    images = np.random.default_rng(8).uniform(0, 255, (1, 17, 21, 3)).astype("float32")
    for source in (segnet_basic, model):
        path = tmp_path / f"{source.name}.keras"
        model_checks.assert_round_trip_gives_identical_outputs(source, path, images)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="SegNet-Basic is trained from scratch"):
        keras_fcn.SegNetBasic(num_classes=11, weights="imagenet")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\).*received 1.5"):
        keras_fcn.SegNetBasic(num_classes=11, dropout=1.5)
    with pytest.raises(ValueError, match="num_classes must be positive"):
        keras_fcn.SegNetBasic(num_classes=0)
    with pytest.raises(ValueError, match="weights must be 'imagenet', None or the path"):
        keras_fcn.SegNet(num_classes=11, weights="missing.h5")
