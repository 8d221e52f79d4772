"""`import keras_fcn` registers every serializable class of its source once Keras is imported,
in whichever order the two are imported, so `keras.models.load_model` reads a `.keras` file of
the library's layers without `custom_objects`; and it imports neither Keras nor a backend."""

import ast
import pathlib

import keras
import numpy as np
import pytest
from backend_processes import NO_FRAMEWORK_IMPORTED, ROOT, run_python

from keras_fcn.layers import MatmulConv2D, PadToMultiple


def registered_in_the_source() -> set[str]:
    """`keras_fcn>NAME` of every class that the package's source decorates with
    `register_keras_serializable(package="keras_fcn")`."""
    names = set()
    for path in (ROOT / "keras_fcn").rglob("*.py"):
        for node in ast.walk(ast.parse(pathlib.Path(path).read_text())):
            if isinstance(node, ast.ClassDef) and any(
                "register_keras_serializable" in ast.unparse(decorator)
                and "keras_fcn" in ast.unparse(decorator)
                for decorator in node.decorator_list
            ):
                names.add(f"keras_fcn>{node.name}")
    return names


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> tuple[str, str]:
    """A tiny model of two keras_fcn layers saved as .keras, and its outputs on an input."""
    directory = tmp_path_factory.mktemp("serializables")
    inputs = keras.Input((5, 7, 3))
    model = keras.Model(inputs, MatmulConv2D(2, 3)(PadToMultiple(4)(inputs)))
    images = np.random.default_rng(0).random((1, 5, 7, 3), dtype="float32")
    path = str(directory / "tiny.keras")
    model.save(path)
    np.save(directory / "images.npy", images)
    np.save(directory / "expected.npy", keras.ops.convert_to_numpy(model(images)))
    return path, str(directory)


@pytest.mark.parametrize(
    ("package", "name"),
    [("keras_fcn", "FCN8s"), ("keras_fcn.layers", "MatmulConv2D"), ("keras_fcn.models", "FCN8s")],
)
def test_importing_a_package_imports_no_framework(package, name):
    code = f"import {package}\nassert {name!r} in dir({package})\n" + NO_FRAMEWORK_IMPORTED
    result = run_python(["-c", code], "tensorflow")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "imports",
    [
        "import keras_fcn; import keras",
        "import keras; import keras_fcn",
        "import keras_fcn.data",  # its chain imports TensorFlow, which imports Keras
        "import keras_fcn; import tensorflow",  # Keras imported inside TensorFlow's import
        "import keras_fcn.layers; import keras",
        "import keras; import keras_fcn.models",
    ],
)
def test_a_saved_model_loads_without_custom_objects(saved_model, imports):
    path, directory = saved_model
    code = (
        f"{imports}\n"
        "import keras, numpy as np\n"
        f"model = keras.models.load_model({path!r})\n"
        f"outputs = keras.ops.convert_to_numpy(model(np.load({directory!r} + '/images.npy')))\n"
        f"np.testing.assert_allclose(outputs, np.load({directory!r} + '/expected.npy'), "
        "rtol=1e-6)\n"
        "print(*sorted(k for k in keras.saving.get_custom_objects() if k[:10] == 'keras_fcn>'))\n"
    )
    result = run_python(["-c", code], "tensorflow")
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(result.stdout.split()) == registered_in_the_source()


def test_public_names_resolve_to_their_modules():
    import keras_fcn
    from keras_fcn import layers, models
    from keras_fcn.layers.matmul_conv import MatmulConv2D
    from keras_fcn.models.fcn import FCN8s, build_fcn

    assert keras_fcn.FCN8s is models.FCN8s is FCN8s
    assert keras_fcn.MatmulConv2D is layers.MatmulConv2D is MatmulConv2D
    assert models.build_fcn is build_fcn and "build_fcn" not in keras_fcn.__all__
    assert keras_fcn.metrics.__name__ == "keras_fcn.metrics"
    for package in (keras_fcn, layers, models):
        assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'FCN9s'"):
        keras_fcn.FCN9s  # noqa: B018
