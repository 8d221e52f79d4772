"""Python processes on a chosen Keras backend, with or without TensorFlow, for the tests.

`block_tensorflow()` makes the calling process see no TensorFlow, as on a machine without it
(the accelerator machines have JAX and PyTorch only): every finder on `sys.meta_path` is wrapped
so that it finds no `tensorflow` module, so `importlib.util.find_spec("tensorflow")` is `None`
and `import tensorflow` raises `ModuleNotFoundError`, exactly as where it is not installed.
(`sys.modules["tensorflow"] = None` would not do: Keras reads a name in `sys.modules` as
"imported", and its preprocessing layers then fail looking for a `tf.data` graph; a finder that
raises breaks PyTorch, whose compiler probes for TensorFlow with `find_spec`.)

`run_python` starts `python ARGUMENTS` from the repository root on a backend, optionally with
TensorFlow blocked the same way; `NO_FRAMEWORK_IMPORTED` ends the code of a process that must
import no framework.
"""

import importlib.metadata
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")

NO_FRAMEWORK_IMPORTED = (
    "import sys\n"
    f"loaded = [name for name in {FRAMEWORKS!r} if name in sys.modules]\n"
    "assert not loaded, f'imported {loaded}'\n"
)
"""Python code that fails if the process has imported Keras or a backend's framework."""


class _FinderWithout:
    """A `sys.meta_path` finder that finds what the finder it wraps finds, but some packages."""

    def __init__(self, finder, blocked: tuple[str, ...]):
        self.finder = finder
        self.blocked = blocked

    def find_spec(self, name, path=None, target=None):
        hidden = any(name == package or name.startswith(package + ".") for package in self.blocked)
        if hidden or not hasattr(self.finder, "find_spec"):
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, name):
        return getattr(self.finder, name)


def block_tensorflow(*also: str) -> None:
    """Makes this process see no TensorFlow from now on, nor the packages `also` names
    (`"google.protobuf"`)."""
    blocked = ("tensorflow", *also)
    imported = [name for name in blocked if name in sys.modules]
    if imported:
        raise RuntimeError(
            f"{', '.join(imported)} already imported in this process; block earlier."
        )
    sys.meta_path[:] = [
        _FinderWithout(getattr(finder, "finder", finder), blocked) for finder in sys.meta_path
    ]


def tensorflow_installed() -> bool:
    """Whether TensorFlow is installed (without importing it)."""
    try:
        importlib.metadata.version("tensorflow")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def run_python(
    arguments: list[str],
    backend: str,
    without_tensorflow: bool = False,
    timeout: int = 600,
    also_without: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """Runs `python ARGUMENTS` from the repository root with `KERAS_BACKEND=backend`.

    Args:
        arguments: what follows `python`: `["-c", CODE]`, `["-m", MODULE, ...]` or a script and
            its arguments.
        backend: the Keras backend.
        without_tensorflow: block TensorFlow in the process (`block_tensorflow`); only for
            `-c` and `-m`.
        also_without: more packages blocked with TensorFlow (`"google.protobuf"`).
        timeout: seconds before the process is stopped.

    Returns:
        The completed process, its output captured as text.
    """
    if without_tensorflow:
        block = f"import backend_processes; backend_processes.block_tensorflow(*{also_without!r})\n"
        if arguments[0] == "-c":
            arguments = ["-c", block + arguments[1]]
        else:
            module, *rest = arguments[1:]
            arguments = [
                "-c",
                block + f"import runpy, sys; sys.argv = [{module!r}, *{rest!r}]; "
                f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)",
            ]
    environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    environment["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH")) if path
    )
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
