"""TensorFlow's native logs, which the command line shows only with `--verbose`.

TensorFlow's C++ code logs what a user cannot act on: the CPU instructions it was not built for,
oneDNN being on, the CUDA driver it did not find. `TF_CPP_MIN_LOG_LEVEL` turns off what it logs
once running, but not the lines its libraries write while they load, before Abseil's logging is
initialised (`port.cc`, `cudart_stub.cc`): no setting reaches those, so they are taken out of the
standard error of TensorFlow's import. Neither the environment nor the standard error changes
until the command line asks, and only while it runs.
"""

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

from keras_fcn.import_hooks import AroundImport

NATIVE_LOG = re.compile(
    r"[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] "  # Abseil's prefix: I0000 00:00:1796645119.43 ...
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: "  # cpu_feature_guard's second line
)
"""The start of a line of TensorFlow's native logs."""


@contextlib.contextmanager
def _without_native_logs() -> Iterator[None]:
    """Sends file descriptor 2 to a temporary file during the block, then writes every line of
    it but TensorFlow's native logs to standard error."""
    sys.stderr.flush()
    standard_error = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(standard_error, 2)
            os.close(standard_error)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not NATIVE_LOG.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Within the block, TensorFlow logs nothing natively (when it is imported in the block).

    Example:

    >>> with quiet_native_logs():
    ...     os.environ["TF_CPP_MIN_LOG_LEVEL"]
    '3'
    """
    previous = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # errors too: "failed call to cuInit" is one
    finder = AroundImport(_without_native_logs, ("tensorflow",))
    finder.install()
    try:
        yield
    finally:
        finder.remove()
        if previous is None:
            del os.environ["TF_CPP_MIN_LOG_LEVEL"]
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = previous
