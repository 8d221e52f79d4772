import fcn_release_reference as ref
import keras
import numpy as np
import pytest

from keras_fcn.layers import CaffeMaxPooling2D, LocalResponseNormalization
from keras_fcn.models.fcn_alexnet import FCNAlexNet

NARROW = 8


@pytest.fixture(scope="module")
def narrow_model():
    keras.utils.set_random_seed(0)
    return FCNAlexNet(num_classes=3, fc_units=NARROW)


def test_parameter_count_equals_the_original_net():
    # voc-fcn-alexnet/net.py, 21 classes, weights + biases (grouped layers see half the input):
    # conv1 96·3·11² + 96 = 34,944; conv2 256·48·5² + 256 = 307,456; conv3 384·256·3² + 384 =
    # 885,120; conv4 384·192·3² + 384 = 663,936; conv5 256·192·3² + 256 = 442,624;
    # fc6 4096·256·6² + 4096 = 37,752,832; fc7 4096² + 4096 = 16,781,312;
    # score_fr 21·4096 + 21 = 86,037; upscore 21·21·63² = 1,750,329 (frozen).
    model = FCNAlexNet(num_classes=21)
    assert model.count_params() == 58_704_590
    assert sum(int(np.prod(v.shape)) for v in model.non_trainable_weights) == 1_750_329


@pytest.mark.parametrize("size", [(1, 1), (37, 53), (97, 131), (500, 375)])
def test_output_matches_input_size(narrow_model, size):
    logits = narrow_model(np.zeros((1, *size, 3), "uint8"))
    assert tuple(logits.shape) == (1, *size, 3) and logits.dtype == "float32"


def test_layers_follow_the_prototxt(narrow_model):
    names = [layer.name for layer in narrow_model.layers]
    expected = ["conv1", "pool1", "norm1", "conv2", "pool2", "norm2", "conv3", "conv4", "conv5"]
    expected += ["pool5", "fc6", "fc7", "score_fr", "upscore", "score"]
    assert [name for name in names if name in expected] == expected
    assert [narrow_model.get_layer(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert isinstance(narrow_model.get_layer("pool1"), CaffeMaxPooling2D)
    assert isinstance(narrow_model.get_layer("norm2"), LocalResponseNormalization)
    upscore = narrow_model.get_layer("upscore")
    assert (upscore.kernel_size, upscore.strides, upscore.trainable) == ((63, 63), (32, 32), False)


def caffe_blobs(model):
    """The model's weights in Caffe's layouts: kernels (out, in, kh, kw), deconvolution
    kernels (in, out, kh, kw)."""
    blobs = {}
    for layer in model.layers:
        if layer.weights:
            kernel, *bias = layer.get_weights()
            blobs[layer.name] = [kernel.transpose(3, 2, 0, 1), *bias]
    return blobs


@pytest.mark.parametrize("size", [(37, 53), (64, 45)])
def test_values_equal_the_caffe_net(size):
    keras.utils.set_random_seed(1)
    model = FCNAlexNet(num_classes=3, fc_units=NARROW, mean=(104.0, 117.0, 123.0))
    rng = np.random.default_rng(2)
    for name in ["score_fr", "upscore"]:  # zero and bilinear at first: make them random
        layer = model.get_layer(name)
        layer.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in layer.weights])
    images = rng.integers(0, 256, (1, *size, 3)).astype("uint8")
    expected = ref.fcn_alexnet(caffe_blobs(model), images[0], (104.0, 117.0, 123.0))
    actual = keras.ops.convert_to_numpy(model(images))
    assert np.abs(expected).max() > 0
    assert ref.relative_error(actual, expected) <= 1e-5


def test_save_load_round_trip_and_weights_file(tmp_path, narrow_model):
    path = tmp_path / "fcn_alexnet.keras"
    narrow_model.save(path)
    restored = keras.models.load_model(path)
    images = np.random.default_rng(3).integers(0, 256, (1, 45, 61, 3)).astype("uint8")
    expected = keras.ops.convert_to_numpy(narrow_model(images))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(images)), expected)
    weights_path = str(tmp_path / "fcn_alexnet.weights.h5")
    narrow_model.save_weights(weights_path)
    reloaded = FCNAlexNet(num_classes=3, fc_units=NARROW, weights=weights_path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reloaded(images)), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": "imagenet"}, "no AlexNet"),
        ({"num_classes": 0}, "positive"),
        ({"input_shape": (None, None, 4)}, "input_shape"),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FCNAlexNet(**{"fc_units": NARROW, **kwargs})


def test_a_kernel_initializer_replaces_the_random_initialisation():
    model = FCNAlexNet(num_classes=3, fc_units=NARROW, kernel_initializer="zeros")
    for name in ["conv1", "conv4", "fc6", "fc7"]:
        assert not np.any(model.get_layer(name).get_weights()[0]), name
