"""OpenVINO exports run in a process that has OpenVINO and numpy only, and segment like Keras."""

import json
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.openvino import compile_openvino, openvino_function, write_openvino
from keras_fcn.export.precision import calibration_images

pytestmark = pytest.mark.slow  # three exports and NNCF's quantization: a minute or more

RUNTIME_ONLY = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import openvino

    core = openvino.Core()
    model = core.read_model(sys.argv[1])
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": sys.argv[4]})
    outputs = {}
    for index, images in enumerate(np.load(sys.argv[2]).values()):
        result = compiled({"images": images})
        outputs[f"class_ids_{index}"] = result["class_ids"]
        outputs[f"probabilities_{index}"] = result["probabilities"]
    np.savez(sys.argv[3], **outputs)
    print(json.dumps({
        "inputs": [(sorted(i.get_names()), str(i.get_element_type())) for i in model.inputs],
        "outputs": sorted(name for o in model.outputs for name in o.get_names()),
        "fake_quantize": sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops()),
        "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")),
    }))
    """
)


def _images(*shapes):
    """Synthetic photos of the given (batch, height, width), cropped from 64×64 examples."""
    return [
        np.stack([synthetic_example(10 * index + i, num_classes=3)[0][:h, :w] for i in range(b)])
        for index, (b, h, w) in enumerate(shapes)
    ]


def _run_alone(path, images, hint, tmp_path):
    """Runs the IR in a fresh process that imports OpenVINO and numpy only."""
    np.savez(tmp_path / "images.npz", *images)
    result = subprocess.run(
        [sys.executable, "-c", RUNTIME_ONLY, path, "images.npz", "outputs.npz", hint],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    outputs = np.load(tmp_path / "outputs.npz")
    return json.loads(result.stdout.splitlines()[-1]), [
        (outputs[f"class_ids_{i}"], outputs[f"probabilities_{i}"]) for i in range(len(images))
    ]


def _keras(model, images):
    logits = np.asarray(model(images.astype("float32")), np.float64)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    return logits.argmax(-1), probabilities / probabilities.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def exports(small_fcn, tmp_path_factory):
    directory = tmp_path_factory.mktemp("openvino")
    calibration = calibration_images(
        (synthetic_example(index, num_classes=3, split="calibration") for index in range(8)), 8
    )
    paths = {}
    for precision in ("float32", "bfloat16", "int8"):
        (directory / precision).mkdir()
        info = write_openvino(small_fcn, str(directory / precision), precision, calibration)
        assert (info.format, info.precision, info.num_classes) == ("openvino", precision, 3)
        paths[precision] = str(directory / precision / info.artefact)
    return paths


def test_float32_ir_runs_in_openvino_alone_at_any_size(small_fcn, exports, tmp_path):
    images = _images((1, 37, 53), (2, 64, 32))
    described, outputs = _run_alone(exports["float32"], images, "f32", tmp_path)
    assert described["modules"] == []
    assert described["inputs"] == [[["images"], "<Type: 'uint8_t'>"]]
    assert described["outputs"] == ["class_ids", "probabilities"]
    for batch, (class_ids, probabilities) in zip(images, outputs, strict=True):
        expected_ids, expected_probabilities = _keras(small_fcn, batch)
        assert class_ids.shape == batch.shape[:3] and class_ids.dtype == np.int32
        np.testing.assert_allclose(probabilities, expected_probabilities, atol=1e-4)
        top_two = np.sort(expected_probabilities, -1)[..., -2:]
        clear = top_two[..., 1] - top_two[..., 0] > 1e-3
        np.testing.assert_array_equal(class_ids[clear], expected_ids[clear])
        assert len(np.unique(expected_ids)) > 1


def test_bfloat16_is_the_same_ir_run_with_the_bf16_hint(small_fcn, exports, tmp_path):
    float_weights = pathlib.Path(exports["float32"]).with_suffix(".bin").read_bytes()
    assert pathlib.Path(exports["bfloat16"]).with_suffix(".bin").read_bytes() == float_weights
    compiled = compile_openvino(exports["bfloat16"], "bfloat16")
    assert str(compiled.get_property("INFERENCE_PRECISION_HINT")) in ("<Type: 'bfloat16'>", "bf16")
    images = _images((2, 64, 64))
    described, outputs = _run_alone(exports["bfloat16"], images, "bf16", tmp_path)
    assert described["modules"] == []
    class_ids, probabilities = outputs[0]
    expected_ids, expected_probabilities = _keras(small_fcn, images[0])
    assert np.abs(probabilities - expected_probabilities).max() < 0.1
    assert np.mean(class_ids == expected_ids) > 0.95


def test_int8_ir_is_quantized_and_agrees_with_float32(small_fcn, exports, tmp_path):
    images = _images((1, 64, 64), (1, 48, 56))
    described, outputs = _run_alone(exports["int8"], images, "f32", tmp_path)
    assert described["modules"] == []
    assert described["fake_quantize"] >= 16  # every convolution's input and weights
    for batch, (class_ids, _) in zip(images, outputs, strict=True):
        expected_ids, _ = _keras(small_fcn, batch)
        assert np.mean(class_ids == expected_ids) > 0.9


def test_openvino_function_returns_class_ids(small_fcn, exports):
    images = _images((1, 40, 40))[0]
    class_ids = openvino_function(exports["float32"], "float32")(images)
    assert class_ids.dtype == np.int32 and class_ids.shape == (1, 40, 40)
    assert np.mean(class_ids == _keras(small_fcn, images)[0]) > 0.99


def test_bad_precisions_are_refused(small_fcn, tmp_path):
    with pytest.raises(ValueError, match="float32, bfloat16, int8"):
        write_openvino(small_fcn, str(tmp_path), "float16")
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        write_openvino(small_fcn, str(tmp_path), "int8")


def test_accuracy_controlled_int8_keeps_the_agreement_asked_for(tmp_path):
    """NNCF puts layers back in float until the class ids agree as asked on the calibration
    images; a three-convolution net, where plain int8 agrees less, keeps the test short."""
    keras.utils.set_random_seed(3)
    images = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(images / 64)
    features = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(features)
    model = keras.Model(images, keras.layers.Conv2D(4, 1)(features))
    calibration = calibration_images(
        (synthetic_example(index, num_classes=3, split="calibration") for index in range(8)), 8
    )
    float_ids = [_keras(model, image[None])[0] for image in calibration]

    def agreement(directory, info):
        segment = openvino_function(str(directory / info.artefact), info.precision)
        pairs = zip(calibration, float_ids, strict=True)
        return np.mean([np.mean(segment(image[None]) == ids) for image, ids in pairs])

    (tmp_path / "plain").mkdir()
    plain = write_openvino(model, str(tmp_path / "plain"), "int8", calibration)
    controlled = write_openvino(model, str(tmp_path), "int8", calibration, min_agreement=0.999)
    assert (plain.min_agreement, controlled.min_agreement) == (None, 0.999)
    assert agreement(tmp_path, controlled) >= 0.999 > agreement(tmp_path / "plain", plain)
    with pytest.raises(ValueError, match="min_agreement is a fraction in \\(0, 1\\]"):
        write_openvino(model, str(tmp_path), "float32", min_agreement=0.999)
