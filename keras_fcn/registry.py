"""The model registry: one entry per model name, the only list of model names in the project.

Each entry says how to build the model (its builder and the geometries it takes), how its paper
trained it (its `Recipe`), the input size it is usually run at, and the classes of the dataset
its paper trained it on. The command line's choices, the benchmarks' model lists and the paper
recipes all read it. Adding a model to the project is a new module in `keras_fcn/models/` plus
one entry in `MODELS` below.
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable

import keras

from keras_fcn.classes import CAMVID_CLASS_NAMES, VOC_CLASS_NAMES
from keras_fcn.models import deeplab, dilation, fcn, fcn_alexnet, segnet
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
        native_size: the input size `(height, width)` it is usually run at, by geometry (VOC's
            500×500 for FCN's original geometry, the multiple of 32 above it for the aligned
            one; DeepLab's 513×513 test crop; CamVid's 360×480 for SegNet).
        paper_recipe: the solver of the paper's release.
        class_names: the classes of the dataset the paper trained it on.
        reference: the paper and section.
    """

    name: str
    title: str
    family: str
    builder: Callable[..., keras.Model]
    geometries: tuple[str, ...]
    native_size: dict[str, tuple[int, int]]
    paper_recipe: Recipe
    class_names: tuple[str, ...]
    reference: str

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword arguments its builder takes besides `num_classes`."""
        parameters = inspect.signature(self.builder).parameters
        return tuple(name for name in parameters if name != "num_classes")


BIASES_AT_TWICE_THE_RATE = (("*/bias", 2.0),)
"""Caffe's `lr_mult: 2` on every bias, as FCN's, DeepLab's and Dilation's prototxts set it."""

FCN_SOLVER = Recipe(
    name="paper",
    optimizer="sgd",
    learning_rate=1e-10,
    momentum=0.99,
    learning_rate_multipliers=BIASES_AT_TWICE_THE_RATE,
    loss_reduction="sum",
    l2=l2_for_caffe_weight_decay(5e-4),
    batch_size=1,
)
"""The original FCN solver (`solver.prototxt`, `solve.py`, `net.py`): SGD with momentum 0.99 and
a fixed rate, biases at twice the rate, the loss summed over pixels (not averaged), Caffe's
weight decay 5e-4 on the weights (not the biases), batch 1, whole images without augmentation.
The learning rate differs per net."""

DEEPLAB_SOLVER = Recipe(
    name="paper",
    optimizer="sgd",
    learning_rate=1e-3,
    momentum=0.9,
    schedule="poly",
    poly_power=0.9,
    learning_rate_multipliers=(
        (f"{deeplab.SCORE_NAME}*/kernel", 10.0),
        (f"{deeplab.SCORE_NAME}*/bias", 20.0),
        *BIASES_AT_TWICE_THE_RATE,
    ),
    label_stride=deeplab.OUTPUT_STRIDE,
    l2=l2_for_caffe_weight_decay(5e-4),
    batch_size=10,
    crop_size=321,
    augment=True,
    scale_range=(1.0, 1.0),
)
"""DeepLab's VGG16 solver: SGD with momentum 0.9, base rate 1e-3 with the "poly" decay (power
0.9; PAMI 2017 table 3: 65.88 mean IU with batch 10 and 20k iterations, against 62.25 for the
v1 release's step schedule), the new classifier `fc8_voc12` at 10× (biases 20×) and every other
bias at 2× (`train.prototxt`'s `lr_mult`), weight decay 5e-4, the loss averaged over labelled
pixels of the labels subsampled 8× (`label_shrink`), batches of random 321×321 crops, mirrored
and not rescaled, as the release's `ImageSegData` layer takes them."""

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

DILATION_SOLVER = Recipe(
    name="paper",
    optimizer="sgd",
    learning_rate=1e-4,
    momentum=0.9,
    learning_rate_multipliers=BIASES_AT_TWICE_THE_RATE,
    label_stride=dilation.OUTPUT_STRIDE,
    l2=l2_for_caffe_weight_decay(5e-4),
    batch_size=14,
    crop_size=500,
    augment=True,
    scale_range=(1.0, 1.0),
)
"""The Dilation front-end's solver (`fyu/dilation`, `train.py` and `docs/training.md`): SGD
with momentum 0.9 at 1e-4 (the code's front-end default; its step decay by 10 comes only after
100k iterations), biases at 2×, weight decay 5e-4, the loss averaged over labelled pixels of the
labels sliced every 8 pixels (`label_slice`), batches of 14 random 500×500 crops, mirrored. The
release crops 500×500 windows of the reflected image (128×128 pixels of labels); the model here
reflects each crop itself. The context module's joint training with the front-end uses 1e-5
(`train.py joint`), after the module alone was trained at 1e-3 on stored front-end scores,
which one recipe does not express."""

_FCN_NATIVE_SIZE = {"original": (500, 500), "aligned": (512, 512)}
_FCN_REFERENCE = "Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016"
_DEEPLAB_REFERENCE = "Chen et al., ICLR 2015, section 4.1; Chen et al., PAMI 2017, section 3.2"
_DILATION_REFERENCE = "Yu & Koltun, ICLR 2016, sections 3 and 4"

SEGNET_SOLVER = Recipe(
    name="paper",
    optimizer="sgd",
    learning_rate=1e-3,
    momentum=0.9,
    l2=l2_for_caffe_weight_decay(5e-4),
    batch_size=4,
    class_weights="median-frequency",
)
"""SegNet-Tutorial's solver (`Models/segnet_solver.prototxt`): SGD with momentum 0.9 and a fixed
rate (0.001 for SegNet, 0.1 for SegNet-Basic, `segnet_basic_solver.prototxt`; the Bayesian
solvers are the same), Caffe's weight decay 5e-4, batches of 4 whole 360×480 images
(`batch_size` of the train prototxts; the paper reports mini-batches of 12 for its SegNet-Basic
comparisons), the loss averaged over labelled pixels (`SoftmaxWithLoss`, normalised) and
weighted by median-frequency class weights (the prototxts' `class_weighting`, computed here from
the training labels). The weight decay also applies to
the BN scales (`compile_for_training`); Caffe's doubled bias rate is not reproduced."""

_SEGNET_NATIVE_SIZE = {"original": (360, 480)}
_SEGNET_REFERENCE = "Badrinarayanan, Kendall & Cipolla, PAMI 2017"
_BAYESIAN_REFERENCE = f"{_SEGNET_REFERENCE}; Kendall, Badrinarayanan & Cipolla, BMVC 2017"

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
            native_size={"original": (500, 500)},
            paper_recipe=FCN_ALEXNET_SOLVER,
            class_names=VOC_CLASS_NAMES,
            reference="Long, Shelhamer & Darrell, CVPR 2015, section 4.1 and table 1",
        ),
        ModelEntry(
            name="deeplab-largefov",
            title="DeepLab-LargeFOV",
            family="deeplab",
            builder=deeplab.DeepLabLargeFOV,
            geometries=("original",),
            native_size={"original": (513, 513)},
            paper_recipe=DEEPLAB_SOLVER,
            class_names=VOC_CLASS_NAMES,
            reference=_DEEPLAB_REFERENCE,
        ),
        ModelEntry(
            name="deeplab-aspp",
            title="DeepLab-ASPP-L",
            family="deeplab",
            builder=deeplab.DeepLabASPP,
            geometries=("original",),
            native_size={"original": (513, 513)},
            paper_recipe=DEEPLAB_SOLVER,
            class_names=VOC_CLASS_NAMES,
            reference=_DEEPLAB_REFERENCE,
        ),
        ModelEntry(
            name="dilation8",
            title="Dilation8 front-end",
            family="dilation",
            builder=dilation.Dilation8,
            geometries=("original",),
            native_size={"original": (500, 500)},
            paper_recipe=DILATION_SOLVER,
            class_names=VOC_CLASS_NAMES,
            reference=_DILATION_REFERENCE,
        ),
        *(
            ModelEntry(
                name=f"dilation8-{context}",
                title=f"Dilation8 + {context} context",
                family="dilation",
                builder=functools.partial(
                    dilation.Dilation8, context=context, name=f"dilation8-{context}"
                ),
                geometries=("original",),
                native_size={"original": (500, 500)},
                paper_recipe=dataclasses.replace(DILATION_SOLVER, learning_rate=1e-5),
                class_names=VOC_CLASS_NAMES,
                reference=_DILATION_REFERENCE,
            )
            for context in ("basic", "large")
        ),
        ModelEntry(
            name="segnet",
            title="SegNet",
            family="segnet",
            builder=segnet.SegNet,
            geometries=("original",),
            native_size=_SEGNET_NATIVE_SIZE,
            paper_recipe=SEGNET_SOLVER,
            class_names=CAMVID_CLASS_NAMES,
            reference=_SEGNET_REFERENCE,
        ),
        ModelEntry(
            name="segnet-basic",
            title="SegNet-Basic",
            family="segnet",
            builder=segnet.SegNetBasic,
            geometries=("original",),
            native_size=_SEGNET_NATIVE_SIZE,
            paper_recipe=dataclasses.replace(SEGNET_SOLVER, learning_rate=0.1),
            class_names=CAMVID_CLASS_NAMES,
            reference=_SEGNET_REFERENCE,
        ),
        ModelEntry(
            name="bayesian-segnet",
            title="Bayesian SegNet",
            family="segnet",
            builder=functools.partial(
                segnet.SegNet, dropout=segnet.BAYESIAN_DROPOUT, name="bayesian-segnet"
            ),
            geometries=("original",),
            native_size=_SEGNET_NATIVE_SIZE,
            paper_recipe=SEGNET_SOLVER,
            class_names=CAMVID_CLASS_NAMES,
            reference=_BAYESIAN_REFERENCE,
        ),
        ModelEntry(
            name="bayesian-segnet-basic",
            title="Bayesian SegNet-Basic",
            family="segnet",
            builder=functools.partial(
                segnet.SegNetBasic, dropout=segnet.BAYESIAN_DROPOUT, name="bayesian-segnet-basic"
            ),
            geometries=("original",),
            native_size=_SEGNET_NATIVE_SIZE,
            paper_recipe=dataclasses.replace(SEGNET_SOLVER, learning_rate=0.1),
            class_names=CAMVID_CLASS_NAMES,
            reference=_BAYESIAN_REFERENCE,
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
