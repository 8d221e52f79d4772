"""The one loader: everything checked before anything is set, a report of what was skipped, and
no format's dependency imported before a file of that format is read."""

import backend_processes
import keras
import numpy as np
import pytest

from keras_fcn.weights.formats.stored import StoredLayer
from keras_fcn.weights.loader import Target, load_stored_layers

pytestmark = pytest.mark.backends


def dense_model():
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2, name="fc2")(keras.layers.Dense(4, name="fc1")(inputs))
    return keras.Model(inputs, outputs, name="two_layers")


def transposed(arrays):
    """Stored (out, in) kernels become Keras' (in, out)."""
    return [arrays[0].T, arrays[1]]


def targets_of(model):
    return [
        Target(layer, layer.name, "InnerProduct", (layer.kernel.shape[::-1], (layer.units,)))
        for layer in model.layers[1:]
    ]


def with_conversion(targets):
    return [Target(t.layer, t.source, t.type, t.shapes, convert=transposed) for t in targets]


def stored_layers(rng, **extra):
    layers = {
        "fc1": [rng.normal(size=(4, 3)), rng.normal(size=4)],
        "fc2": [rng.normal(size=(2, 4)), rng.normal(size=2)],
        **extra,
    }
    return {
        name: StoredLayer.in_memory(name, "InnerProduct", arrays) for name, arrays in layers.items()
    }


def test_every_target_is_converted_and_assigned_in_the_models_order():
    model = dense_model()
    stored = stored_layers(np.random.default_rng(0))
    report = load_stored_layers(model, stored, with_conversion(targets_of(model)), "net.bin")
    assert report.loaded == ("fc1", "fc2") and dict(report.skipped) == {}
    kernel, bias = stored["fc2"].read()
    np.testing.assert_allclose(model.get_layer("fc2").get_weights()[0], kernel.T, rtol=1e-6)
    np.testing.assert_allclose(model.get_layer("fc2").get_weights()[1], bias, rtol=1e-6)


def test_stored_layers_the_mapping_may_skip_are_reported_not_refused():
    model = dense_model()
    rng = np.random.default_rng(1)
    stored = stored_layers(rng, aux=[rng.normal(size=(5, 4))])
    targets = with_conversion(targets_of(model))
    with pytest.raises(ValueError, match=r"net.bin is not the file.*lacks: aux"):
        load_stored_layers(model, stored, targets, "net.bin")
    report = load_stored_layers(
        model, stored, targets, "net.bin", skip=lambda name: "the aux head is not built"
    )
    assert dict(report.skipped) == {"aux": "the aux head is not built"}


def test_two_stored_layers_fill_the_variables_of_one_layer_they_name():
    # A kernel from one stored layer, the bias from another (Caffe's BatchNorm and Scale both
    # fill one Keras BatchNormalization).
    model = dense_model()
    layer = model.get_layer("fc1")
    rng = np.random.default_rng(4)
    stored = {
        "fc1_kernel": StoredLayer.in_memory("fc1_kernel", "Kernel", [rng.normal(size=(4, 3))]),
        "fc1_bias": StoredLayer.in_memory("fc1_bias", "Bias", [rng.normal(size=4)]),
    }
    targets = [
        Target(
            layer, "fc1_kernel", "Kernel", ((4, 3),), lambda a: [a[0].T], variables=(layer.kernel,)
        ),
        Target(layer, "fc1_bias", "Bias", ((4,),), list, variables=(layer.bias,)),
    ]
    fc2_before = model.get_layer("fc2").get_weights()
    report = load_stored_layers(model, stored, targets, "net.bin")
    assert report.loaded == ("fc1_kernel", "fc1_bias")
    np.testing.assert_allclose(layer.kernel.numpy(), stored["fc1_kernel"].read()[0].T, rtol=1e-6)
    np.testing.assert_allclose(layer.bias.numpy(), stored["fc1_bias"].read()[0], rtol=1e-6)
    for ours, theirs in zip(model.get_layer("fc2").get_weights(), fc2_before, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_nothing_is_set_when_a_later_layer_does_not_fit():
    model = dense_model()
    before = [weight.copy() for weight in model.get_weights()]
    rng = np.random.default_rng(2)
    stored = stored_layers(rng)
    stored["fc2"] = StoredLayer.in_memory(
        "fc2", "InnerProduct", [rng.normal(size=(3, 4)), rng.normal(size=3)]
    )
    with pytest.raises(ValueError, match=r"layer 'fc2' holds blobs of shapes \[\(3, 4\), \(3,\)\]"):
        load_stored_layers(model, stored, with_conversion(targets_of(model)), "net.bin")
    for weight, old in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(weight, old)


def test_a_constant_that_differs_is_named():
    model = dense_model()
    stored = stored_layers(np.random.default_rng(3))
    stored["scale"] = StoredLayer.in_memory("scale", "Scale", [np.full(4, 0.5)])
    scale = Target(
        model.get_layer("fc1"),
        "scale",
        "Scale",
        ((4,),),
        check=lambda arrays: None if np.all(arrays[0] == 0.01) else "scales by 0.5.",
    )
    targets = [*with_conversion(targets_of(model)), scale]
    with pytest.raises(ValueError, match=r"net.bin: layer 'scale' scales by 0.5."):
        load_stored_layers(model, stored, targets, "net.bin")


def test_the_package_imports_and_writes_caffe_files_without_protobuf_until_asked():
    code = (
        "import sys, keras_fcn\n"
        "assert 'google.protobuf' not in sys.modules\n"
        "model = keras_fcn.FCN32s(num_classes=2, weights=None, fc_units=8)\n"
        "try:\n"
        "    keras_fcn.weights.save_caffemodel(model, 'never.caffemodel')\n"
        "except ModuleNotFoundError as error:\n"
        "    print('needs', error.name)\n"
    )
    result = backend_processes.run_python(
        ["-c", code], backend="jax", without_tensorflow=True, also_without=("google.protobuf",)
    )
    assert result.returncode == 0, result.stderr
    assert "needs google" in result.stdout
