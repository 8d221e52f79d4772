"""ONNX exports run in a process that has ONNX Runtime and numpy only, and segment like Keras."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.onnx import onnx_function, write_onnx
from keras_fcn.export.precision import calibration_images

pytestmark = pytest.mark.slow  # tf2onnx takes tens of seconds per export

RUNTIME_ONLY = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    outputs = {}
    for index, images in enumerate(np.load(sys.argv[2]).values()):
        class_ids, probabilities = session.run(["class_ids", "probabilities"], {"images": images})
        outputs[f"class_ids_{index}"], outputs[f"probabilities_{index}"] = class_ids, probabilities
    np.savez(sys.argv[3], **outputs)
    print(json.dumps({
        "inputs": [(i.name, i.type, i.shape) for i in session.get_inputs()],
        "outputs": [(o.name, o.type) for o in session.get_outputs()],
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


def _run_alone(path, images, tmp_path):
    """Runs the export in a fresh process that imports ONNX Runtime and numpy only."""
    np.savez(tmp_path / "images.npz", *images)
    result = subprocess.run(
        [sys.executable, "-c", RUNTIME_ONLY, path, "images.npz", "outputs.npz"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    outputs = np.load(tmp_path / "outputs.npz")
    count = len(images)
    return json.loads(result.stdout.splitlines()[-1]), [
        (outputs[f"class_ids_{i}"], outputs[f"probabilities_{i}"]) for i in range(count)
    ]


def _keras(model, images):
    logits = np.asarray(model(images.astype("float32")), np.float64)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    return logits.argmax(-1), probabilities / probabilities.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def exports(small_fcn, tmp_path_factory):
    directory = tmp_path_factory.mktemp("onnx")
    (directory / "float32").mkdir()
    (directory / "int8").mkdir()
    float_info = write_onnx(small_fcn, str(directory / "float32"))
    calibration = calibration_images(
        (synthetic_example(index, num_classes=3, split="calibration") for index in range(8)), 8
    )
    int8_info = write_onnx(small_fcn, str(directory / "int8"), "int8", calibration)
    return {
        "float32": (str(directory / "float32" / float_info.artefact), float_info),
        "int8": (str(directory / "int8" / int8_info.artefact), int8_info),
    }


def test_float32_export_runs_in_onnx_runtime_alone_at_any_size(small_fcn, exports, tmp_path):
    path, info = exports["float32"]
    assert (info.format, info.precision, info.num_classes) == ("onnx", "float32", 3)
    images = _images((1, 37, 53), (2, 64, 32))
    described, outputs = _run_alone(path, images, tmp_path)
    assert described["modules"] == []
    assert described["inputs"][0][:2] == ["images", "tensor(uint8)"]
    assert described["outputs"] == [
        ["class_ids", "tensor(int32)"],
        ["probabilities", "tensor(float)"],
    ]
    for batch, (class_ids, probabilities) in zip(images, outputs, strict=True):
        expected_ids, expected_probabilities = _keras(small_fcn, batch)
        assert class_ids.shape == batch.shape[:3]
        np.testing.assert_allclose(probabilities, expected_probabilities, atol=1e-4)
        top_two = np.sort(expected_probabilities, -1)[..., -2:]
        clear = top_two[..., 1] - top_two[..., 0] > 1e-3
        np.testing.assert_array_equal(class_ids[clear], expected_ids[clear])
        assert len(np.unique(expected_ids)) > 1


def test_int8_export_is_quantized_and_agrees_with_float32(small_fcn, exports, tmp_path):
    path, info = exports["int8"]
    assert (info.precision, info.calibration_images) == ("int8", 8)
    float_path, _ = exports["float32"]
    # Weights stored as int8: about a quarter of the float32 file.
    assert os.path.getsize(path) < 0.35 * os.path.getsize(float_path)
    import onnx

    nodes = [node.op_type for node in onnx.load(path).graph.node]
    assert nodes.count("QuantizeLinear") >= 16 and "DequantizeLinear" in nodes
    images = _images((1, 64, 64), (1, 48, 56))
    described, outputs = _run_alone(path, images, tmp_path)
    assert described["modules"] == []
    for batch, (class_ids, _) in zip(images, outputs, strict=True):
        expected_ids, _ = _keras(small_fcn, batch)
        assert np.mean(class_ids == expected_ids) > 0.9


def test_onnx_function_returns_class_ids(small_fcn, exports):
    images = _images((1, 40, 40))[0]
    class_ids = onnx_function(exports["float32"][0], threads=1)(images)
    assert class_ids.dtype == np.int32 and class_ids.shape == (1, 40, 40)
    assert np.mean(class_ids == _keras(small_fcn, images)[0]) > 0.99


def test_bfloat16_is_refused_with_where_to_get_it(small_fcn, tmp_path):
    with pytest.raises(ValueError, match="export to openvino for bfloat16"):
        write_onnx(small_fcn, str(tmp_path), "bfloat16")
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        write_onnx(small_fcn, str(tmp_path), "int8")
