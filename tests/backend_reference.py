"""TensorFlow's logits of every registry model, for the tests of the other backends to match.

Run on the TensorFlow backend, in its own process when the tests run on JAX or PyTorch (whose
test process cannot import TensorFlow, see tests/conftest.py):

    KERAS_BACKEND=tensorflow python tests/backend_reference.py write DIRECTORY
    KERAS_BACKEND=tensorflow python tests/backend_reference.py read MODEL.keras INPUTS.npz OUT.npz

`write` builds every model of `keras_fcn.registry.MODELS` (`models()`: a ResNet-101 net only
where no ResNet-50 twin stands for it, RefineNet-101 for RefineNet-152) in each of its
geometries, narrow (`NARROW_OPTIONS` where the builder takes them; a ResNet has no width
option), gives every trainable variable seeded random values
(a fresh FCN scores zero everywhere, which would compare nothing), saves it as
`DIRECTORY/NAME-GEOMETRY.keras` and its logits on a seeded image of odd size in
`DIRECTORY/NAME-GEOMETRY.npz`. `read` loads a `.keras` file written on another backend and
writes its logits on the images of `INPUTS.npz`.
"""

import pathlib
import sys

import keras
import numpy as np

import keras_fcn  # noqa: F401  (registers the layers load_model needs)
from keras_fcn import registry

NUM_CLASSES = 3
NARROW = 8
NARROW_OPTIONS = {
    "fc_units": NARROW,
    "adapt_widths": (NARROW,) * 4,
    "upsampling": "bicubic",  # RefineNet's other resize: MATLAB's imresize, on every backend
}
"""The options of `build_narrow`, each where the model's entry takes it."""

TWINS = {"resnet101": "resnet50", "refinenet152": "refinenet101"}
"""A net whose shallower twin (the same layers with fewer ResNet blocks) stands for it."""
IMAGE_SHAPE = (1, 37, 45, 3)
"""An odd height and width, neither a multiple of 32 nor equal to each other."""


def models() -> list[str]:
    """Every model of the registry but those whose shallower twins are there (`TWINS`): the
    same layers with more ResNet blocks, which would add about 45 s each on PyTorch's CPU
    backend and hundreds of MB of `.keras` file, and no operation."""
    return [
        name
        for name in registry.MODELS
        if not any(
            deep in name and name.replace(deep, shallow) in registry.MODELS
            for deep, shallow in TWINS.items()
        )
    ]


def cases() -> list[tuple[str, str]]:
    """Every (model name, geometry) of `models()`."""
    return [(name, geometry) for name in models() for geometry in registry.get(name).geometries]


def build_narrow(name: str, geometry: str) -> keras.Model:
    """A registry model with random weights (nothing downloads), narrow where it can be."""
    options = {"weights": None, "geometry": geometry}
    entry_options = registry.get(name).options
    options.update({key: value for key, value in NARROW_OPTIONS.items() if key in entry_options})
    return registry.build(name, NUM_CLASSES, **options)


def randomize(model: keras.Model, seed: int = 0) -> keras.Model:
    """Seeded values for every trainable variable: He-normal kernels, small biases."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        shape = tuple(variable.shape)
        scale = np.sqrt(2.0 / np.prod(shape[:-1])) if len(shape) > 1 else 0.1
        variable.assign(rng.normal(0.0, scale, shape).astype(variable.dtype))
    return model


def image(seed: int = 0) -> np.ndarray:
    """A seeded float32 image batch with values in [0, 255]."""
    return np.random.default_rng(seed).integers(0, 256, IMAGE_SHAPE).astype("float32")


def logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(images, training=False))


def write(directory: pathlib.Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    images = image()
    for name, geometry in cases():
        model = randomize(build_narrow(name, geometry))
        model.save(directory / f"{name}-{geometry}.keras")
        np.savez(directory / f"{name}-{geometry}.npz", images=images, logits=logits(model, images))
        keras.backend.clear_session()


def read(model_path: pathlib.Path, inputs: pathlib.Path, output: pathlib.Path) -> None:
    model = keras.saving.load_model(model_path)
    np.savez(output, logits=logits(model, np.load(inputs)["images"]))


if __name__ == "__main__":
    if keras.backend.backend() != "tensorflow":
        sys.exit(f"Run with KERAS_BACKEND=tensorflow; the backend is {keras.backend.backend()}.")
    command, *paths = sys.argv[1:]
    {"write": write, "read": read}[command](*map(pathlib.Path, paths))
