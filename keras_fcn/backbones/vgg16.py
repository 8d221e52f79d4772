"""The VGG16 backbone of FCN and its successors, rebuilt from keras.applications' VGG16.

FCN, DeepLab, the Dilation front-end and SegNet all start from VGG16 and differ in how they run
it: where the poolings are and how they round, whether the convolutions are padded, which blocks
are dilated, and how the classifier's fully connected layers fc1/fc2 become the convolutions
fc6/fc7. `vgg16_convolutions` builds the 13 convolutions and five poolings with those options,
keeping keras.applications' layer names (`block1_conv1` … `block5_conv3`, Caffe's `conv1_1` …
`conv5_3`) and, when given a classifier, its weights; `vgg16_fully_connected` builds fc6/fc7
from the classifier ("net surgery").

Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015; Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 3.1.
"""

import dataclasses
import os
from collections.abc import Sequence

import keras
import numpy as np

from keras_fcn.downloads import explain_download_failure
from keras_fcn.layers import MatmulConv2D, pooling_layer

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
"""Filters and number of 3×3 convolutions of VGG16's five blocks."""

CONV_NAMES = tuple(
    f"block{block}_conv{conv}"
    for block, (_, convs) in enumerate(BLOCKS, start=1)
    for conv in range(1, convs + 1)
)
"""keras.applications' names of the 13 convolutions (Caffe's conv1_1 … conv5_3), in order."""

CAFFE_CONV_NAMES = tuple(
    f"conv{block}_{conv}"
    for block, (_, convs) in enumerate(BLOCKS, start=1)
    for conv in range(1, convs + 1)
)
"""The Caffe prototxts' names of the same 13 convolutions (`conv1_1` … `conv5_3`), in the order of
`CONV_NAMES`: FCN's, DeepLab's and the Dilation front-end's released weights use them."""

POOL_NAMES = tuple(f"block{block}_pool" for block in range(1, len(BLOCKS) + 1))
"""keras.applications' names of the five poolings (Caffe's pool1 … pool5)."""

FC_UNITS = 4096
"""Width of the classifier's fc1/fc2: only fc6/fc7 of this width hold them unchanged."""

FC_KERNEL_SIZE = 7
"""Side of pool5 at the classifier's 224×224 input: fc1 is a 7×7 convolution over it."""

PIXEL_STD = 58.0
"""Standard deviation of ImageNet pixel values (0–255 scale), for initialising conv1_1."""


@dataclasses.dataclass(frozen=True)
class Pooling:
    """One max pooling of the backbone, as Caffe computes it (output size rounded up).

    Args:
        size: the square window.
        stride: the stride.
        padding: Caffe's `pad` on every side.
    """

    size: int = 2
    stride: int = 2
    padding: int = 0


VGG16_POOLING = (Pooling(),) * 5
"""VGG16's own poolings: 2×2, stride 2, after every block."""


def vgg16_classifier(weights: "str | keras.Model | None") -> keras.Model | None:
    """keras.applications' VGG16 classifier (`include_top=True`) holding `weights`.

    Args:
        weights: `"imagenet"` (downloaded once into `~/.keras/models/`), the path of a VGG16
            classifier weights file, `None` for random weights (then no model is built), or a
            classifier already built, returned as it is (a model's backbone and its fc6/fc7
            then share one).

    Returns:
        The classifier, or `None` when `weights` is `None`.

    Example:

    >>> vgg16_classifier(None) is None
    True
    """
    if weights is None or isinstance(weights, keras.Model):
        return weights
    if weights != "imagenet" and not os.path.exists(weights):
        raise ValueError(
            f"weights must be 'imagenet', None or the path of a Keras VGG16 classifier weights "
            f"file (include_top=True); no file exists at {weights!r}."
        )
    with explain_download_failure(
        "weights=PATH, a VGG16 classifier weights file (--weights PATH), or weights=None "
        "(--weights none) to train from random weights"
    ):
        return keras.applications.VGG16(include_top=True, weights=weights)


def _random_kernel_initializer(layer_name: str) -> keras.initializers.Initializer:
    """He initialisation, with conv1_1 scaled down for inputs in pixel units.

    He-normal keeps the activations' scale through ReLU layers when the input has unit variance;
    the preprocessed images have a standard deviation of about `PIXEL_STD`, so conv1_1's kernel is
    divided by it, and every layer then starts with activations of unit scale. VGG16 from
    Glorot-uniform weights (keras.applications' default) halves the variance at every layer and
    barely trains from scratch.

    Reference: He et al., "Delving Deep into Rectifiers", ICCV 2015.
    """
    scale = 2.0 / PIXEL_STD**2 if layer_name == CONV_NAMES[0] else 2.0
    return keras.initializers.VarianceScaling(scale, mode="fan_in", distribution="truncated_normal")


def vgg16_convolutions(
    images,
    classifier: keras.Model | None,
    *,
    pooling: Sequence[Pooling | None] = VGG16_POOLING,
    dilation: Sequence[int] = (1, 1, 1, 1, 1),
    padding: str = "same",
    suffix: str = "",
    kernel_initializer: str | keras.initializers.Initializer | None = None,
) -> dict:
    """Applies VGG16's 13 convolutions (each with ReLU) and its poolings to `images`.

    Args:
        images: the preprocessed input tensor (BGR minus the mean).
        classifier: `vgg16_classifier(weights)`, whose convolution weights are copied by name;
            `None` for random weights (He initialisation, see `_random_kernel_initializer`).
        pooling: the pooling after each of the five blocks, `None` for none (the Dilation
            front-end drops pool4 and pool5).
        dilation: the dilation of each block's convolutions.
        padding: `"same"` (pad 1, as VGG16) or `"valid"` (unpadded, the Dilation front-end).
        suffix: appended to every layer's name, for nets with several VGG16 streams (the
            NYUDv2 late-fusion net names them `conv1_1color` …, `conv1_1hha` …).
        kernel_initializer: the kernels' initializer without a classifier; `None` for He
            initialisation (`_random_kernel_initializer`), `"zeros"` to build fast a net whose
            weights are loaded next.

    Returns:
        Every layer's output by its name without the suffix (`block1_conv1` … `block5_conv3`,
        `block1_pool` …), and each block's output by pyramid level, `"P1"` … `"P5"` (its
        pooling, or its last convolution where it has none), as `keras_fcn.backbones.resnet`
        returns its stages.

    Example:

    >>> images = keras.Input((None, None, 3))
    >>> features = vgg16_convolutions(images, None)
    >>> features["block5_pool"].shape
    (None, None, None, 512)
    """
    if len(pooling) != len(BLOCKS) or len(dilation) != len(BLOCKS):
        raise ValueError(
            f"pooling and dilation need one entry per VGG16 block ({len(BLOCKS)}); received "
            f"{len(pooling)} and {len(dilation)}."
        )
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', received {padding!r}.")
    outputs, features = {}, images
    names = iter(CONV_NAMES)
    for level, ((filters, convs), block_pooling, block_dilation, pool_name) in enumerate(
        zip(BLOCKS, pooling, dilation, POOL_NAMES, strict=True), start=1
    ):
        for _ in range(convs):
            name = next(names)
            conv = keras.layers.Conv2D(
                filters,
                3,
                padding=padding,
                dilation_rate=block_dilation,
                activation="relu",
                kernel_initializer=kernel_initializer or _random_kernel_initializer(name),
                name=name + suffix,
            )
            features = outputs[name] = conv(features)
            if classifier is not None:
                conv.set_weights(classifier.get_layer(name).get_weights())
        if block_pooling is not None:
            pool = pooling_layer(
                block_pooling.size, block_pooling.stride, block_pooling.padding, pool_name + suffix
            )
            features = outputs[pool_name] = pool(features)
        outputs[f"P{level}"] = features
    return outputs


def convolutionalize(
    classifier: keras.Model, kernel_size: int = FC_KERNEL_SIZE, units: int = FC_UNITS
) -> dict[str, list[np.ndarray]]:
    """Casts VGG16's fully connected layers fc1 and fc2 as the convolutions fc6 and fc7.

    This is FCN's "net surgery": fc1 sees the flattened 7×7×512 pool5, so its `(25088, 4096)`
    kernel is exactly a 7×7 convolution kernel `(7, 7, 512, 4096)` in Keras' HWIO layout (Flatten
    is row-major over height, width, channels); fc2's `(4096, 4096)` kernel is a 1×1
    convolution. Biases are unchanged. The 1000-way `predictions` layer is dropped.

    A smaller `kernel_size` or `units` decimates them, as DeepLab-LargeFOV's initialisation
    (`vgg16_20M.caffemodel`, the "20M" of its 20.5 M parameters) does by "simple decimation":
    fc6 keeps `kernel_size` evenly spaced taps of the 7 along each axis (3 → taps 0, 3, 6;
    4 → 0, 2, 4, 6) and every `4096 / units`-th filter (1024 → 0, 4, 8, …); fc7 keeps the same
    filters on both of its sides. The papers give the tap rule and the widths, not the filter
    indices; keeping every fourth filter is decimation along that axis too. The released
    `vgg16_20M.caffemodel` has not been compared here; DeepLab's trained models load whole
    through their Caffe files, where this rule plays no part.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 3.1; Chen et al., "Semantic Image
    Segmentation with Deep Convolutional Nets and Fully Connected CRFs", ICLR 2015, sections 3.1
    and 4.1 (DeepLab-LargeFOV: 3×3 fc6 of 1024 filters, fc7 of 1024).

    Args:
        classifier: `keras.applications.VGG16(include_top=True)`.
        kernel_size: side of fc6's kernel, at most 7.
        units: filters of fc6 and fc7, a divisor of 4096.

    Returns:
        `{"fc6": [kernel, bias], "fc7": [kernel, bias]}` ready for `Conv2D.set_weights`.

    Example:

    >>> vgg = keras.applications.VGG16(weights=None)
    >>> convolutionalize(vgg)["fc6"][0].shape
    (7, 7, 512, 4096)
    >>> convolutionalize(vgg, kernel_size=3, units=1024)["fc7"][0].shape
    (1, 1, 1024, 1024)
    """
    if not 1 <= kernel_size <= FC_KERNEL_SIZE or units < 1 or FC_UNITS % units:
        raise ValueError(
            f"fc6/fc7 can take the classifier's weights with kernel_size in [1, "
            f"{FC_KERNEL_SIZE}] and units dividing {FC_UNITS}; received kernel_size="
            f"{kernel_size}, units={units}."
        )
    pool5 = tuple(classifier.get_layer(POOL_NAMES[-1]).output.shape[1:])
    fc1_kernel, fc1_bias = classifier.get_layer("fc1").get_weights()
    fc2_kernel, fc2_bias = classifier.get_layer("fc2").get_weights()
    taps = np.round(np.linspace(0, FC_KERNEL_SIZE - 1, kernel_size)).astype(int)
    filters = np.arange(0, FC_UNITS, FC_UNITS // units)
    fc6_kernel = fc1_kernel.reshape(*pool5, FC_UNITS)[np.ix_(taps, taps)][..., filters]
    fc7_kernel = fc2_kernel[np.ix_(filters, filters)].reshape(1, 1, units, units)
    return {
        "fc6": [np.ascontiguousarray(fc6_kernel), fc1_bias[filters]],
        "fc7": [fc7_kernel, fc2_bias[filters]],
    }


def vgg16_fully_connected(
    features,
    classifier: keras.Model | None,
    *,
    kernel_size: int = FC_KERNEL_SIZE,
    dilation: int = 1,
    units: int = FC_UNITS,
    padding: str = "valid",
    dropout: float = 0.5,
    suffix: str = "",
    kernel_initializer: str | keras.initializers.Initializer = "he_normal",
):
    """Applies fc6 and fc7, the classifier's fully connected layers as convolutions.

    fc6 is a `kernel_size` convolution (dilated by `dilation`) of `units` filters, fc7 a 1×1
    convolution of `units`; each is followed by ReLU and dropout (`drop6`, `drop7`). fc6 runs
    as one matrix product (`MatmulConv2D`): oneDNN's convolution reaches a quarter of the
    matmul rate on a large kernel over a small map. Several branches on one feature map
    (DeepLab's ASPP) tell their layers apart by `suffix` (`fc6_1`, `drop6_1`, `fc7_1`, ...).

    Args:
        features: pool5 (or the last feature map of the backbone).
        classifier: the VGG16 classifier whose fc1/fc2 fill fc6/fc7 (`convolutionalize`), or
            `None` for He-initialised random weights.
        kernel_size: side of fc6's kernel.
        dilation: dilation of fc6.
        units: filters of fc6 and fc7.
        padding: fc6's padding, `"valid"` or `"same"`.
        dropout: dropout rate after fc6 and fc7.
        suffix: appended to the four layer names (`fc6_1` for a DeepLab-ASPP branch, `fc6color`
            for an NYUD stream), as in `vgg16_convolutions`.
        kernel_initializer: the kernels' initializer without a classifier (He by default).

    Returns:
        fc7's output after dropout.

    Example:

    >>> pool5 = keras.Input((None, None, 512))
    >>> vgg16_fully_connected(pool5, None, units=64).shape
    (None, None, None, 64)
    """
    fc6 = MatmulConv2D(
        units,
        kernel_size,
        padding=padding,
        dilation_rate=dilation,
        activation="relu",
        kernel_initializer=kernel_initializer,
        name="fc6" + suffix,
    )
    fc7 = keras.layers.Conv2D(
        units, 1, activation="relu", kernel_initializer=kernel_initializer, name="fc7" + suffix
    )
    features = keras.layers.Dropout(dropout, name="drop6" + suffix)(fc6(features))
    features = keras.layers.Dropout(dropout, name="drop7" + suffix)(fc7(features))
    if classifier is not None:
        surgery = convolutionalize(classifier, kernel_size, units)
        fc6.set_weights(surgery["fc6"])
        fc7.set_weights(surgery["fc7"])
    return features
