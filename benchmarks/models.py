"""The models the benchmarks time, taken from `keras_fcn.registry`: names, geometries, sizes.

No benchmark keeps its own list of models: the choices of `--models` are the registry's names,
those of `--geometries` the geometries its entries take, and each entry's native input size is
the one its geometry is usually run at.
"""

import argparse
from collections.abc import Sequence

import keras
import numpy as np

from keras_fcn import registry

GEOMETRIES = tuple(
    dict.fromkeys(geometry for entry in registry.MODELS.values() for geometry in entry.geometries)
)
"""Every geometry some model of the registry takes, in the registry's order."""


def build(name: str, geometry: str, fc_units: int | None) -> keras.Model:
    """A model of the registry with random weights (nothing downloads), scoring its paper's classes.

    Args:
        name: a key of `keras_fcn.registry.MODELS`.
        geometry: one of the entry's `geometries`.
        fc_units: width of fc6 and fc7 for the models that have them (not SegNet); `None` for
            the model's own (4096 for FCN and Dilation, 1024 for DeepLab).

    Returns:
        The model.
    """
    entry = registry.get(name)
    options = {"fc_units": fc_units} if fc_units and "fc_units" in entry.options else {}
    return registry.build(name, len(entry.class_names), weights=None, geometry=geometry, **options)


def with_trained_statistics(model: keras.Model, seed: int = 0) -> keras.Model:
    """`model` with the nonzero biases and batch-normalization statistics a trained net has:
    biases and BN shifts and means drawn around 0 (standard deviation 0.1), BN scales and
    variances in [0.5, 1.5). A fresh net's are zero and one, so its folded biases are zero,
    which TensorFlow's graph optimizer removes, and the activation after each convolution then
    runs apart instead of fused into it: a timing of a fresh net is not one of a trained net.

    Example:

    >>> images = keras.Input((None, None, 3))
    >>> model = keras.Model(images, keras.layers.Conv2D(2, 1)(images))
    >>> bool(np.all(with_trained_statistics(model).layers[1].bias.numpy() != 0))
    True
    """
    rng = np.random.default_rng(seed)

    def values(variable, low=None, high=None):
        shape = tuple(variable.shape)
        drawn = rng.normal(0.0, 0.1, shape) if low is None else rng.uniform(low, high, shape)
        variable.assign(drawn.astype(variable.dtype))

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for variable in (layer.beta, layer.moving_mean):
                if variable is not None:
                    values(variable)
            for variable in (layer.gamma, layer.moving_variance):
                if variable is not None:
                    values(variable, 0.5, 1.5)
        elif getattr(layer, "bias", None) is not None:
            values(layer.bias)
    return model


def build_in_precision(
    name: str, geometry: str, fc_units: int | None, precision: str
) -> keras.Model:
    """`build` under a Keras dtype policy (`"mixed_bfloat16"`, ...); the global policy is float32
    again afterwards."""
    keras.mixed_precision.set_global_policy(precision)
    try:
        return build(name, geometry, fc_units)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def num_classes(name: str) -> int:
    """Classes a model scores: those of the dataset its paper trained it on."""
    return len(registry.get(name).class_names)


def native_size(name: str, geometry: str) -> tuple[int, int]:
    """The input `(height, width)` a model is usually run at in a geometry."""
    return registry.get(name).native_size[geometry]


def training_geometry(name: str) -> str:
    """The geometry a model trains in by default: the aligned one (inputs padded to a multiple
    of 32) where the model has it, else its own."""
    geometries = registry.get(name).geometries
    return "aligned" if "aligned" in geometries else geometries[0]


def geometries_of(names: Sequence[str]) -> list[str]:
    """Every geometry some of the models `names` take, in the registry's order."""
    return [
        geometry
        for geometry in GEOMETRIES
        if any(geometry in registry.get(name).geometries for name in names)
    ]


def own_geometries(names: Sequence[str], geometries: Sequence[str]) -> list[tuple[str, str]]:
    """The `(model, geometry)` pairs among `names` × `geometries` that the registry has."""
    return [
        (name, geometry)
        for name in names
        for geometry in geometries
        if geometry in registry.get(name).geometries
    ]


def check_geometries(
    parser: argparse.ArgumentParser, names: Sequence[str], geometries: Sequence[str]
) -> None:
    """Stops the parser with a message where a selected model lacks a selected geometry."""
    for name in names:
        missing = [
            geometry for geometry in geometries if geometry not in registry.get(name).geometries
        ]
        if missing:
            parser.error(
                f"model {name!r} has the geometries {registry.get(name).geometries}; received "
                f"{', '.join(missing)}. Choose among its geometries or leave the flag out."
            )
