"""What the command line imports and prints before it works: `--help` needs no Keras, and
TensorFlow's native logs stay out unless `--verbose`."""

import os
import re

import numpy as np
import pytest
from backend_processes import NO_FRAMEWORK_IMPORTED, run_python

from keras_fcn.cli.native_logs import NATIVE_LOG, quiet_native_logs

COMMANDS = (
    "demo",
    "train",
    "evaluate",
    "predict",
    "export",
    "convert",
    "check-data",
    "summary",
    "models",
    "presets",
)


def test_help_of_every_command_imports_no_framework():
    code = (
        "from keras_fcn.cli import main\n"
        f"for argv in [['--help']] + [[command, '--help'] for command in {COMMANDS!r}]:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, (argv, exit.code)\n"
        "    else:\n"
        "        raise AssertionError(argv)\n" + NO_FRAMEWORK_IMPORTED
    )
    result = run_python(["-c", code], "tensorflow")
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert f"usage: keras-fcn {command}" in result.stdout
    assert result.stdout.count("examples:") == len(COMMANDS)


def test_native_log_lines_are_taken_out_of_the_import_and_the_rest_kept(capfd):
    lines = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1796645119.434856   18622 port.cc:153] oneDNN custom operations are on.\n",
        "E0000 00:00:1796644701.942332    9414 cuda_platform.cc:52] failed call to cuInit\n",
        "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild\n",
        "a warning of the import itself\n",
    ]
    assert [bool(NATIVE_LOG.match(line)) for line in lines] == [True] * 4 + [False]
    from keras_fcn.cli.native_logs import _without_native_logs

    with _without_native_logs():
        os.write(2, "".join(lines).encode())
    assert capfd.readouterr().err == lines[-1]


def test_quiet_native_logs_restores_the_environment(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    with quiet_native_logs():
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


@pytest.mark.slow
def test_a_command_that_imports_tensorflow_prints_none_of_its_native_logs():
    code = (
        "import sys\n"
        "from keras_fcn.cli import main\n"
        "status = main(['models'])\n"
        "assert 'tensorflow' in sys.modules\n"
        "sys.exit(status)\n"
    )
    result = run_python(["-c", code], "tensorflow")
    assert result.returncode == 0, result.stderr
    assert "fcn8s" in result.stdout
    native = [line for line in result.stderr.splitlines() if NATIVE_LOG.match(line)]
    assert not native, native
    assert not re.search(r"port\.cc|cudart_stub|cpu_feature_guard|cuInit", result.stderr)


def _argmax_onnx(path) -> None:
    """Writes with the onnx package an ONNX model of the export's interface whose class of a
    pixel is its brightest channel: uint8 `images` in, int32 `class_ids` out."""
    import onnx
    from onnx import TensorProto, helper

    from keras_fcn.export.layout import CLASS_IDS_OUTPUT, IMAGES_INPUT

    graph = helper.make_graph(
        [
            helper.make_node("Cast", [IMAGES_INPUT], ["floats"], to=TensorProto.FLOAT),
            helper.make_node("ArgMax", ["floats"], ["indices"], axis=3, keepdims=0),
            helper.make_node("Cast", ["indices"], [CLASS_IDS_OUTPUT], to=TensorProto.INT32),
        ],
        "brightest_channel",
        [helper.make_tensor_value_info(IMAGES_INPUT, TensorProto.UINT8, ["b", "h", "w", 3])],
        [helper.make_tensor_value_info(CLASS_IDS_OUTPUT, TensorProto.INT32, ["b", "h", "w"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_predict_with_an_onnx_export_imports_no_tensorflow_nor_keras(tmp_path):
    pytest.importorskip("onnxruntime")
    from PIL import Image

    model = tmp_path / "model.onnx"
    _argmax_onnx(model)
    image = np.random.default_rng(0).integers(0, 256, (6, 9, 3), dtype="uint8")
    Image.fromarray(image).save(tmp_path / "photo.png")
    code = (
        "import sys\n"
        "from keras_fcn.cli import main\n"
        f"status = main(['predict', '--model', {str(model)!r}, {str(tmp_path / 'photo.png')!r}, "
        f"'--output', {str(tmp_path / 'out')!r}])\n"
        "assert status == 0 and 'onnxruntime' in sys.modules, status\n" + NO_FRAMEWORK_IMPORTED
    )
    result = run_python(["-c", code], "tensorflow")
    assert result.returncode == 0, result.stderr
    mask = np.asarray(Image.open(tmp_path / "out" / "photo_mask.png"))
    np.testing.assert_array_equal(mask, image.argmax(axis=-1))
