"""FCN-AlexNet: the FCN-32s construction on AlexNet (CaffeNet) instead of VGG16.

AlexNet's convolutions with its fully connected layers cast as convolutions (fc6 a 6×6 kernel
over pool5, fc7 1×1), a 1×1 `score_fr` and one frozen bilinear upsampling of 32× (`upscore`,
kernel 63), cropped to the input at offset 18. As in the released net, the input gets 100 pixels
of zero padding before conv1 (11×11, stride 4), the pools are 3×3 of stride 2 rounding up
(Caffe's ceil mode, `CaffeMaxPooling2D`), local response normalisation follows pool1 and pool2,
and conv2, conv4 and conv5 are grouped convolutions of two groups (AlexNet's two GPUs). The
layer names are the prototxt's. It scores 48.0 mean IU on seg11valid against FCN-32s's 63.6.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation",
CVPR 2015, section 4.1 and table 1; the released net `voc-fcn-alexnet/net.py`. Krizhevsky,
Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks", NIPS 2012.
"""

import dataclasses
import os

import keras

from keras_fcn.backbones.preprocessing import IMAGENET_MEAN_BGR
from keras_fcn.backbones.vgg16 import PIXEL_STD, vgg16_fully_connected
from keras_fcn.layers import (
    BilinearUpsampling,
    CropToReference,
    LocalResponseNormalization,
    pooling_layer,
)
from keras_fcn.models.inputs import check_sizes, image_input

ORIGINAL_PADDING = 100
"""Zero padding of conv1 in the released net."""

FC_UNITS = 4096
"""Width of fc6 and fc7."""

UPSCORE_KERNEL, UPSCORE_STRIDE, CROP_OFFSET = 63, 32, 18
"""The last upsampling (`upscore`) and the crop of the released net (`voc-fcn-alexnet`)."""


@dataclasses.dataclass(frozen=True)
class Convolution:
    """One of AlexNet's convolutions, with ReLU (Caffe's `Convolution` parameters)."""

    name: str
    filters: int
    kernel_size: int
    strides: int = 1
    groups: int = 1
    pool_and_normalize: bool = False
    """Whether a 3×3 stride-2 max pooling and an LRN follow (pool1/norm1, pool2/norm2)."""


CONVOLUTIONS = (
    Convolution("conv1", 96, 11, strides=4, pool_and_normalize=True),
    Convolution("conv2", 256, 5, groups=2, pool_and_normalize=True),
    Convolution("conv3", 384, 3),
    Convolution("conv4", 384, 3, groups=2),
    Convolution("conv5", 256, 3, groups=2),
)
"""AlexNet's five convolutions as `voc-fcn-alexnet/net.py` writes them; conv1 is unpadded (the
100 pixels come first), the others padded to keep their size (`pad = kernel_size // 2`)."""


def _kernel_initializer(name: str) -> keras.initializers.Initializer:
    """He initialisation; conv1's scaled down for inputs in pixel units, as VGG16's conv1_1."""
    scale = 2.0 / PIXEL_STD**2 if name == CONVOLUTIONS[0].name else 2.0
    return keras.initializers.VarianceScaling(scale, mode="fan_in", distribution="truncated_normal")


def FCNAlexNet(
    num_classes: int = 21,
    *,
    input_shape: tuple = (None, None, 3),
    weights: str | None = None,
    fc_units: int = FC_UNITS,
    dropout: float = 0.5,
    mean: tuple[float, float, float] = IMAGENET_MEAN_BGR,
    kernel_initializer: str | None = None,
    name: str = "fcn-alexnet",
) -> keras.Model:
    """Builds FCN-AlexNet, the released `voc-fcn-alexnet` net (see the module docstring).

    The model takes RGB images with values in [0, 255] of any height and width and returns
    per-pixel class logits of the same height and width (float32). Its geometry is the Caffe
    net's only; the trained VOC weights load with `keras_fcn.from_preset("voc-fcn-alexnet")`.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.1.

    Args:
        num_classes: number of classes scored, background included.
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        weights: `None` (random weights: He initialisation, conv1 scaled for pixel-valued
            inputs) or the path of a Keras weights file of this architecture (`.weights.h5`).
            keras.applications has no AlexNet, so there are no ImageNet weights to start from.
        fc_units: width of fc6 and fc7 (4096 in the paper); narrower for quick experiments.
        dropout: dropout rate after fc6 and fc7.
        mean: the mean the weights expect, BGR, subtracted inside the model.
        kernel_initializer: the kernels' initializer; `None` for He initialisation, `"zeros"`
            to build fast a net whose weights are loaded next.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = FCNAlexNet(num_classes=2, fc_units=8)
    >>> model(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 37, 53, 2])
    """
    if weights is not None and not (isinstance(weights, str) and os.path.isfile(weights)):
        raise ValueError(
            "FCN-AlexNet takes weights=None or the path of a Keras weights file of its "
            f"architecture; received {weights!r} (keras.applications has no AlexNet; the trained "
            "VOC net loads with keras_fcn.from_preset('voc-fcn-alexnet'))."
        )
    check_sizes(input_shape, num_classes=num_classes, fc_units=fc_units)

    # data: RGB in [0, 255] → BGR minus the mean, then conv1's pad 100.
    images, features = image_input(input_shape, mean)
    features = keras.layers.ZeroPadding2D(ORIGINAL_PADDING, name="pad100")(features)

    # conv1 (1/4), pool1 + norm1 (1/8), conv2, pool2 + norm2 (1/16), conv3 … conv5, pool5: 1/32.
    for conv in CONVOLUTIONS:
        features = keras.layers.Conv2D(
            conv.filters,
            conv.kernel_size,
            strides=conv.strides,
            padding="valid" if conv.strides > 1 else "same",
            groups=conv.groups,
            activation="relu",
            kernel_initializer=kernel_initializer or _kernel_initializer(conv.name),
            name=conv.name,
        )(features)
        if conv.pool_and_normalize:
            index = conv.name[-1]
            features = pooling_layer(3, 2, 0, f"pool{index}")(features)
            features = LocalResponseNormalization(5, 1e-4, 0.75, name=f"norm{index}")(features)
    features = pooling_layer(3, 2, 0, "pool5")(features)

    # fc6 (6×6 over pool5), fc7: 1/32, the classifier's fully connected layers as convolutions,
    # as VGG16's (no ImageNet classifier here).
    features = vgg16_fully_connected(
        features,
        None,
        kernel_size=6,
        units=fc_units,
        dropout=dropout,
        kernel_initializer=kernel_initializer or "he_normal",
    )
    scores = keras.layers.Conv2D(
        num_classes, 1, kernel_initializer="zeros", bias_initializer="zeros", name="score_fr"
    )(features)

    # upscore: 32× with a kernel of 63, then crop to the input from offset 18: 1/1.
    scores = keras.layers.Conv2DTranspose(
        num_classes,
        UPSCORE_KERNEL,
        strides=UPSCORE_STRIDE,
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        trainable=False,
        name="upscore",
    )(scores)
    logits = CropToReference(CROP_OFFSET, dtype="float32", name="score")([scores, images])
    model = keras.Model(images, logits, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model
