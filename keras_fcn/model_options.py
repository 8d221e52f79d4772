"""The options of the model builders: each declared once (`Option`, `OPTIONS`), with how a
command line writes its value, and the options each family of builders takes (`FCN_OPTIONS`,
`PSPNET_OPTIONS`, ...), which the registry's entries (`keras_fcn.registry`) name.

Example:

>>> OPTIONS["output_stride"].parse("16")
16
>>> OPTIONS["multi_grid"].parse("1,2,4")
(1, 2, 4)
>>> "geometry" in FCN_OPTIONS
True
"""

import ast
import dataclasses
from collections.abc import Callable


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
