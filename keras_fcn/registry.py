"""The model registry: one entry per model name, the only list of model names in the project.

Each entry says how to build the model (its builder and the geometries it takes), how its paper
trained it (its `Recipe`), the input size it is usually run at, and the classes of the dataset
its paper trained it on. The command line's choices, the benchmarks' model lists and the paper
recipes all read it. Adding a model to the project is a new module in `keras_fcn/models/` plus
one entry in `MODELS` below.
"""

import dataclasses
import inspect
from collections.abc import Callable

import keras

from keras_fcn.classes import VOC_CLASS_NAMES
from keras_fcn.models import fcn, fcn_alexnet
from keras_fcn.training.recipes import Recipe, l2_for_caffe_weight_decay


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the project knows about one model.

    Args:
        name: the model's name (command line, benchmarks, presets).
        title: how papers and tables write it.
        family: the module of `keras_fcn.models` it comes from (`"fcn"`, ...).
        builder: the function building it, `builder(num_classes, **options)`.
        geometries: the geometries it can be built in, the default first; a builder with more
            than one takes them as `geometry=`. `"original"` is the released net's own.
        native_size: the square input side it is usually run at, by geometry (VOC's 500 for
            the original geometry, the multiple of 32 above it for the aligned one).
        paper_recipe: the solver of the paper's release.
        class_names: the classes of the dataset the paper trained it on.
        reference: the paper and section.
    """

    name: str
    title: str
    family: str
    builder: Callable[..., keras.Model]
    geometries: tuple[str, ...]
    native_size: dict[str, int]
    paper_recipe: Recipe
    class_names: tuple[str, ...]
    reference: str

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword arguments its builder takes besides `num_classes`."""
        parameters = inspect.signature(self.builder).parameters
        return tuple(name for name in parameters if name != "num_classes")


FCN_SOLVER = Recipe(
    name="paper",
    optimizer="sgd",
    learning_rate=1e-10,
    momentum=0.99,
    loss_reduction="sum",
    l2=l2_for_caffe_weight_decay(5e-4),
    batch_size=1,
)
"""The original FCN solver (`solver.prototxt`, `solve.py`): SGD with momentum 0.99 and a fixed
rate, the loss summed over pixels (not averaged), Caffe's weight decay 5e-4, batch 1, whole images
without augmentation. The learning rate differs per net. Keras has no per-variable learning
rate, so the original's doubled bias rate is not reproduced."""

FCN_ALEXNET_SOLVER = Recipe(
    name="paper",
    optimizer="sgd",
    learning_rate=1e-4,
    momentum=0.9,
    loss_reduction="sum_over_batch_size",
    l2=l2_for_caffe_weight_decay(5e-4),
    batch_size=1,
)
"""FCN-AlexNet's solver (`voc-fcn-alexnet/solver.prototxt`), unlike the VGG16 nets': SGD with
standard momentum 0.9 and a fixed rate of 1e-4 on the loss averaged over labelled pixels
(`normalize: true`), weight decay 5e-4, whole images one at a time. The original accumulates the
gradients of 20 images per step (`iter_size: 20`); the recipe's batches of one do not."""

_FCN_NATIVE_SIZE = {"original": 500, "aligned": 512}
_FCN_REFERENCE = "Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016"

MODELS = {
    entry.name: entry
    for entry in (
        ModelEntry(
            name="fcn32s",
            title="FCN-32s",
            family="fcn",
            builder=fcn.FCN32s,
            geometries=fcn.GEOMETRIES,
            native_size=_FCN_NATIVE_SIZE,
            paper_recipe=dataclasses.replace(FCN_SOLVER, learning_rate=1e-10),
            class_names=VOC_CLASS_NAMES,
            reference=_FCN_REFERENCE,
        ),
        ModelEntry(
            name="fcn16s",
            title="FCN-16s",
            family="fcn",
            builder=fcn.FCN16s,
            geometries=fcn.GEOMETRIES,
            native_size=_FCN_NATIVE_SIZE,
            paper_recipe=dataclasses.replace(FCN_SOLVER, learning_rate=1e-12),
            class_names=VOC_CLASS_NAMES,
            reference=_FCN_REFERENCE,
        ),
        ModelEntry(
            name="fcn8s",
            title="FCN-8s",
            family="fcn",
            builder=fcn.FCN8s,
            geometries=fcn.GEOMETRIES,
            native_size=_FCN_NATIVE_SIZE,
            paper_recipe=dataclasses.replace(FCN_SOLVER, learning_rate=1e-14),
            class_names=VOC_CLASS_NAMES,
            reference=_FCN_REFERENCE,
        ),
        ModelEntry(
            name="fcn8s-atonce",
            title="FCN-8s at-once",
            family="fcn",
            builder=fcn.FCN8sAtOnce,
            geometries=fcn.GEOMETRIES,
            native_size=_FCN_NATIVE_SIZE,
            paper_recipe=dataclasses.replace(FCN_SOLVER, learning_rate=1e-10),
            class_names=VOC_CLASS_NAMES,
            reference=_FCN_REFERENCE,
        ),
        ModelEntry(
            name="fcn-alexnet",
            title="FCN-AlexNet",
            family="fcn_alexnet",
            builder=fcn_alexnet.FCNAlexNet,
            geometries=("original",),
            native_size={"original": 500},
            paper_recipe=FCN_ALEXNET_SOLVER,
            class_names=VOC_CLASS_NAMES,
            reference="Long, Shelhamer & Darrell, CVPR 2015, section 4.1 and table 1",
        ),
    )
}
"""Every model of the project, by name."""


def get(name: str) -> ModelEntry:
    """The registry entry of a model.

    Example:

    >>> get("fcn8s").paper_recipe.learning_rate
    1e-14
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; the models are {', '.join(MODELS)}.")
    return MODELS[name]


def build(name: str, num_classes: int, **options) -> keras.Model:
    """Builds a model of the registry by name.

    Args:
        name: a key of `MODELS`.
        num_classes: classes scored.
        **options: keyword arguments of the model's builder (`weights`, `geometry`,
            `fc_units`, ...); `geometry=None` is the model's default geometry.

    Returns:
        The model.

    Raises:
        ValueError: for an unknown model, an option its builder does not take, or a geometry it
            does not have.

    Example:

    >>> model = build("fcn16s", num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> model.name
    'fcn16s'
    """
    entry = get(name)
    geometry = options.pop("geometry", None)
    if geometry is not None and geometry not in entry.geometries:
        raise ValueError(
            f"Model {name!r} has the geometries {entry.geometries}; received geometry={geometry!r}."
        )
    if geometry is not None and "geometry" in entry.options:
        options["geometry"] = geometry
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise ValueError(
            f"Model {name!r} takes no option {', '.join(unknown)}; its options are "
            f"{', '.join(entry.options)}."
        )
    return entry.builder(num_classes, **options)
