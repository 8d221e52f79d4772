"""How the package imports: its public names on first use, and code run around the outermost
import of some modules.

`lazy_package` makes a package import each public name from its module when it is first used,
so that importing `keras_fcn` or `keras_fcn.export` imports no Keras or TensorFlow. `keras_fcn`
registers its serializable classes once Keras is imported (`keras_fcn.serializables`),
and the command line quiets TensorFlow's native start-up logs; both need to act when a module is
imported, without importing it themselves, and only once the import is complete: a module that
the import chain left half-initialised cannot be imported from again.
"""

import contextlib
import importlib
import importlib.abc
import sys
import threading
import types
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager


class _LazyPackage(types.ModuleType):
    """A package whose public names (`_LAZY`, name to module) are imported on first use."""

    def __getattr__(self, name: str):
        source = self._LAZY.get(name)
        if source is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        if source == self.__name__:  # a submodule
            value = importlib.import_module(f"{source}.{name}")
        else:
            value = getattr(importlib.import_module(source), name)
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value) -> None:
        # Importing a submodule sets it on its package: a public name it shares with its module
        # (keras_fcn.export.segmenter, the function) keeps meaning what the table says.
        if isinstance(value, types.ModuleType) and self._LAZY.get(name, self.__name__) != (
            self.__name__
        ):
            return
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self._LAZY})


def lazy_package(name: str, *tables: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Makes the package `name` import its public names from their modules on first use.

    Args:
        name: the package's `__name__`.
        *tables: for each module, the names the package takes from it, as `from MODULE import
            NAMES` would; the package itself as the module names its submodules. A package
            that also exports a subpackage's names passes that subpackage's table.

    Returns:
        The public names, sorted: the package's `__all__`.

    Example:

    >>> import keras_fcn.export, sys
    >>> "export_model" in dir(keras_fcn.export)
    True
    """
    package = sys.modules[name]
    package._LAZY = {
        public: module for table in tables for module, names in table.items() for public in names
    }
    package.__class__ = _LazyPackage
    return sorted(package._LAZY)


class _Loader:
    """A loader that executes its module inside its finder's `around` (see `AroundImport`)."""

    def __init__(self, loader, finder: "AroundImport"):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self._loader  # the module sees its own
        self._finder._execute(self._loader, module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class AroundImport(importlib.abc.MetaPathFinder):
    """A `sys.meta_path` finder that runs a context manager around the outermost import of
    some modules.

    It finds nothing itself: it asks the finders after it, and wraps the loader of the spec
    they return, so that `around()` is entered when the first of the modules starts executing
    and exited when that one is done, together with every module of the list it imported
    meanwhile, whatever the nesting (`import a.b` importing `keras` importing `a.c`).

    Args:
        around: makes the context manager, once per outermost import; its exit runs the code
            that needs the imports complete.
        names: modules, by their full names.
        packages: packages whose every submodule counts as well (not the package itself).

    Example:

    >>> import contextlib, sys
    >>> @contextlib.contextmanager
    ... def around():
    ...     yield
    ...     print("imported:", sys.modules["colorsys"].rgb_to_hsv(1.0, 0.0, 0.0))
    >>> finder = AroundImport(around, ("colorsys",))
    >>> finder.install()
    >>> _ = sys.modules.pop("colorsys", None)
    >>> import colorsys
    imported: (0.0, 1.0, 1.0)
    >>> finder.remove()
    """

    def __init__(
        self,
        around: Callable[[], AbstractContextManager],
        names: tuple[str, ...],
        packages: tuple[str, ...] = (),
    ):
        self._around = around
        self._names = names
        self._prefixes = tuple(f"{package}." for package in packages)
        self._depth = 0  # imports of the list in progress, in every thread
        self._finding = threading.local()  # the names this thread is finding

    def install(self) -> None:
        """Puts the finder first on `sys.meta_path`."""
        sys.meta_path.insert(0, self)

    def remove(self) -> None:
        """Takes the finder off `sys.meta_path` (the imports already found keep their hook)."""
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)

    def find_spec(self, name, path=None, target=None):
        finding = self._finding.__dict__.setdefault("names", set())
        if name in finding or not (name in self._names or name.startswith(self._prefixes)):
            return None
        finding.add(name)  # a finder that wraps this one would call it back
        try:
            spec = None
            for finder in list(sys.meta_path):
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(name, path, target)
                    if spec is not None:
                        break
        finally:
            finding.discard(name)
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, self)
        return spec

    def _execute(self, loader, module) -> None:
        with self._around() if self._depth == 0 else contextlib.nullcontext():
            self._depth += 1
            try:
                loader.exec_module(module)
            finally:
                self._depth -= 1
