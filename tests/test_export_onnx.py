"""ONNX exports run in a process that has ONNX Runtime and numpy only, and segment like Keras."""

import os

import export_checks
import keras
import numpy as np
import pytest
from backend_processes import run_python

from keras_fcn.export.layout import OUTPUTS
from keras_fcn.export.onnx import write_onnx
from keras_fcn.export.runtimes import onnx_function

pytestmark = pytest.mark.slow  # tf2onnx takes tens of seconds per export

# ONNX Runtime's part of the fresh process (`export_checks.run_alone`).
RUNTIME = """
import onnxruntime

session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])


def segment(images):
    names = [output.name for output in session.get_outputs()]
    outputs = dict(zip(names, session.run(names, {"images": images})))
    return outputs["class_ids"], outputs.get("probabilities", np.zeros(0))


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
    # float32 with the probabilities, to compare them; int8 with the default, class ids only.
    float_info = write_onnx(small_fcn, str(directory / "float32"), outputs=OUTPUTS)
    calibration = export_checks.synthetic_calibration_images()
    int8_info = write_onnx(small_fcn, str(directory / "int8"), "int8", calibration)
    assert (float_info.outputs, int8_info.outputs) == (OUTPUTS, ("class_ids",))
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


def _graph_facts(path):
    import onnx

    graph = onnx.load(path).graph
    nodes = [node.op_type for node in graph.node]
    return graph, nodes, [output.name for output in graph.output]


def test_onnx_runtimes_graph_keeps_fc6_a_matmul_and_softmax_only_if_asked(exports):
    _, float_nodes, float_outputs = _graph_facts(exports["float32"][0])
    assert float_outputs == ["class_ids", "probabilities"] and "Softmax" in float_nodes
    assert float_nodes.count("MatMul") == 1  # fc6, the faster in ONNX Runtime (graphs.py)
    _, int8_nodes, int8_outputs = _graph_facts(exports["int8"][0])
    assert int8_outputs == ["class_ids"] and "Softmax" not in int8_nodes


def test_openvinos_graph_has_fc6_as_a_seven_by_seven_convolution(small_fcn, tmp_path):
    """The ONNX graph `write_openvino` converts: fc6 a `Conv` whose weight is Keras' fc6
    kernel in ONNX's (out, in, kh, kw) order, no gather's `MatMul`, no separate `Pad` before a
    convolution ("same" padding is the `Conv` node's own), no softmax, class ids only."""
    from onnx import numpy_helper

    write_onnx(small_fcn, str(tmp_path), matmul_convolutions=False)
    graph, nodes, outputs = _graph_facts(str(tmp_path / "model.onnx"))
    assert outputs == ["class_ids"] and "Softmax" not in nodes and "MatMul" not in nodes
    weights = {tensor.name: tensor for tensor in graph.initializer}
    sevens = [
        numpy_helper.to_array(weights[node.input[1]])
        for node in graph.node
        if node.op_type == "Conv" and tuple(weights[node.input[1]].dims[2:]) == (7, 7)
    ]
    kernel = np.transpose(small_fcn.get_layer("fc6").get_weights()[0], (3, 2, 0, 1))
    assert len(sevens) == 1
    np.testing.assert_array_equal(sevens[0], kernel)
    padded = {output for node in graph.node if node.op_type == "Pad" for output in node.output}
    assert not [node for node in graph.node if node.op_type == "Conv" and node.input[0] in padded]


def test_int8_calibration_shows_its_progress(capfd, tmp_path):
    keras.utils.set_random_seed(0)
    images = keras.Input((None, None, 3))
    model = keras.Model(images, keras.layers.Conv2D(2, 3, padding="same")(images))
    write_onnx(model, str(tmp_path), "int8", export_checks.synthetic_calibration_images()[:2])
    lines = [line for line in capfd.readouterr().err.splitlines() if "calibrate int8" in line]
    assert lines[0].startswith("calibrate int8: 1/2 images (50%)")
    assert lines[-1].startswith("calibrate int8: 2/2 images (100%) in ")


def test_onnx_function_returns_class_ids(small_fcn, exports):
    export_checks.assert_function_segments_like_keras(
        onnx_function(exports["float32"][0], threads=1), small_fcn
    )


def test_bfloat16_is_refused_with_where_to_get_it(small_fcn, tmp_path):
    with pytest.raises(ValueError, match="export to openvino for bfloat16"):
        write_onnx(small_fcn, str(tmp_path), "bfloat16")
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        write_onnx(small_fcn, str(tmp_path), "int8")


@pytest.mark.slow
def test_writing_onnx_prints_no_warning_of_tf2onnx(tmp_path):
    # tf2onnx 1.17 tests for np.object on import of its patch; numpy 2 warns about that test, once
    # per process, so only a fresh process shows it.
    code = (
        "import sys, warnings, keras\n"
        "from keras_fcn.export.onnx import write_onnx\n"
        "inputs = keras.Input((None, None, 3))\n"
        "model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    write_onnx(model, {str(tmp_path)!r})\n"
        "messages = [str(warning.message) for warning in caught]\n"
        "assert not [m for m in messages if 'np.object' in m], messages\n"
    )
    result = run_python(["-c", code], "tensorflow")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "np.object" not in result.stderr
