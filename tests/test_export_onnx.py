"""ONNX exports run in a process that has ONNX Runtime and numpy only, and segment like Keras."""

import os

import export_checks
import numpy as np
import pytest

from keras_fcn.export.onnx import write_onnx
from keras_fcn.export.runtimes import onnx_function

pytestmark = pytest.mark.slow  # tf2onnx takes tens of seconds per export

# ONNX Runtime's part of the fresh process (`export_checks.run_alone`).
RUNTIME = """
import onnxruntime

session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])


def segment(images):
    return session.run(["class_ids", "probabilities"], {"images": images})


described = {
    "inputs": [(i.name, i.type, i.shape) for i in session.get_inputs()],
    "outputs": [(o.name, o.type) for o in session.get_outputs()],
}
"""


@pytest.fixture(scope="module")
def exports(small_fcn, tmp_path_factory):
    directory = tmp_path_factory.mktemp("onnx")
    (directory / "float32").mkdir()
    (directory / "int8").mkdir()
    float_info = write_onnx(small_fcn, str(directory / "float32"))
    calibration = export_checks.synthetic_calibration_images()
    int8_info = write_onnx(small_fcn, str(directory / "int8"), "int8", calibration)
    return {
        "float32": (str(directory / "float32" / float_info.artefact), float_info),
        "int8": (str(directory / "int8" / int8_info.artefact), int8_info),
    }


def test_float32_export_runs_in_onnx_runtime_alone_at_any_size(small_fcn, exports, tmp_path):
    path, info = exports["float32"]
    assert (info.format, info.precision, info.num_classes) == ("onnx", "float32", 3)
    images = export_checks.synthetic_images((1, 37, 53), (2, 64, 32))
    described, outputs = export_checks.run_alone(RUNTIME, path, images, tmp_path)
    assert described["modules"] == []
    assert described["inputs"][0][:2] == ["images", "tensor(uint8)"]
    assert described["outputs"] == [
        ["class_ids", "tensor(int32)"],
        ["probabilities", "tensor(float)"],
    ]
    for batch, (class_ids, probabilities) in zip(images, outputs, strict=True):
        assert class_ids.shape == batch.shape[:3]
        export_checks.assert_float32_export_segments_like_keras(
            class_ids, probabilities, small_fcn, batch
        )


def test_int8_export_is_quantized_and_agrees_with_float32(small_fcn, exports, tmp_path):
    path, info = exports["int8"]
    assert (info.precision, info.calibration_images) == ("int8", 8)
    float_path, _ = exports["float32"]
    # Weights stored as int8: about a quarter of the float32 file.
    assert os.path.getsize(path) < 0.35 * os.path.getsize(float_path)
    import onnx

    nodes = [node.op_type for node in onnx.load(path).graph.node]
    assert nodes.count("QuantizeLinear") >= 16 and "DequantizeLinear" in nodes
    images = export_checks.synthetic_images((1, 64, 64), (1, 48, 56))
    described, outputs = export_checks.run_alone(RUNTIME, path, images, tmp_path)
    assert described["modules"] == []
    for batch, (class_ids, _) in zip(images, outputs, strict=True):
        expected_ids, _ = export_checks.keras_outputs(small_fcn, batch)
        assert np.mean(class_ids == expected_ids) > 0.9


def test_onnx_function_returns_class_ids(small_fcn, exports):
    export_checks.assert_function_segments_like_keras(
        onnx_function(exports["float32"][0], threads=1), small_fcn
    )


def test_bfloat16_is_refused_with_where_to_get_it(small_fcn, tmp_path):
    with pytest.raises(ValueError, match="export to openvino for bfloat16"):
        write_onnx(small_fcn, str(tmp_path), "bfloat16")
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        write_onnx(small_fcn, str(tmp_path), "int8")
