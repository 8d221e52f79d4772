"""The model registry: one entry per model name, the only list of model names in the project.

Each entry says how to build the model (its builder, the options it fixes and the options it
takes, the geometries it has), how its paper trained it (its `Recipe`), the input size it is
usually run at, and the classes of the dataset its paper trained it on. Every option a builder
can take is declared once, in `OPTIONS`, with how a command line writes it; `build` is the one
factory: it checks the options against the entry's, names the model and calls the builder. The
command line's choices, the benchmarks' model lists, the presets (`keras_fcn.presets`) and the
paper recipes all read it. Adding a model to the project is a new module in `keras_fcn/models/`
plus one row in `MODELS` below, of its family (`_Family`: what the entries of one builder and
one paper recipe share).
"""

import ast
import dataclasses
from collections.abc import Callable, Mapping, Sequence

import keras

from keras_fcn.classes import (
    ADE20K_CLASS_NAMES,
    CAMVID_CLASS_NAMES,
    CITYSCAPES_CLASS_NAMES,
    VOC_CLASS_NAMES,
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
from keras_fcn.training.recipes import Recipe, l2_for_caffe_weight_decay


def _weights_value(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _size_value(value: str) -> int | None:
    """An input side, or `None` (`none`) for any size."""
    return None if value.lower() == "none" else int(value)


def _literal(value: str):
    """A Python literal of a command line (`(None, None, 3)`, `6,12,18,24`)."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError) as error:
        raise ValueError(f"{value!r} is not a Python literal") from error


def _boolean(value: str) -> bool:
    """`true` or `false`, in any case."""
    if value.lower() not in ("true", "false"):
        raise ValueError(f"expected true or false, received {value!r}")
    return value.lower() == "true"


@dataclasses.dataclass(frozen=True)
class Option:
    """One keyword argument a model builder can take, declared once for every model.

    Args:
        name: the keyword.
        help: what it does.
        parse: turns a command line's `--option NAME=VALUE` into the value; `None` for an option
            set from Python only (a preset's means and streams).
        architecture: whether it changes the graph (a preset's file must fit it), rather than
            what the weights start from.
    """

    name: str
    help: str
    parse: Callable[[str], object] | None = None
    architecture: bool = True


OPTIONS = {
    option.name: option
    for option in (
        Option("input_shape", "(height, width, 3), None for any size", _literal),
        Option("geometry", "FCN's 'original' (Caffe's pad 100) or 'aligned' geometry", str),
        Option("fc_units", "width of fc6/fc7", int),
        Option("dropout", "dropout rate", float),
        Option("context", "Dilation's context module: 'none', 'basic' or 'large'", str),
        Option("backbone", "the backbone's name (keras_fcn.backbones.BACKBONES)", str),
        Option("output_stride", "the backbone's output stride: 8, 16 or 32", int),
        Option("multi_grid", "factors of the dilation rates of conv5's blocks: 1,2,4", _literal),
        Option("aux", "torchvision's auxiliary head on conv4: outputs {'out', 'aux'}", _boolean),
        Option("pooling", "RefineNet's chained residual pooling: 'original' or 'improved'", str),
        Option("adapt_widths", "RefineNet's paths' widths after dimred: 512,256,256,256", _literal),
        Option(
            "upsampling",
            "how RefineNet resizes: 'bilinear' or 'bicubic' (MATLAB's imresize, the release's)",
            str,
        ),
        Option(
            "low_level",
            "DeepLab v3+'s low-level features: 'release' (conv2_block2_3_bn) or 'stage' (P2)",
            str,
        ),
        Option(
            "k",
            "GCN's odd kernel size, one or one per stage res-2 ... res-5: 15,15,15,15",
            _literal,
        ),
        Option(
            "input_size",
            "PSPNet's input side: 473 or 713 for the released nets, none for any size",
            _size_value,
        ),
        Option(
            "weights",
            "'imagenet', None, or the path of the backbone's weights file (of the whole net's "
            "for torchvision's nets)",
            _weights_value,
            architecture=False,
        ),
        Option("mean", "the BGR mean the weights expect, subtracted inside the model"),
        Option("streams", "FCN's inputs and their means (keras_fcn.models.Stream)"),
        Option("kernel_initializer", "kernels without weights", architecture=False),
    )
}
"""Every option of every builder, by name."""

VGG16_OPTIONS = ("input_shape", "weights", "fc_units", "dropout", "mean", "kernel_initializer")
"""The options of the nets on VGG16 with fc6/fc7 (DeepLab, Dilation, FCN-AlexNet's own)."""

FCN_OPTIONS = (*VGG16_OPTIONS, "geometry", "streams")
"""FCN's: `VGG16_OPTIONS`, the geometry, and the streams (a net of several inputs)."""

SEGNET_OPTIONS = ("input_shape", "weights", "dropout")
"""SegNet's and SegNet-Basic's."""

DEEPLAB_V3_OPTIONS = (
    "input_shape",
    "weights",
    "output_stride",
    "multi_grid",
    "kernel_initializer",
)
"""DeepLab v3's: its backbone is the entry's; its output stride and multi-grid change no
weight."""

DEEPLAB_V3_PLUS_OPTIONS = (*DEEPLAB_V3_OPTIONS, "low_level")
"""DeepLab v3+'s: DeepLab v3's, and which low-level features the decoder reads (no weight
changes)."""

GCN_OPTIONS = ("input_shape", "weights", "backbone", "k", "kernel_initializer")
"""GCN's: the paper's ResNet-152 by default, or ResNet-50/101, and k."""

TORCHVISION_OPTIONS = ("input_shape", "weights", "aux", "kernel_initializer")
"""torchvision's FCN and DeepLabV3: output stride 8, the auxiliary head on or off."""

RESNET_OPTIONS = ("input_shape", "weights", "mean", "kernel_initializer")
"""The options of the nets on a ResNet backbone of fixed layout (DeepLab v2's ResNet-101)."""

AUTO_DEEPLAB_OPTIONS = ("input_shape", "weights", "kernel_initializer")
"""Auto-DeepLab's: its variant is the entry's; `weights` is the path of a whole net's file."""

PSPNET_OPTIONS = ("input_size", "aux", "weights", "mean", "kernel_initializer")
"""PSPNet's: its input side, the auxiliary head. Its entries take images of any size, as every
model of the registry does (`input_size=None`); `input_size=473` or `713` builds a released
deploy net, as its presets do."""
REFINENET_OPTIONS = (
    "input_shape",
    "weights",
    "pooling",
    "upsampling",
    "adapt_widths",
    "kernel_initializer",
)
"""RefineNet's: its depth is the entry's; the pooling order and the resize are the release's
choices per dataset."""


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


BIASES_AT_TWICE_THE_RATE = (("*/bias", 2.0),)
"""Caffe's `lr_mult: 2` on every bias, as FCN's, DeepLab's and Dilation's prototxts set it."""


def _paper_sgd(
    learning_rate: float,
    batch_size: int,
    *,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    crop: tuple[int, tuple[float, float]] | None = None,
    **settings,
) -> Recipe:
    """A paper's solver: SGD at `learning_rate` on batches of `batch_size`, with `momentum`
    (0.9 unless the paper says otherwise) and Caffe's `weight_decay` on the kernels (5e-4
    unless the paper says otherwise; `l2_for_caffe_weight_decay`); `crop=(side, (low, high))`
    trains on random crops of that side, mirrored and scaled by `low`–`high`; `settings` are
    the recipe's other fields."""
    if crop is not None:
        side, scales = crop
        settings |= {"crop_size": side, "augment": True, "scale_range": scales}
    return Recipe(
        name="paper",
        optimizer="sgd",
        learning_rate=learning_rate,
        momentum=momentum,
        l2=l2_for_caffe_weight_decay(weight_decay),
        batch_size=batch_size,
        **settings,
    )


def _paper_poly_sgd(learning_rate: float, batch_size: int, **settings) -> Recipe:
    """`_paper_sgd` with the "poly" decay of DeepLab and the nets that train as it does (power
    0.9, `Recipe`'s)."""
    return _paper_sgd(learning_rate, batch_size, schedule="poly", **settings)


FCN_SOLVER = _paper_sgd(
    1e-10,
    1,
    momentum=0.99,
    learning_rate_multipliers=BIASES_AT_TWICE_THE_RATE,
    loss_reduction="sum",
)
"""The original FCN solver (`solver.prototxt`, `solve.py`, `net.py`): SGD with momentum 0.99 and
a fixed rate, biases at twice the rate, the loss summed over pixels (not averaged), Caffe's
weight decay 5e-4 on the weights (not the biases), batch 1, whole images without augmentation.
The learning rate differs per net."""

_FCN_REFERENCE = "Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016"
_FCN_SIZES = {"original": (500, 500), "aligned": (512, 512)}
"""VOC's 500×500 images in FCN's original geometry, the multiple of 32 above in the aligned."""
_FCN = _Family(fcn.build_fcn, FCN_OPTIONS, _FCN_SIZES, FCN_SOLVER, _FCN_REFERENCE)

DEEPLAB_SOLVER = _paper_poly_sgd(
    1e-3,
    10,
    crop=(321, (1.0, 1.0)),
    learning_rate_multipliers=(
        (f"{deeplab.SCORE_NAME}*/kernel", 10.0),
        (f"{deeplab.SCORE_NAME}*/bias", 20.0),
        *BIASES_AT_TWICE_THE_RATE,
    ),
    label_stride=deeplab.OUTPUT_STRIDE,
)
"""DeepLab's VGG16 solver: SGD with momentum 0.9, base rate 1e-3 with the "poly" decay (power
0.9; PAMI 2017 table 3: 65.88 mean IU with batch 10 and 20k iterations, against 62.25 for the
v1 release's step schedule), the new classifier `fc8_voc12` at 10× (biases 20×) and every other
bias at 2× (`train.prototxt`'s `lr_mult`), weight decay 5e-4, the loss averaged over labelled
pixels of the labels subsampled 8× (`label_shrink`), batches of random 321×321 crops, mirrored
and not rescaled, as the release's `ImageSegData` layer takes them."""

_DEEPLAB_REFERENCE = "Chen et al., ICLR 2015, section 4.1; Chen et al., PAMI 2017, section 3.2"
_DEEPLAB = _Family(
    deeplab.build_deeplab, VGG16_OPTIONS, (513, 513), DEEPLAB_SOLVER, _DEEPLAB_REFERENCE
)

DEEPLAB_V2_RESNET_SOLVER = dataclasses.replace(
    DEEPLAB_SOLVER,
    learning_rate=2.5e-4,
    learning_rate_multipliers=(
        (f"{deeplab.RESNET_SCORE_NAME}*/kernel", 10.0),
        (f"{deeplab.RESNET_SCORE_NAME}*/bias", 20.0),
    ),
    scale_range=(0.5, 1.5),
)
"""DeepLab v2's ResNet-101 solver, as its TensorFlow port trains it
(DrSleep/tensorflow-deeplab-resnet `train.py`): SGD with momentum 0.9, base rate 2.5e-4 with
the "poly" decay (power 0.9, 20k iterations), the ASPP branches `fc1_voc12_c*` at 10× (biases
20×) and the bias-free backbone at 1×, weight decay 5e-4, batches of 10 random 321×321 crops,
mirrored, with the labels subsampled 8×, and the images randomly rescaled between 0.5 and 1.5
(PAMI 2017, section 4.1: "data augmentation by randomly scaling the input images (from 0.5 to
1.5) during training"). Batch normalization is frozen in the model itself
(`build_deeplab_resnet`). The released net trains with multi-scale inputs and a loss on every
scale and on their maximum, which a recipe does not express."""

_DEEPLAB_V2_REFERENCE = "Chen et al., PAMI 2017, sections 3.2 and 4.1 (ResNet-101)"
_DEEPLAB_V2_RESNET = _Family(
    deeplab.build_deeplab_resnet,
    RESNET_OPTIONS,
    (513, 513),
    DEEPLAB_V2_RESNET_SOLVER,
    _DEEPLAB_V2_REFERENCE,
)

FCN_ALEXNET_SOLVER = _paper_sgd(1e-4, 1)
"""FCN-AlexNet's solver (`voc-fcn-alexnet/solver.prototxt`), unlike the VGG16 nets': SGD with
standard momentum 0.9 and a fixed rate of 1e-4 on the loss averaged over labelled pixels
(`normalize: true`), weight decay 5e-4, whole images one at a time. The original accumulates the
gradients of 20 images per step (`iter_size: 20`); the recipe's batches of one do not."""

_FCN_ALEXNET_REFERENCE = "Long, Shelhamer & Darrell, CVPR 2015, section 4.1 and table 1"
_FCN_ALEXNET = _Family(
    fcn_alexnet.FCNAlexNet, VGG16_OPTIONS, (500, 500), FCN_ALEXNET_SOLVER, _FCN_ALEXNET_REFERENCE
)

DILATION_SOLVER = _paper_sgd(
    1e-4,
    14,
    crop=(500, (1.0, 1.0)),
    learning_rate_multipliers=BIASES_AT_TWICE_THE_RATE,
    label_stride=dilation.OUTPUT_STRIDE,
)
"""The Dilation front-end's solver (`fyu/dilation`, `train.py` and `docs/training.md`): SGD
with momentum 0.9 at 1e-4 (the code's front-end default; its step decay by 10 comes only after
100k iterations), biases at 2×, weight decay 5e-4, the loss averaged over labelled pixels of the
labels sliced every 8 pixels (`label_slice`), batches of 14 random 500×500 crops, mirrored. The
release crops 500×500 windows of the reflected image (128×128 pixels of labels); the model here
reflects each crop itself. The context module's joint training with the front-end uses 1e-5
(`train.py joint`), after the module alone was trained at 1e-3 on stored front-end scores,
which one recipe does not express."""

_DILATION_REFERENCE = "Yu & Koltun, ICLR 2016, sections 3 and 4"
_DILATION = _Family(
    dilation.build_dilation, VGG16_OPTIONS, (500, 500), DILATION_SOLVER, _DILATION_REFERENCE
)

DEEPLAB_V3_SOLVER = _paper_poly_sgd(0.007, 16, crop=(513, (0.5, 2.0)), weight_decay=1e-4)
"""DeepLab v3's first stage on VOC train_aug (arXiv:1706.05587, section 4.1; tensorflow/models
`research/deeplab/train.py`): SGD with momentum 0.9 at 0.007 with the "poly" decay (power
0.9, 30k steps), weight decay 1e-4 ("use 0.0001 for ResNet model variants": slim's
`l2_regularizer(1e-4)`, 1e-4 · ‖w‖² / 2, Caffe's rule), batches of 16 random 513×513 crops,
mirrored and scaled by 0.5–2 (in steps of 0.25 there, continuously here), the loss averaged
over labelled pixels of the upsampled logits (`upsample_logits`), at output stride 16. The
batch normalization decay of 0.9997 is not a solver setting that a `Recipe` holds: the model's
head carries it (`keras_fcn.models.deeplab_v3.PAPER_ASPP`, Keras' `momentum`). Nor is the
second stage, at output stride 8 with frozen batch normalization at 0.001, which one recipe
does not express."""

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

TORCHVISION_SOLVER = _paper_poly_sgd(
    0.02,
    32,
    crop=(480, (0.5, 2.0)),
    weight_decay=1e-4,
    learning_rate_multipliers=(("aux_*", 10.0),),
    aux_loss_weight=0.5,
)
"""torchvision's (pytorch/vision `references/segmentation`: README's `--lr 0.02 -b 4` on 8 GPUs
with `--aux-loss`, `train.py`, `presets.py`): SGD with momentum 0.9 at 0.02 with the "poly"
decay per step (power 0.9, 30 epochs), the auxiliary head at 10× the rate, weight decay 1e-4
(torch's coupled decay, 1e-4 · ‖w‖² / 2), batches of 4 × 8 = 32 random 480×480 crops, mirrored,
the loss averaged over labelled pixels, plus 0.5 × the auxiliary head's for a net built with it
(`aux=True`; the registry's nets are built without). A `Recipe` does not express the decay of
biases and batch normalization parameters (the recipe's L2 is on kernels), nor torchvision's
scale jitter, a resize of the shorter side to 260–1040 pixels rather than a factor of the
image's size."""

_TORCHVISION_REFERENCE = "pytorch/vision, torchvision/models/segmentation (fcn.py, deeplabv3.py)"
_TORCHVISION = _Family(
    None, TORCHVISION_OPTIONS, (520, 520), TORCHVISION_SOLVER, _TORCHVISION_REFERENCE
)

AUTO_DEEPLAB_SOLVER = _paper_poly_sgd(0.05, 8, crop=(769, (0.5, 2.0)), weight_decay=4e-5)
"""Auto-DeepLab on Cityscapes, from scratch (Liu et al., CVPR 2019, section 5): random 769×769
crops of the 2,975 fine training images, batches of 8, the "poly" learning rate policy over
1.5 M iterations for table 2 (0.5 M for the ablations; `mindspore-ai/models`
`research/cv/Auto-DeepLab/README.md` quotes the paper's S at 75.20 / 77.09 / 78.00 mean IU after
0.5 / 1 / 1.5 M). The base rate 0.05 is the paper's as its MindSpore port reads it
(`base_lr`; not checked against the paper here). The project's choices, from the release's
defaults where the paper is silent (tensorflow/models `research/deeplab/train.py`,
`nas_network.nas_arg_scope`): SGD with momentum 0.9, power 0.9, weight decay 4e-5 (slim's
`l2_regularizer(4e-5)`, 4e-5 · ‖w‖² / 2), mirrored crops scaled by 0.5–2 (in steps of 0.25
there, continuously here), the loss averaged over labelled pixels of the upsampled logits. The
batch normalization decay of 0.9997 is the model's (Keras' `momentum`); a `Recipe` holds no
iteration count (1.5 M) nor the release's drop-path, which is off (`drop_path_keep_prob=1.0`)."""

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

GCN_SOLVER = _paper_sgd(2.5e-5, 1, crop=(512, (1.0, 1.0)), momentum=0.99)
"""GCN's solver (Peng et al., CVPR 2017, section 4, Caffe): SGD with momentum 0.99, weight decay
5e-4, batch 1, mean subtraction and horizontal flips, VOC images padded to 512×512 (stages 2 and
3). The paper gives no learning rate: 2.5e-5 on the loss averaged over labelled pixels is the
project's choice, FCN-32s' rate under the same momentum and batch (1e-10 on the loss summed
over a 500×500 image). Nor does a recipe express the paper's staged VOC schedule: stage 1 on
COCO, SBD and VOC 2012 together (109,892 images padded to 640×640), stage 2 on SBD and VOC
2012 (10,582), stage 3 on VOC 2012 train alone (1,464)."""

_GCN_REFERENCE = "Peng, Zhang, Yu, Luo & Sun, CVPR 2017, sections 3 and 4"
_GCN = _Family(gcn.GCN, GCN_OPTIONS, (512, 512), GCN_SOLVER, _GCN_REFERENCE)

PSPNET_SOLVER = _paper_poly_sgd(
    0.01,
    16,
    crop=(473, (0.5, 2.0)),
    weight_decay=1e-4,
    learning_rate_multipliers=(
        ("conv5_3_pool*", 10.0),
        ("conv5_4*", 10.0),
        ("conv6*", 10.0),
        ("conv4_24*", 10.0),
    ),
    aux_loss_weight=pspnet.AUX_LOSS_WEIGHT,
)
"""PSPNet's solver on VOC 2012 and ADE20K (Zhao et al., CVPR 2017, section 4.1; the author's
PyTorch re-implementation hszhao/semseg `config/voc2012/voc2012_pspnet101.yaml`,
`config/ade20k/ade20k_pspnet50.yaml`, `tool/train.py`): SGD with momentum 0.9 at 0.01 with the
"poly" decay per step (power 0.9), the new layers (the pyramid pooling module, `conv5_4`,
`conv6` and the auxiliary head) at 10× the rate, weight decay 1e-4, batches of 16 random
473×473 crops, mirrored and scaled by 0.5–2, the loss averaged over labelled pixels of the
zoomed logits, plus 0.4 × the auxiliary head's for a net built with it (`aux=True`,
`pspnet.AUX_LOSS_WEIGHT`), batch normalization trained (synchronised over the GPUs there). A
`Recipe` does not express the random rotation
by −10°…10° and Gaussian blur of the augmentation, the crops' padding with the mean, and the
decay of biases and batch normalization parameters (torch's coupled decay there; the recipe's
L2 is on kernels). The Caffe training of the released nets is not published; the number of
steps differs per dataset (paper: 30k iterations on VOC, 150k on ADE20K; semseg: 50 and 100
epochs)."""

_PSPNET_REFERENCE = "Zhao et al., CVPR 2017, sections 3 and 4 (hszhao/PSPNet)"
_PSPNET = _Family(
    pspnet.PSPNet,
    PSPNET_OPTIONS,
    (473, 473),
    PSPNET_SOLVER,
    _PSPNET_REFERENCE,
    fixed={"input_size": None},
)

PSPNET_CITYSCAPES_SOLVER = dataclasses.replace(PSPNET_SOLVER, crop_size=713)
"""PSPNet's solver on Cityscapes (hszhao/semseg `config/cityscapes/cityscapes_pspnet101.yaml`):
`PSPNET_SOLVER` with 713×713 crops (paper: 90k iterations; semseg: 200 epochs)."""

REFINENET_SOLVER = _paper_sgd(
    5e-4, 1, crop=(400, (0.7, 1.3)), learning_rate_multipliers=(("conv[1-5]_*", 0.1),)
)
"""RefineNet's training (guosheng/refinenet `main/demo_refinenet_train.m`,
`main/gen_net_opts_model_type1.m`): SGD with momentum 0.9 at 5e-4, the ResNet at a tenth of the
rate (`input_featnet_lr_multiplier`), MatConvNet's weight decay 5e-4 (Caffe's rule), one image
per step, random 400 × 400 crops, flipped and scaled by 0.7–1.3 (`aug_scales`, in steps of 0.1
there, continuously here), the loss averaged over labelled pixels. Not expressed by a recipe:
the release lowers the rate by hand to 5e-5 once the validation score stalls
(`demo_refinenet_train_reduce_learning_rate.m`; the constant schedule here is the first stage),
clamps every image's short side to [450, 1100] before it crops, samples crops and images per
class (`class_sample`), computes the loss at 1/4 against labels resized by nearest neighbour
where the recipe's loss reads the upsampled logits (the project's choice, as for the other
models), and trains the batch normalizations' scale and shift, which the model freezes."""

_REFINENET_REFERENCE = "Lin, Milan, Shen & Reid, CVPR 2017, section 3; guosheng/refinenet"
_REFINENET = _Family(
    refinenet.RefineNet, REFINENET_OPTIONS, (400, 400), REFINENET_SOLVER, _REFINENET_REFERENCE
)

SEGNET_SOLVER = _paper_sgd(1e-3, 4, class_weights="median-frequency")
"""SegNet-Tutorial's solver (`Models/segnet_solver.prototxt`): SGD with momentum 0.9 and a fixed
rate (0.001 for SegNet, 0.1 for SegNet-Basic, `segnet_basic_solver.prototxt`; the Bayesian
solvers are the same), Caffe's weight decay 5e-4, batches of 4 whole 360×480 images
(`batch_size` of the train prototxts; the paper reports mini-batches of 12 for its SegNet-Basic
comparisons), the loss averaged over labelled pixels (`SoftmaxWithLoss`, normalised) and
weighted by median-frequency class weights (the prototxts' `class_weighting`, computed here from
the training labels). The weight decay also applies to
the BN scales (`compile_for_training`); Caffe's doubled bias rate is not reproduced."""

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
