"""What the command line imports and prints before it works: `--help` needs no Keras, and
TensorFlow's native logs stay out unless `--verbose`."""

import os
import re

import pytest
from backend_processes import run_python

from keras_fcn.cli.native_logs import NATIVE_LOG, quiet_native_logs

FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")

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
        "import sys\n"
        "from keras_fcn.cli import main\n"
        f"for argv in [['--help']] + [[command, '--help'] for command in {COMMANDS!r}]:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, (argv, exit.code)\n"
        "    else:\n"
        "        raise AssertionError(argv)\n"
        f"loaded = [name for name in {FRAMEWORKS!r} if name in sys.modules]\n"
        "assert not loaded, loaded\n"
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
