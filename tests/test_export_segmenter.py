import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.layout import OUTPUTS, check_outputs
from keras_fcn.export.segmenter import ClassIds, input_signature, segmenter


def test_class_ids_are_numpys_argmax_as_int32():
    logits = np.random.default_rng(0).normal(size=(2, 5, 7, 4)).astype("float32")
    class_ids = ClassIds()(logits)
    assert class_ids.dtype == tf.int32
    np.testing.assert_array_equal(class_ids, logits.argmax(-1))


def test_outputs_are_the_softmax_and_argmax_of_the_models_logits(small_fcn):
    images = np.stack([synthetic_example(index, num_classes=3)[0] for index in range(2)])
    outputs = segmenter(small_fcn, outputs=OUTPUTS)(images)
    logits = np.asarray(small_fcn(images.astype("float32")), np.float64)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    np.testing.assert_array_equal(outputs["class_ids"], logits.argmax(-1))
    assert len(np.unique(outputs["class_ids"])) == 3  # the check has power


def test_wrapper_takes_uint8_images_named_images(small_fcn):
    wrapper = segmenter(small_fcn, input_size=(48, 40), outputs=OUTPUTS)
    assert wrapper.inputs[0].dtype == "uint8"
    assert tuple(wrapper.inputs[0].shape) == (None, 48, 40, 3)
    assert sorted(wrapper.output_names) == ["class_ids", "probabilities"]
    assert sorted(wrapper(np.zeros((1, 48, 40, 3), "uint8"))) == ["class_ids", "probabilities"]
    assert input_signature((48, 40))[0].name == "images"


def test_class_ids_alone_by_default_and_in_the_wrappers_graph(small_fcn):
    wrapper = segmenter(small_fcn)
    assert wrapper.output_names == ["class_ids"]
    assert not any(isinstance(layer, keras.layers.Softmax) for layer in wrapper.layers)


def test_outputs_must_name_the_class_ids_and_known_outputs():
    assert check_outputs(("probabilities", "class_ids")) == OUTPUTS
    with pytest.raises(ValueError, match="must hold 'class_ids'"):
        check_outputs(("probabilities",))
    with pytest.raises(ValueError, match="received \\('class_ids', 'logits'\\)"):
        check_outputs(("class_ids", "logits"))
    with pytest.raises(TypeError, match="a sequence of output names"):
        check_outputs("class_ids")


def test_traced_graph_has_no_op_the_converters_reject(small_fcn):
    # keras.ops.argmax emits Bitcast and BitwiseAnd on TensorFlow; tf2onnx and OpenVINO's
    # TensorFlow front end convert neither.
    wrapper = segmenter(small_fcn)
    function = tf.function(lambda images: wrapper(images)).get_concrete_function(*input_signature())
    ops = {node.op for node in function.graph.as_graph_def().node}
    ops |= {n.op for f in function.graph.as_graph_def().library.function for n in f.node_def}
    assert "ArgMax" in ops
    assert not ops & {"Bitcast", "BitwiseAnd"}


def test_a_model_of_fixed_size_is_rejected():
    inputs = keras.Input((32, 32, 3))
    fixed = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match="input_shape=\\(None, None, 3\\)"):
        segmenter(fixed)
