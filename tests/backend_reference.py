"""TensorFlow's logits of every registry model, for the tests of the other backends to match.

Run on the TensorFlow backend, in its own process when the tests run on JAX or PyTorch (whose
test process cannot import TensorFlow, see tests/conftest.py):

    KERAS_BACKEND=tensorflow python tests/backend_reference.py write DIRECTORY
    KERAS_BACKEND=tensorflow python tests/backend_reference.py read MODEL.keras INPUTS.npz OUT.npz

`write` builds every model of `keras_fcn.registry.MODELS` (`models()`: a ResNet-101 net only
where no ResNet-50 twin stands for it) in each of its geometries, narrow (`fc_units=8` where the
builder takes it; a ResNet has no width option, but a net whose backbone is an option gets
ResNet-50, and RefineNet is built as its ResNet-50 twin, `TWINS`), gives every trainable
variable seeded random values (a fresh FCN scores zero everywhere, which would compare nothing),
saves it as `DIRECTORY/NAME-GEOMETRY.keras` and its logits on a seeded image of odd size in
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
SMALLEST_BACKBONE = "resnet50"
"""The backbone of the nets that take one as an option (GCN's ResNet-152 builds the same layers
as ResNet-50 with 43 more blocks)."""
TWINS = {
    "refinenet101": {
        "depth": 50,
        "adapt_widths": (NARROW, 4, 4, 4),
        "upsampling": "bicubic",
    },
}
"""Registry nets built here as a twin their builder takes and no release trained: RefineNet on
ResNet-50 (the release's ResNet-101 has the same layers with 17 more conv4 blocks), narrow, with
MATLAB's bicubic resize (the release's, and the one resize of its own)."""
IMAGE_SHAPE = (1, 37, 45, 3)
"""An odd height and width, neither a multiple of 32 nor equal to each other."""


def models() -> list[str]:
    """Every model of the registry but the ResNet-101 nets whose ResNet-50 twins are there: the
    same layers with 17 more conv4 blocks, which would add about 45 s each on PyTorch's CPU
    backend and 240 MB of `.keras` file, and no operation. Auto-DeepLab-M and -L are left out
    likewise: -S has their layers, narrower. RefineNet-101 is built on ResNet-50 (`TWINS`) and
    stands for RefineNet-152."""
    return [
        name
        for name in registry.MODELS
        if ("101" not in name or name.replace("101", "50") not in registry.MODELS)
        and name not in ("auto-deeplab-m", "auto-deeplab-l", "refinenet152")
    ]


def cases() -> list[tuple[str, str]]:
    """Every (model name, geometry) of `models()`."""
    return [(name, geometry) for name in models() for geometry in registry.get(name).geometries]


def build_narrow(name: str, geometry: str) -> keras.Model:
    """A registry model with random weights (nothing downloads), narrow where it can be."""
    entry = registry.get(name)
    options = {"weights": None, "geometry": geometry}
    if "fc_units" in entry.options:
        options["fc_units"] = NARROW
    if "backbone" in entry.options:
        options["backbone"] = SMALLEST_BACKBONE
    if name in TWINS:
        del options["geometry"]  # the twins have one
        return entry.builder(NUM_CLASSES, **{**entry.fixed, **TWINS[name]}, **options, name=name)
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
