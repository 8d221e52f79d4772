"""The model registry: one entry per model name, the only list of model names in the project.

Each entry says how to build the model (its builder, the options it fixes and the options it
takes, the geometries it has), how its paper trained it (its `Recipe`), the input size it is
usually run at, and the classes of the dataset its paper trained it on. Every option a builder
can take is declared once, in `keras_fcn.model_options`, with how a command line writes it, and
every paper's solver in `keras_fcn.training.paper_recipes`; `build` is the one factory: it
checks the options against the entry's, names the model and calls the builder. The
command line's choices, the benchmarks' model lists, the presets (`keras_fcn.presets`) and the
paper recipes all read it. Adding a model to the project is a new module in `keras_fcn/models/`
plus one row in `MODELS` below, of its family (`_Family`: what the entries of one builder and
one paper recipe share).
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import keras

from keras_fcn.classes import (
    ADE20K_CLASS_NAMES,
    CAMVID_CLASS_NAMES,
    CITYSCAPES_CLASS_NAMES,
    VOC_CLASS_NAMES,
)
from keras_fcn.model_options import (
    AUTO_DEEPLAB_OPTIONS,
    DEEPLAB_V3_OPTIONS,
    DEEPLAB_V3_PLUS_OPTIONS,
    FCN_OPTIONS,
    GCN_OPTIONS,
    OPTIONS,
    PSPNET_OPTIONS,
    REFINENET_OPTIONS,
    RESNET_OPTIONS,
    SEGNET_OPTIONS,
    TORCHVISION_OPTIONS,
    VGG16_OPTIONS,
)
from keras_fcn.models import (
    auto_deeplab,
    deeplab,
    deeplab_v3,
    deeplab_v3_plus,
    dilation,
    fcn,
    fcn_alexnet,
    gcn,
    pspnet,
    refinenet,
    segnet,
)
from keras_fcn.training.paper_recipes import (
    AUTO_DEEPLAB_SOLVER,
    DEEPLAB_SOLVER,
    DEEPLAB_V2_RESNET_SOLVER,
    DEEPLAB_V3_SOLVER,
    DILATION_SOLVER,
    FCN_ALEXNET_SOLVER,
    FCN_SOLVER,
    GCN_SOLVER,
    PSPNET_SOLVER,
    REFINENET_SOLVER,
    SEGNET_SOLVER,
    TORCHVISION_SOLVER,
)
from keras_fcn.training.recipes import Recipe


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the project knows about one model.

    Args:
        name: the model's name (command line, benchmarks, presets), also the built model's.
        title: how papers and tables write it.
        builder: the function building it, `builder(**fixed, num_classes=..., **options,
            name=name)`.
        options: the `OPTIONS` its builder takes from a caller.
        geometries: the geometries it can be built in, the default first; a builder with more
            than one takes them as `geometry=`. `"original"` is the released net's own.
        native_size: the input size `(height, width)` it is usually run at, by geometry (VOC's
            500×500 for FCN's original geometry, the multiple of 32 above it for the aligned
            one; DeepLab's 513×513 test crop; CamVid's 360×480 for SegNet).
        paper_recipe: the solver of the paper's release.
        class_names: the classes of the dataset the paper trained it on.
        reference: the paper and section (`keras-fcn models` lists it).
        fixed: the builder's arguments that make this entry what it is (the FCN table's row,
            Dilation's context module, Bayesian SegNet's dropout); a caller changes one only
            where the entry also declares it an option (Bayesian SegNet's dropout rate).
    """

    name: str
    title: str
    builder: Callable[..., keras.Model]
    options: tuple[str, ...]
    geometries: tuple[str, ...]
    native_size: dict[str, tuple[int, int]]
    paper_recipe: Recipe
    class_names: tuple[str, ...]
    reference: str
    fixed: Mapping[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Family:
    """What the entries of one family of models share: their builder, options, native size,
    paper recipe and reference; `entries` makes each from a row of what it has of its own.

    Args:
        builder: the function building them; `None` where each row names its own.
        options: the `OPTIONS` its builder takes from a caller.
        native_size: `(height, width)` for a family of one geometry, the released net's, or
            the size by geometry, the default geometry first.
        paper_recipe: the solver of the paper's release.
        reference: the paper and section.
        class_names: the classes of the dataset the paper trained them on.
        fixed: builder arguments every entry of the family fixes.
    """

    builder: Callable[..., keras.Model] | None
    options: tuple[str, ...]
    native_size: tuple[int, int] | Mapping[str, tuple[int, int]]
    paper_recipe: Recipe
    reference: str
    class_names: tuple[str, ...] = VOC_CLASS_NAMES
    fixed: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def entries(self, columns: str, *rows: Sequence) -> tuple[ModelEntry, ...]:
        """The family's entries, one a row.

        Args:
            columns: the names of a row's items, space-separated: a field of `ModelEntry`,
                `learning_rate` (the entry's in the family's `paper_recipe`), or else an
                argument of the builder that the entry fixes.
            *rows: one an entry.
        """
        sizes = self.native_size
        if not isinstance(sizes, Mapping):
            sizes = {"original": sizes}
        entry_fields = {field.name for field in dataclasses.fields(ModelEntry)}
        entries = []
        for row in rows:
            fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
            fields |= {"native_size": sizes, "fixed": dict(self.fixed)}
            for column, value in zip(columns.split(), row, strict=True):
                if column == "learning_rate":
                    fields["paper_recipe"] = dataclasses.replace(
                        self.paper_recipe, learning_rate=value
                    )
                elif column in entry_fields:
                    fields[column] = value
                else:
                    fields["fixed"][column] = value
            entries.append(ModelEntry(geometries=tuple(sizes), **fields))
        return tuple(entries)


_FCN_REFERENCE = "Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016"
_FCN_SIZES = {"original": (500, 500), "aligned": (512, 512)}
"""VOC's 500×500 images in FCN's original geometry, the multiple of 32 above in the aligned."""
_FCN = _Family(fcn.build_fcn, FCN_OPTIONS, _FCN_SIZES, FCN_SOLVER, _FCN_REFERENCE)

_DEEPLAB_REFERENCE = "Chen et al., ICLR 2015, section 4.1; Chen et al., PAMI 2017, section 3.2"
_DEEPLAB = _Family(
    deeplab.build_deeplab, VGG16_OPTIONS, (513, 513), DEEPLAB_SOLVER, _DEEPLAB_REFERENCE
)

_DEEPLAB_V2_REFERENCE = "Chen et al., PAMI 2017, sections 3.2 and 4.1 (ResNet-101)"
_DEEPLAB_V2_RESNET = _Family(
    deeplab.build_deeplab_resnet,
    RESNET_OPTIONS,
    (513, 513),
    DEEPLAB_V2_RESNET_SOLVER,
    _DEEPLAB_V2_REFERENCE,
)

_FCN_ALEXNET_REFERENCE = "Long, Shelhamer & Darrell, CVPR 2015, section 4.1 and table 1"
_FCN_ALEXNET = _Family(
    fcn_alexnet.FCNAlexNet, VGG16_OPTIONS, (500, 500), FCN_ALEXNET_SOLVER, _FCN_ALEXNET_REFERENCE
)

_DILATION_REFERENCE = "Yu & Koltun, ICLR 2016, sections 3 and 4"
_DILATION = _Family(
    dilation.build_dilation, VGG16_OPTIONS, (500, 500), DILATION_SOLVER, _DILATION_REFERENCE
)

_DEEPLAB_V3_REFERENCE = "Chen, Papandreou, Schroff & Adam, arXiv:1706.05587, sections 3.2-3.3"
_DEEPLAB_V3 = _Family(
    deeplab_v3.DeepLabV3, DEEPLAB_V3_OPTIONS, (513, 513), DEEPLAB_V3_SOLVER, _DEEPLAB_V3_REFERENCE
)
# v3+ trains as v3 (ECCV 2018, section 4: poly from 0.007, crops of 513, scale augmentation, BN
# fine-tuned at output stride 16).
_DEEPLAB_V3_PLUS = dataclasses.replace(
    _DEEPLAB_V3,
    builder=deeplab_v3_plus.DeepLabV3Plus,
    options=DEEPLAB_V3_PLUS_OPTIONS,
    reference="Chen, Zhu, Papandreou, Schroff & Adam, ECCV 2018, sections 3.1 and 4",
)

_TORCHVISION_REFERENCE = "pytorch/vision, torchvision/models/segmentation (fcn.py, deeplabv3.py)"
_TORCHVISION = _Family(
    None, TORCHVISION_OPTIONS, (520, 520), TORCHVISION_SOLVER, _TORCHVISION_REFERENCE
)

_AUTO_DEEPLAB_REFERENCE = (
    "Liu et al., CVPR 2019, sections 3 and 5; tensorflow/models research/deeplab/core/nas_*.py"
)
_AUTO_DEEPLAB = _Family(
    auto_deeplab.AutoDeepLab,
    AUTO_DEEPLAB_OPTIONS,
    (1025, 2049),
    AUTO_DEEPLAB_SOLVER,
    _AUTO_DEEPLAB_REFERENCE,
    CITYSCAPES_CLASS_NAMES,
)

_GCN_REFERENCE = "Peng, Zhang, Yu, Luo & Sun, CVPR 2017, sections 3 and 4"
_GCN = _Family(gcn.GCN, GCN_OPTIONS, (512, 512), GCN_SOLVER, _GCN_REFERENCE)

_PSPNET_REFERENCE = "Zhao et al., CVPR 2017, sections 3 and 4 (hszhao/PSPNet)"
_PSPNET = _Family(
    pspnet.PSPNet,
    PSPNET_OPTIONS,
    (473, 473),
    PSPNET_SOLVER,
    _PSPNET_REFERENCE,
    fixed={"input_size": None},
)

_REFINENET_REFERENCE = "Lin, Milan, Shen & Reid, CVPR 2017, section 3; guosheng/refinenet"
_REFINENET = _Family(
    refinenet.RefineNet, REFINENET_OPTIONS, (400, 400), REFINENET_SOLVER, _REFINENET_REFERENCE
)

_SEGNET_REFERENCE = "Badrinarayanan, Kendall & Cipolla, PAMI 2017"
_SEGNET = _Family(
    None, SEGNET_OPTIONS, (360, 480), SEGNET_SOLVER, _SEGNET_REFERENCE, CAMVID_CLASS_NAMES
)
_BAYESIAN_SEGNET = dataclasses.replace(
    _SEGNET,
    reference=f"{_SEGNET_REFERENCE}; Kendall, Badrinarayanan & Cipolla, BMVC 2017",
    fixed={"dropout": segnet.BAYESIAN_DROPOUT},
)
_SEGNET_ROWS = (
    ("segnet", "SegNet", segnet.SegNet, 1e-3),
    ("segnet-basic", "SegNet-Basic", segnet.SegNetBasic, 0.1),
)
"""SegNet's rows: name, title, builder, the release's learning rate; each also as its Bayesian
net (`bayesian-` + name, dropout 0.5)."""

_RESNET_BACKBONES = (("resnet50", "ResNet-50"), ("resnet101", "ResNet-101"))
"""The backbones of DeepLab v3 and v3+: name, title."""

MODELS = {
    entry.name: entry
    for entry in (
        *_FCN.entries(
            "name title variant learning_rate",
            ("fcn32s", "FCN-32s", fcn.FCN32S, 1e-10),
            ("fcn16s", "FCN-16s", fcn.FCN16S, 1e-12),
            ("fcn8s", "FCN-8s", fcn.FCN8S, 1e-14),
            ("fcn8s-atonce", "FCN-8s at-once", fcn.FCN8S_AT_ONCE, 1e-10),
        ),
        *_FCN_ALEXNET.entries("name title", ("fcn-alexnet", "FCN-AlexNet")),
        *_DEEPLAB.entries(
            "name title variant",
            ("deeplab-largefov", "DeepLab-LargeFOV", deeplab.LARGE_FOV),
            ("deeplab-aspp", "DeepLab-ASPP-L", deeplab.ASPP_L),
        ),
        *_DEEPLAB_V2_RESNET.entries(
            "name title", ("deeplab-aspp-resnet101", "DeepLab-ASPP-L, ResNet-101")
        ),
        *_PSPNET.entries(
            "name title depth class_names",
            ("pspnet101", "PSPNet-101", 101, VOC_CLASS_NAMES),
            ("pspnet50", "PSPNet-50", 50, ADE20K_CLASS_NAMES),
        ),
        *_DEEPLAB_V3.entries(
            "name title backbone",
            *(
                (f"deeplabv3-{name}", f"DeepLab v3 ({title})", name)
                for name, title in _RESNET_BACKBONES
            ),
        ),
        *_AUTO_DEEPLAB.entries(
            "name title variant",
            *(
                (f"auto-deeplab-{variant.lower()}", f"Auto-DeepLab-{variant}", variant)
                for variant in auto_deeplab.FILTER_MULTIPLIERS
            ),
        ),
        *_DEEPLAB_V3_PLUS.entries(
            "name title backbone",
            *(
                (f"deeplabv3plus-{name}", f"DeepLab v3+ ({title})", name)
                for name, title in _RESNET_BACKBONES
            ),
        ),
        *_GCN.entries("name title", ("gcn", "GCN (Large Kernel Matters)")),
        *_TORCHVISION.entries(
            "name title builder depth",
            *(
                (
                    f"torchvision-{net}-resnet{depth}",
                    f"torchvision {title}-ResNet{depth}",
                    builder,
                    depth,
                )
                for net, title, builder in (
                    ("fcn", "FCN", deeplab_v3.TorchvisionFCN),
                    ("deeplabv3", "DeepLabV3", deeplab_v3.TorchvisionDeepLabV3),
                )
                for depth in deeplab_v3.TORCHVISION_DEPTHS
            ),
        ),
        *_REFINENET.entries(
            "name title depth",
            *((f"refinenet{depth}", f"RefineNet (ResNet-{depth})", depth) for depth in (101, 152)),
        ),
        # The front-end alone trains at the solver's 1e-4, jointly with a context module at 1e-5.
        *_DILATION.entries(
            "name title options", ("dilation8", "Dilation8 front-end", (*VGG16_OPTIONS, "context"))
        ),
        *_DILATION.entries(
            "name title context learning_rate",
            ("dilation8-basic", "Dilation8 + basic context", "basic", 1e-5),
            ("dilation8-large", "Dilation8 + large context", "large", 1e-5),
        ),
        *_SEGNET.entries("name title builder learning_rate", *_SEGNET_ROWS),
        *_BAYESIAN_SEGNET.entries(
            "name title builder learning_rate",
            *(
                (f"bayesian-{name}", f"Bayesian {title}", *row)
                for name, title, *row in _SEGNET_ROWS
            ),
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


def build(name: str, /, num_classes, **options) -> keras.Model:
    """Builds a model of the registry by name: the one model factory.

    Args:
        name: a key of `MODELS`.
        num_classes: classes scored (a dict of them for FCN's heads).
        **options: options of the entry (`ModelEntry.options`: `weights`, `geometry`,
            `fc_units`, ...); `geometry=None` is the model's default geometry. `name` renames
            the model (a preset's name).

    Returns:
        The model, named as the entry unless `name` is given.

    Raises:
        ValueError: for an unknown model, an option its entry does not take, or a geometry it
            does not have.

    Example:

    >>> model = build("fcn16s", num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> model.name
    'fcn16s'
    """
    entry = get(name)
    geometry = options.pop("geometry", None)
    if geometry is not None and geometry not in entry.geometries:
        geometries = (
            f"the {entry.geometries[0]} geometry only"
            if len(entry.geometries) == 1
            else f"the geometries {entry.geometries}"
        )
        raise ValueError(f"Model {name!r} has {geometries}; received geometry={geometry!r}.")
    if geometry is not None and "geometry" in entry.options:
        options["geometry"] = geometry
    model_name = options.pop("name", entry.name)
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise ValueError(
            f"Model {name!r} takes no option {', '.join(unknown)}; its options are "
            f"{', '.join(entry.options)}."
        )
    arguments = {**entry.fixed, **options}
    return entry.builder(num_classes=num_classes, **arguments, name=model_name)


def parse_options(name: str, assignments: Sequence[str]) -> dict:
    """A command line's `--option NAME=VALUE` assignments as a model's build options.

    Example:

    >>> parse_options("dilation8", ["context=large", "fc_units=64"])
    {'context': 'large', 'fc_units': 64}
    """
    entry = get(name)
    options = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        option = OPTIONS.get(key.strip())
        if not separator or option is None or option.name not in entry.options:
            settable = [o for o in entry.options if OPTIONS[o].parse is not None]
            raise ValueError(
                f"--option {assignment!r}: the model {name!r} takes NAME=VALUE with NAME one of "
                f"{', '.join(settable)}."
            )
        if option.parse is None:
            raise ValueError(f"--option {key}: set from Python only ({option.help}).")
        try:
            options[option.name] = option.parse(value.strip())
        except ValueError as error:
            raise ValueError(f"--option {assignment!r}: {error} ({option.help}).") from error
    return options
