import keras
import model_checks
import numpy as np
import pytest

from keras_fcn.backbones.vgg16 import (
    CONV_NAMES,
    POOL_NAMES,
    Pooling,
    convolutionalize,
    vgg16_convolutions,
    vgg16_fully_connected,
)


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    return keras.applications.VGG16(weights=None)


def test_names_are_keras_applications_names_in_order(classifier):
    layers = [layer.name for layer in classifier.layers]
    assert [name for name in layers if name in CONV_NAMES] == list(CONV_NAMES)
    assert [name for name in layers if name in POOL_NAMES] == list(POOL_NAMES)
    assert len(CONV_NAMES) == 13


def test_convolutions_copy_the_classifier_by_name_and_compute_its_pool5(classifier):
    images = keras.Input((None, None, 3))
    model = keras.Model(images, vgg16_convolutions(images, classifier)[POOL_NAMES[-1]])
    model_checks.assert_same_weights(model, classifier, CONV_NAMES)
    # At 224×224 (a multiple of 32), rounding up or down gives the same pools.
    x = np.random.default_rng(0).normal(0, 50, (1, 224, 224, 3)).astype("float32")
    pool5 = keras.Model(classifier.input, classifier.get_layer(POOL_NAMES[-1]).output)
    expected = keras.ops.convert_to_numpy(pool5(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "options, size, tap, expected",
    [
        # VGG16: 2×2 pools rounding up, 37 → 19 → 10 → 5 → 3 → 2.
        ({}, 37, "block5_pool", 2),
        # DeepLab: 3×3 stride-2 pad-1 pools (321 → 161 → 81 → 41), then stride-1 pools.
        (
            {
                "pooling": (Pooling(3, 2, 1),) * 3 + (Pooling(3, 1, 1),) * 2,
                "dilation": (1,) * 4 + (2,),
            },
            321,
            "block5_pool",
            41,
        ),
        # Dilation front-end: unpadded convolutions, no pool4/pool5, conv5 dilated by 2:
        # 900 → 896 → 448 → 444 → 222 → 216 → 108 → 102 → 90.
        (
            {
                "pooling": (Pooling(),) * 3 + (None, None),
                "dilation": (1,) * 4 + (2,),
                "padding": "valid",
            },
            900,
            "block5_conv3",
            90,
        ),
    ],
)
def test_pooling_dilation_and_padding_options_set_the_sizes(options, size, tap, expected):
    features = vgg16_convolutions(keras.Input((size, size, 3)), None, **options)
    assert features[tap].shape[1:3] == (expected, expected)
    if options.get("pooling", (True,) * 5)[-1] is None:
        assert "block4_pool" not in features and "block5_pool" not in features


def test_convolutionalize_reshapes_fc1_and_fc2(classifier):
    fc1_kernel, fc1_bias = classifier.get_layer("fc1").get_weights()
    fc2_kernel, fc2_bias = classifier.get_layer("fc2").get_weights()
    weights = convolutionalize(classifier)
    np.testing.assert_array_equal(weights["fc6"][0], fc1_kernel.reshape(7, 7, 512, 4096))
    np.testing.assert_array_equal(weights["fc7"][0][0, 0], fc2_kernel)
    np.testing.assert_array_equal(weights["fc6"][1], fc1_bias)
    np.testing.assert_array_equal(weights["fc7"][1], fc2_bias)


def test_convolutionalize_decimates_taps_and_filters(classifier):
    fc1_kernel, fc1_bias = classifier.get_layer("fc1").get_weights()
    fc2_kernel, fc2_bias = classifier.get_layer("fc2").get_weights()
    weights = convolutionalize(classifier, kernel_size=3, units=1024)
    # Taps 0, 3 and 6 of the 7 along each axis; filters 0, 4, 8, ...
    full = fc1_kernel.reshape(7, 7, 512, 4096)
    for i, row in enumerate((0, 3, 6)):
        for j, column in enumerate((0, 3, 6)):
            np.testing.assert_array_equal(weights["fc6"][0][i, j], full[row, column, :, ::4])
    np.testing.assert_array_equal(weights["fc6"][1], fc1_bias[::4])
    np.testing.assert_array_equal(weights["fc7"][0][0, 0], fc2_kernel[::4, ::4])
    np.testing.assert_array_equal(weights["fc7"][1], fc2_bias[::4])
    with pytest.raises(ValueError, match="units"):
        convolutionalize(classifier, units=1000)


def test_random_weights_use_he_initialisation_scaled_for_pixels():
    keras.utils.set_random_seed(7)
    images = keras.Input((None, None, 3))
    features = vgg16_convolutions(images, None)
    fc7 = vgg16_fully_connected(features[POOL_NAMES[-1]], None, units=64)
    model = keras.Model(images, fc7)
    # He: std = sqrt(2 / fan_in); conv1_1 sees pixels of std ~58, so its kernel is 58× smaller.
    for name, fan_in, pixel_scale in [
        ("block1_conv1", 3 * 3 * 3, 58.0),
        ("block3_conv2", 3 * 3 * 256, 1.0),
        ("fc6", 7 * 7 * 512, 1.0),
    ]:
        kernel = model.get_layer(name).get_weights()[0]
        expected = np.sqrt(2.0 / fan_in) / pixel_scale
        assert np.std(kernel) == pytest.approx(expected, rel=0.1), name


def test_a_suffix_names_a_second_stream_apart():
    images = keras.Input((None, None, 3))
    color = vgg16_convolutions(images, None, suffix="color")
    hha = vgg16_convolutions(images, None, suffix="hha")
    fc7 = vgg16_fully_connected(hha[POOL_NAMES[-1]], None, units=8, suffix="hha")
    model = keras.Model(images, [color[POOL_NAMES[-1]], fc7])
    names = {layer.name for layer in model.layers}
    assert {f"{name}{s}" for name in CONV_NAMES + POOL_NAMES for s in ("color", "hha")} <= names
    assert {"fc6hha", "drop6hha", "fc7hha", "drop7hha"} <= names
    assert not names & set(CONV_NAMES)
