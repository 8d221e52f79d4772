"""The modules of `keras_fcn.data` import each other one way: no module reaches itself again.

Every import counts, read from the source with `ast`: at module level, inside functions and
under `if TYPE_CHECKING:`, absolute or relative. The package's `__init__.py` is the node
`keras_fcn.data`.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_fcn" / "data"
NAME = "keras_fcn.data"


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((NAME, *parts))


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_names(source: str, package: str) -> set[str]:
    """The dotted names that a module's imports reach, anywhere in its source.

    `from a import b` reaches `a` and `a.b`; a relative import resolves against `package`, the
    package that holds the module.
    """
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the package that it imports."""
    graph = {}
    for module, path in MODULES.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        names = imported_names(path.read_text(), package)
        graph[module] = {name for name in names if name in MODULES and name != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as the list of its modules, first one repeated at the end; `None`."""
    done, path = set(), []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_modules_of_the_data_package_import_each_other_without_a_cycle():
    assert find_cycle(import_graph()) is None


def test_imports_inside_functions_type_checking_blocks_and_relative_ones_count():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from keras_fcn.data.spec import DatasetSpec\n"
        "def build():\n"
        "    from . import voc\n"
        "    from ..classes import IGNORE_LABEL\n"
    )
    names = imported_names(source, "keras_fcn.data")
    assert {"keras_fcn.data.spec", "keras_fcn.data.voc", "keras_fcn.classes"} <= names


def test_the_data_modules_import_what_they_are_known_to():
    graph = import_graph()
    assert "keras_fcn.data.sources" in graph["keras_fcn.data.spec"]
    assert "keras_fcn.data.checks" in graph["keras_fcn.data.dataset_problems"]
    assert "keras_fcn.data.spec" not in graph["keras_fcn.data.sources"]


def test_a_cycle_is_found_however_long():
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
