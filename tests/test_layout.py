"""The package's import direction, read from the source: lower layers never import higher ones.

layers ← backbones ← models ← weights, training, evaluation ← export, registry ← demo ← cli
(export's accuracy guard scores with evaluation's report). The model graph
(layers, backbones, models) and the metrics use keras.layers and keras.ops only, so that every
Keras backend runs them: no TensorFlow import there.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_fcn"

LEVELS = {
    "classes": 0,
    "backends": 0,
    "downloads": 0,
    "progress": 0,
    "import_hooks": 0,
    "model_info": 1,
    "layers": 1,
    "backbones": 2,
    "models": 3,
    "metrics": 1,
    "inference": 2,  # PSPNet's protocols resize with layers' MATLAB imresize
    "weights": 4,
    "training": 5,
    "export": 5,
    "evaluation": 4,
    "uncertainty": 4,
    "visualization": 4,
    "data": 4,
    "model_options": 0,
    "registry": 6,
    "serializables": 6,
    "presets": 7,
    "demo": 7,
    "cli": 8,
    "__main__": 9,
    "__init__": 9,
}
"""The level of each top-level module or package; a module imports only lower levels (or its
own package)."""

KERAS_ONLY = ("layers", "backbones", "models", "metrics", "uncertainty")
"""Packages that must not import TensorFlow at module level."""


def top_level(path: pathlib.Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def imported_modules(path: pathlib.Path, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_level():
    assert {top_level(path) for path in SOURCES} <= set(LEVELS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_go_one_way(path):
    own = top_level(path)
    for name in imported_modules(path):
        parts = name.split(".")
        if parts[0] != "keras_fcn" or len(parts) == 1 or parts[1] == own:
            continue
        target = parts[1]
        if target not in LEVELS:  # a name imported from keras_fcn/__init__.py
            target = "__init__"
        assert LEVELS[target] < LEVELS[own], f"{own} imports {name} (level {LEVELS[target]})"


@pytest.mark.parametrize(
    "path",
    [path for path in SOURCES if top_level(path) in KERAS_ONLY],
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_the_model_graph_does_not_import_tensorflow_at_module_level(path):
    imported = imported_modules(path, module_level_only=True)
    assert not {name for name in imported if name.split(".")[0] == "tensorflow"}
