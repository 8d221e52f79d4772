"""The Dilation8 front-end and its context module (Yu & Koltun) on VGG16.

The front-end is VGG16 without pool4 and pool5, with conv5_1–conv5_3 dilated by 2 and fc6 a
7×7 convolution dilated by 4 (VGG16's fc1 unchanged, 4096 filters), then fc7 (4096) and a 1×1
`fc-final` to the classes: scores at 1/8 of the input. Every convolution is unpadded; instead
the image is reflected by 186 pixels on each side (`label_margin`), so that each score sees a
full field of view: `8n` pixels of image give `n` scores, the 900×900 input of the released
deploy net 66×66. The model reflects the image up to the next multiple of 8 and one score
further, which the zoom of the last rows and columns reads, and zooms the scores 8× bilinearly
back to the image, corners aligned.

The context module follows the scores: seven 3×3 convolutions dilated by 1, 1, 2, 4, 8, 16, 1
with ReLUs, then a 1×1 convolution back to the `C` classes; the basic module keeps `C` channels
throughout, the large one widens to 2C, 2C, 4C, 8C, 16C, 32C, 32C. Its first convolution pads
the scores by 33 (the module's whole reach, 1 + 1 + 2 + 4 + 8 + 16 + 1), the others are
unpadded, so the scores keep their size. It starts as the identity
(`keras_fcn.layers.GroupedIdentity`), so a fresh module passes the front-end's scores (their
positive part) through.

Layer names follow the released deploy prototxt (`dilation8_pascal_voc_deploy.prototxt`):
`fc6`, `fc7`, `fc-final`, `ct_conv1_1`, `ct_conv1_2`, `ct_conv2_1`, `ct_conv3_1`, `ct_conv4_1`,
`ct_conv5_1`, `ct_fc1`, `ct_final`; the VGG16 convolutions keep keras.applications' names
(`block1_conv1` for Caffe's `conv1_1`, `keras_fcn.backbones.vgg16.CAFFE_CONV_NAMES`). The
released VOC model is the front-end with the large context module (`context="large"`).

Where the paper and the released code differ, the code is followed:
- `predict.py` reflects the image by 186 pixels, cuts it into tiles of the deploy net's input
  (900×900: 528×528 pixels, 66×66 scores), reflects the last tiles up to that size, and zooms
  the scores with `util.interp_map` (output pixel `h` at `h / 8`). The model is that net with
  the tile sized to the image: it reflects the image by 186 pixels, then up to the next
  multiple of 8 and 8 pixels more (`keras_fcn.layers.ReflectPadding2D`), and runs it whole;
  `keras_fcn.layers.ZoomToReference` zooms as `interp_map` does. The front-end's scores equal
  the tiles' exactly, whatever the tiling (its unpadded convolutions see the same pixels). The
  context module sees the scores of one tile in `predict.py`, 66×66 of them for any VOC image,
  those of the reflected border included; here it sees the image's own, one past its end. The
  two agree for an image of 520×520 pixels and differ near the bottom and right edges of
  smaller ones (the context module reaches 33 scores, 264 pixels).
- `fc-final` starts from a Gaussian of standard deviation 0.001 (`network.py`); the large
  module's identity gets Gaussian noise of 1% of its centre value (the paper asks for noise
  well below it, `network.py` uses 0.01), the basic one none (the paper's equation 4).

Reference: Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016
(arXiv:1511.07122): section 3 and table 1 (context module), section 4 (front-end); `fyu/dilation`
(MIT): `models/dilation8_pascal_voc_deploy.prototxt`, `network.py`, `predict.py`, `util.py`.
"""

import keras

from keras_fcn.backbones.preprocessing import IMAGENET_MEAN_BGR
from keras_fcn.backbones.registry import BACKBONES
from keras_fcn.backbones.vgg16 import (
    FC_UNITS,
    Pooling,
    vgg16_classifier,
    vgg16_fully_connected,
)
from keras_fcn.layers import GroupedIdentity, ReflectPadding2D, ZoomToReference
from keras_fcn.models.inputs import check_sizes, image_input

OUTPUT_STRIDE = 8
"""Downsampling factor from the (reflected) input to the scores."""

LABEL_MARGIN = 186
"""Pixels reflected onto every side of the image: the front-end's unpadded convolutions take
372 rows and columns off (its field of view is 380 pixels, 8 per score)."""

POOLING = (Pooling(),) * 3 + (None, None)
"""pool1–pool3: VGG16's 2×2, stride 2; no pool4, no pool5."""

DILATION = (1, 1, 1, 1, 2)
"""Dilation of each VGG16 block's convolutions: conv5_x by 2."""

FC6_DILATION = 4
"""Dilation of fc6's 7×7 kernel (the two strides of 2 that pool4 and pool5 took)."""

CONTEXTS = ("none", "basic", "large")
"""The context modules: none (the front-end alone), basic, large."""

CONTEXT_LAYERS = (
    ("ct_conv1_1", 1),
    ("ct_conv1_2", 1),
    ("ct_conv2_1", 2),
    ("ct_conv3_1", 4),
    ("ct_conv4_1", 8),
    ("ct_conv5_1", 16),
    ("ct_fc1", 1),
)
"""The context module's 3×3 convolutions and their dilations (paper table 1, layers 1–7)."""

CONTEXT_WIDTHS = {"basic": (1, 1, 1, 1, 1, 1, 1), "large": (2, 2, 4, 8, 16, 32, 32)}
"""The width of each 3×3 context layer in multiples of the number of classes."""

CONTEXT_NOISE = {"basic": 0.0, "large": 0.01}
"""Standard deviation of the noise on the identity initialisation, relative to its centre
value `C / c_{i+1}`."""


def _context_module(scores, num_classes: int, context: str):
    """The context module on the scores: `ct_conv1_1` … `ct_fc1` (3×3, ReLU), `ct_final`."""
    reach = sum(dilation for _, dilation in CONTEXT_LAYERS)
    # ct_conv1_1 pads the scores by the module's whole reach; the rest are unpadded.
    features = keras.layers.ZeroPadding2D(reach, name="ct_conv1_1_pad")(scores)
    for (name, dilation), width in zip(CONTEXT_LAYERS, CONTEXT_WIDTHS[context], strict=True):
        features = keras.layers.Conv2D(
            width * num_classes,
            3,
            dilation_rate=dilation,
            activation="relu",
            kernel_initializer=GroupedIdentity(num_classes, CONTEXT_NOISE[context] / width),
            bias_initializer="zeros",
            name=name,
        )(features)
    return keras.layers.Conv2D(
        num_classes,
        1,
        kernel_initializer=GroupedIdentity(num_classes),
        bias_initializer="zeros",
        name="ct_final",
    )(features)


def build_dilation(
    num_classes: int = 21,
    *,
    context: str = "none",
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = FC_UNITS,
    dropout: float = 0.5,
    mean: tuple[float, float, float] = IMAGENET_MEAN_BGR,
    kernel_initializer: str | None = None,
    name: str = "dilation8",
) -> keras.Model:
    """Builds the Dilation8 front-end, with or without a context module.

    See `Dilation8` for the arguments; `mean` (BGR) is the mean the weights expect, subtracted
    inside the model (the released VOC model's is
    `keras_fcn.backbones.DILATION_VOC_MEAN_BGR`). `kernel_initializer` sets the kernels of the
    convolutions and of fc6/fc7 that take no classifier weights: `None` for He initialisation,
    `"zeros"` to build fast a net whose weights are loaded next (`keras_fcn.from_preset`).

    Example:

    >>> model = build_dilation(2, context="basic", weights=None, fc_units=8)
    >>> model.get_layer("ct_conv5_1").dilation_rate
    (16, 16)
    """
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {CONTEXTS}, received {context!r}.")
    check_sizes(input_shape, num_classes=num_classes, fc_units=fc_units)
    classifier = vgg16_classifier(weights)

    # data: RGB in [0, 255] → BGR minus the mean, reflected by 186 (and up to a multiple of 8,
    # plus 8: one score past the image).
    images, features = image_input(input_shape, mean)
    features = ReflectPadding2D(
        LABEL_MARGIN, OUTPUT_STRIDE, extend=OUTPUT_STRIDE, name="reflect_pad"
    )(features)

    # conv1_1 … pool3: 1/8, unpadded; conv4_x, conv5_x (dilated by 2): 1/8.
    features = BACKBONES["vgg16"](
        features,
        weights=classifier,
        pooling=POOLING,
        dilation=DILATION,
        padding="valid",
        kernel_initializer=kernel_initializer,
    )["P5"]

    # fc6 (7×7 dilated by 4), fc7: VGG16's fc1/fc2 unchanged at the paper's width; 1/8.
    features = vgg16_fully_connected(
        features,
        classifier if fc_units == FC_UNITS else None,
        dilation=FC6_DILATION,
        units=fc_units,
        padding="valid",
        dropout=dropout,
        kernel_initializer=kernel_initializer or "he_normal",
    )
    scores = keras.layers.Conv2D(
        num_classes,
        1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
        bias_initializer="zeros",
        name="fc-final",
    )(features)

    # The context module: 1/8, same size.
    if context != "none":
        scores = _context_module(scores, num_classes, context)

    # Zoom 8× with corners aligned, to the input's size: 1/1.
    logits = ZoomToReference(OUTPUT_STRIDE, dtype="float32", name="interp")([scores, images])
    return keras.Model(images, logits, name=name)


def Dilation8(num_classes: int = 21, **options) -> keras.Model:
    """Builds Dilation8: the dilated VGG16 front-end, alone or with a context module.

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32. VGG
    preprocessing and the reflection padding are inside the model. See the module docstring for
    the geometry and where it follows the released code rather than the paper.

    Reference: Yu & Koltun, ICLR 2016, section 4 (front-end: VOC 2012 test mean IU 67.6) and
    table 1 (context module).

    Args:
        num_classes: number of classes scored, background included (21 for PASCAL VOC).
        **options: `build_dilation`'s keyword arguments:
            `context`: `"none"` (the front-end, default), `"basic"` or `"large"` (the released
            VOC model's).
            `input_shape`: `(height, width, 3)`; `None` for sizes that vary.
            `weights`: `"imagenet"` (keras.applications' VGG16 classifier, downloaded on first
            use; fc6/fc7 take its fc1/fc2), `None` (random weights), or the path of a VGG16
            classifier weights file. The released VOC model is the preset `voc-dilation8`
            (`keras_fcn.from_preset`).
            `fc_units`: width of fc6 and fc7 (4096). Only the paper's 4096 takes the
            classifier's fc weights; narrower layers start random (He initialisation).
            `dropout`: dropout rate after fc6 and fc7 (0.5).
            `name`: the model's name (`"dilation8"`).
            `mean`, `kernel_initializer`: see `build_dilation`.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = Dilation8(num_classes=21)  # doctest: +SKIP
    >>> model = Dilation8(num_classes=2, context="large", weights=None, fc_units=8)
    >>> model(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 37, 53, 2])
    """
    return build_dilation(num_classes, **options)
