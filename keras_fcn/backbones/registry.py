"""The backbone registry: every backbone a head can stand on, by name.

A backbone is a function from preprocessed images to its stage outputs by pyramid level
(`"P1"` … `"P5"`, keras-hub's `pyramid_outputs`: level k is the stage at 1/2^k of the input when
nothing is dilated). Levels name stages rather than strides, so that a head taps the same key at
any output stride (DeepLab v3's ASPP reads `"P5"` at 1/8 or 1/16, its decoder `"P2"`), unlike
torchvision's `return_layers`, whose keys are module names that differ between backbones. Each
entry says which output strides it can be built at, the channels of each level, the mean its
ImageNet weights expect (subtracted inside the model by `VGGPreprocessing`, keras.applications'
"caffe" preprocessing), and where those weights come from.

Adding a backbone is one module in `keras_fcn/backbones/` plus one entry in `BACKBONES`.
"""

import dataclasses
import functools
from collections.abc import Callable, Mapping

import keras

from keras_fcn.backbones.preprocessing import IMAGENET_MEAN_BGR, VGGPreprocessing
from keras_fcn.backbones.resnet import KERAS_APPLICATIONS, OUTPUT_STRIDES, resnet
from keras_fcn.backbones.vgg16 import vgg16_classifier, vgg16_convolutions

LEVELS = ("P1", "P2", "P3", "P4", "P5")
"""The pyramid levels every backbone returns."""


@dataclasses.dataclass(frozen=True)
class Backbone:
    """One backbone of the registry.

    Args:
        name: its registry name (`"vgg16"`, `"resnet101"`).
        build: `build(images, *, weights, output_stride, **options)` → `{level: tensor}` for
            preprocessed images.
        output_strides: the output strides it can be built at.
        channels: the channels of each level.
        mean: the BGR mean its ImageNet weights expect.
        weights: the weight sources `build` takes by name, and where each comes from.
    """

    name: str
    build: Callable[..., dict]
    output_strides: tuple[int, ...]
    channels: Mapping[str, int]
    mean: tuple[float, float, float] = IMAGENET_MEAN_BGR
    weights: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def preprocessing(self, name: str = "preprocessing") -> keras.layers.Layer:
        """The layer that turns RGB images in [0, 255] into this backbone's input."""
        return VGGPreprocessing(self.mean, name=name)

    def __call__(self, images, *, weights=None, output_stride: int | None = None, **options):
        """Applies the backbone to preprocessed `images`; see `build`."""
        output_stride = output_stride or max(self.output_strides)
        if output_stride not in self.output_strides:
            raise ValueError(
                f"The backbone {self.name!r} has the output strides {self.output_strides}; "
                f"received output_stride={output_stride}."
            )
        return self.build(images, weights=weights, output_stride=output_stride, **options)


def _vgg16(images, *, weights=None, output_stride: int = 32, **options) -> dict:
    """VGG16's five blocks (`vgg16_convolutions`) as pyramid levels; output stride 32 only (its
    dilated forms are DeepLab's and Dilation's pooling and dilation options)."""
    features = vgg16_convolutions(images, vgg16_classifier(weights), **options)
    return {level: features[level] for level in LEVELS}


def _keras_applications_resnet(images, *, depth: int, weights=None, output_stride=32, **options):
    return resnet(
        images,
        depth=depth,
        output_stride=output_stride,
        weights=weights,
        layout=options.pop("layout", KERAS_APPLICATIONS),
        **options,
    )


_KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

BACKBONES = {
    backbone.name: backbone
    for backbone in (
        Backbone(
            "vgg16",
            _vgg16,
            output_strides=(32,),
            channels={"P1": 64, "P2": 128, "P3": 256, "P4": 512, "P5": 512},
            weights={
                "imagenet": _KERAS_APPLICATIONS_URL
                + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5 (with the classifier, "
                "whose fc1/fc2 become fc6/fc7)"
            },
        ),
        *(
            Backbone(
                f"resnet{depth}",
                functools.partial(_keras_applications_resnet, depth=depth),
                output_strides=OUTPUT_STRIDES,
                channels={"P1": 64, "P2": 256, "P3": 512, "P4": 1024, "P5": 2048},
                weights={
                    "imagenet": _KERAS_APPLICATIONS_URL
                    + f"resnet/resnet{depth}_weights_tf_dim_ordering_tf_kernels_notop.h5"
                },
            )
            for depth in (50, 101, 152)
        ),
    )
}
"""Every backbone, by name: `vgg16` and keras.applications' `resnet50`, `resnet101`,
`resnet152` (whose other release layouts are `keras_fcn.backbones.resnet`'s `layout=`)."""


def get_backbone(name: str) -> Backbone:
    """The registry entry of a backbone.

    Example:

    >>> backbone = get_backbone("resnet50")
    >>> features = backbone(keras.Input((None, None, 3)), output_stride=8)
    >>> features["P5"].shape[-1] == backbone.channels["P5"]
    True
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; the backbones are {', '.join(BACKBONES)}.")
    return BACKBONES[name]
