"""The optional runtimes and converters of the exports, imported only when a format needs them.

`keras_fcn.export` imports none of them at start-up: a TF Serving user needs neither ONNX
Runtime nor OpenVINO. They come with `pip install keras-fcn[deploy]`.
"""

import importlib
from types import ModuleType

INSTALL_HINT = "pip install 'keras-fcn[deploy]'"
"""How to install every runtime and converter the exports use."""


def require(module: str, package: str | None = None) -> ModuleType:
    """Imports `module`, or raises an `ImportError` that says which package to install.

    Args:
        module: the module to import, e.g. `"openvino"`.
        package: the package on PyPI that provides it, when its name differs.

    Returns:
        The module.

    Example:

    >>> require("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"This export needs the {package or module!r} package, which is not installed: "
            f"{error}. Install it with `pip install {package or module}` or `{INSTALL_HINT}`."
        ) from error
