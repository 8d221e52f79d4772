"""One loader for every weight file: match, check, convert, assign, report.

A reader (`keras_fcn.weights.formats`) gives a file's layers by name (`StoredLayer`); a mapping
of the release (`keras_fcn.weights.mappings`) says, for each layer of a model that holds weights,
which stored layer fills it, of which type and shapes, and how its arrays become the Keras
layer's (`Target`). `load_stored_layers` then checks the whole file against the model before it
sets anything: a layer missing from the file, a stored layer the model lacks (unless the mapping
says why it may be skipped), another type, another shape, or a constant that differs are each a
`ValueError` naming the file, the layer and both shapes, and the model is left as it was. Only
then is each layer read (one at a time), converted and assigned; the report says what was
loaded and what was skipped.
"""

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from keras_fcn.backends import assign_array
from keras_fcn.progress import Progress
from keras_fcn.weights.formats.stored import StoredLayer


@dataclasses.dataclass(frozen=True)
class Target:
    """Where one stored layer goes in a model.

    Args:
        layer: the Keras layer filled.
        source: the stored layer's name.
        type: the type the stored layer must have.
        shapes: the shapes its arrays must have, in the file's layout.
        convert: its arrays (reshaped to `shapes`) → the values of `variables`, in their order
            and Keras' layout.
        check: for a stored layer that only confirms a constant of the model (Caffe's fixed
            `Scale`), returns why its arrays disagree, or `None`; nothing is assigned then.
        variables: the layer's variables it fills, where several stored layers fill one Keras
            layer (Caffe's `BatchNorm` its moving mean and variance, the `Scale` after it its
            γ and β); `None` for all of `layer.weights`.
    """

    layer: keras.layers.Layer
    source: str
    type: str
    shapes: tuple[tuple[int, ...], ...]
    convert: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None
    check: Callable[[list[np.ndarray]], str | None] | None = None
    variables: tuple | None = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What `load_stored_layers` did.

    Args:
        source: the file loaded.
        loaded: the stored layers that filled the model, in the model's order.
        skipped: stored layers left out, each with the mapping's reason.
    """

    source: str
    loaded: tuple[str, ...]
    skipped: Mapping[str, str]


def _check_target(target: Target, stored: StoredLayer, source: str) -> None:
    if stored.type != target.type:
        raise ValueError(
            f"{source}: layer {target.source!r} is a {stored.type} in the file but a "
            f"{target.type} ({type(target.layer).__name__}) in the model."
        )
    if len(stored.shapes) != len(target.shapes) or not all(
        stored.fits(index, shape) for index, shape in enumerate(target.shapes)
    ):
        raise ValueError(
            f"{source}: layer {target.source!r} holds blobs of shapes {list(stored.shapes)} (the "
            f"file's layout), but the model's layer {target.layer.name!r} takes "
            f"{list(target.shapes)}. Is the file another net's, or the model built with other "
            "num_classes or fc_units?"
        )
    if target.check is not None:
        problem = target.check(stored.read())
        if problem:
            raise ValueError(f"{source}: layer {target.source!r} {problem}")


def _listed(names: list[str], limit: int = 12) -> str:
    """Names for a message: the first `limit`, then how many more."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def load_stored_layers(
    model: keras.Model,
    stored: Mapping[str, StoredLayer],
    targets: Sequence[Target],
    source: str,
    skip: Callable[[str], str | None] = lambda name: None,
    verbose: bool = False,
) -> LoadReport:
    """Loads a file's stored layers into a model, all or nothing.

    Args:
        model: the model filled (named in the messages).
        stored: the file's layers (`keras_fcn.weights.formats`).
        targets: one per weight-holding layer of the model (`keras_fcn.weights.mappings`).
        source: the file's path, for the messages and the report.
        skip: for a stored layer no target takes, why it may be left out, or `None` if its
            presence means the file is another net's.
        verbose: show the progress over the layers, with the time left (`Progress`).

    Returns:
        A `LoadReport`.

    Raises:
        ValueError: for a layer missing from the file or from the model, of another type,
            with arrays of other shapes, or a constant that differs; nothing is set then.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="fc")])
    >>> stored = {"fc": StoredLayer.in_memory("fc", "Dense", [np.ones((3, 2)), np.zeros(2)])}
    >>> target = Target(model.get_layer("fc"), "fc", "Dense", ((3, 2), (2,)), lambda a: a)
    >>> load_stored_layers(model, stored, [target], "fc.npz").loaded
    ('fc',)
    """
    targets = list(targets)
    for target in targets:
        if target.source in stored:
            _check_target(target, stored[target.source], source)
    missing = [target.source for target in targets if target.source not in stored]
    taken = {target.source for target in targets}
    skipped = {name: skip(name) for name in stored if name not in taken}
    extra = [name for name, reason in skipped.items() if reason is None]
    if missing or extra:
        raise ValueError(
            f"{source} is not the file of the model {model.name!r}: "
            + (f"it has no layer {_listed(missing)}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"it holds layers the model lacks: {_listed(extra)}" if extra else "")
            + f". The file's layers with weights are {_listed(list(stored))}."
        )
    # Each layer read, converted and assigned in turn: memory holds one layer's arrays (and
    # their converted copy) besides the model's own weights.
    converted = [target for target in targets if target.convert is not None]
    name = os.path.basename(source)
    progress = Progress(len(converted), f"convert {name}", unit="layers") if verbose else None
    for target in converted:
        layer = stored[target.source]
        arrays = [
            array.reshape(shape) for array, shape in zip(layer.read(), target.shapes, strict=True)
        ]
        values = target.convert(arrays)
        del arrays
        variables = target.layer.weights if target.variables is None else target.variables
        for variable, value in zip(variables, values, strict=True):
            assign_array(variable, value)
        del values
        if progress is not None:
            progress.add()
    return LoadReport(source, tuple(target.source for target in targets), skipped)
