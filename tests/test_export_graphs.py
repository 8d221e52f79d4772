import keras
import numpy as np
import tensorflow as tf

from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.exporter import FORMATS
from keras_fcn.export.graphs import MATMUL_CONVOLUTIONS, plain_convolutions
from keras_fcn.layers import MatmulConv2D


def test_every_format_has_a_choice():
    assert sorted(MATMUL_CONVOLUTIONS) == sorted(FORMATS)


def test_fc6_becomes_a_plain_convolution_with_the_same_weights(small_fcn):
    plain = plain_convolutions(small_fcn)
    fc6, original = plain.get_layer("fc6"), small_fcn.get_layer("fc6")
    assert type(fc6) is keras.layers.Conv2D and isinstance(original, MatmulConv2D)
    assert fc6.get_config() == {**original.get_config(), "name": "fc6"}
    for copied, source in zip(fc6.get_weights(), original.get_weights(), strict=True):
        np.testing.assert_array_equal(copied, source)
    # The other layers are shared, not copied.
    assert plain.get_layer("fc7") is small_fcn.get_layer("fc7")
    assert plain_convolutions(plain) is plain


def test_the_copy_computes_fc6_as_tensorflows_convolution(small_fcn):
    images = np.stack([synthetic_example(index, num_classes=3)[0] for index in range(2)])
    images = images.astype("float32")
    plain = plain_convolutions(small_fcn)
    # fc6's input in the original model, through the shared layers up to pool5.
    pool5 = keras.Model(small_fcn.input, small_fcn.get_layer("fc6").input)(images)
    kernel, bias = small_fcn.get_layer("fc6").get_weights()
    expected = tf.nn.relu(tf.nn.conv2d(pool5, kernel, 1, "SAME") + bias)
    actual = keras.Model(plain.input, plain.get_layer("fc6").output)(images)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)
    assert float(np.abs(np.asarray(expected)).max()) > 0  # the check has power
    np.testing.assert_allclose(plain(images), small_fcn(images), rtol=1e-4, atol=1e-4)


def test_tap_sums_export_and_segment_as_keras_does(tmp_path):
    """The inference copy runs DeepLab v2's ASPP-L as `TapSumConv2D` (an input of 2,048
    channels): ONNX and LiteRT keep it, OpenVINO gets the plain convolution; all segment alike."""
    from keras_fcn.export import export_model, load_predictor
    from keras_fcn.inference.folding import TAP_SUM_INPUT_CHANNELS

    images = keras.Input((None, None, 3))
    wide = keras.layers.Conv2D(TAP_SUM_INPUT_CHANNELS, 1, activation="relu")(images)
    model = keras.Model(images, keras.layers.Conv2D(3, 3, padding="same", dilation_rate=6)(wide))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in model.weights])
    image = synthetic_example(0, image_size=24, num_classes=3)[0][None, :, :20]
    expected = np.asarray(model(image.astype("float32"))).argmax(-1)
    assert len(np.unique(expected)) > 1
    for format in ("onnx", "litert", "openvino"):
        size = image.shape[1:3] if format == "litert" else None
        path = export_model(model, str(tmp_path / format), format, input_size=size)
        assert np.mean(load_predictor(path)(image) == expected) > 0.99, format


def test_a_dilated_tap_sum_becomes_one_dilated_convolution_for_openvino(tmp_path):
    """Written as Keras' `Conv2D`, a dilated convolution would reach OpenVINO as TensorFlow's
    `SpaceToBatchND`, convolution and `BatchToSpaceND` (`SpaceToDepth`, `DepthToSpace` there)."""
    import openvino

    from keras_fcn.export import export_model
    from keras_fcn.layers import DilatedConv2D, TapSumConv2D

    images = keras.Input((None, None, 3))
    wide = keras.layers.Conv2D(8, 1)(images)
    model = keras.Model(images, TapSumConv2D(3, 3, padding="same", dilation_rate=6)(wide))
    plain = plain_convolutions(model)
    assert type(plain.layers[-1]) is DilatedConv2D
    assert plain.layers[-1].get_config() == model.layers[-1].get_config()
    export_model(model, str(tmp_path / "openvino"), "openvino")
    graph = openvino.Core().read_model(str(tmp_path / "openvino" / "1" / "model.xml"))
    kinds = {op.get_type_name() for op in graph.get_ops()}
    assert not kinds & {"SpaceToDepth", "DepthToSpace", "SpaceToBatch", "BatchToSpace"}
    dilations = [
        list(op.get_attributes()["dilations"])
        for op in graph.get_ops()
        if op.get_type_name() == "Convolution"
    ]
    assert [6, 6] in dilations
