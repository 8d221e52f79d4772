"""DeepLab-LargeFOV (DeepLab v1) and DeepLab-ASPP (DeepLab v2) on VGG16 and ResNet-101, before the
CRF.

DeepLab keeps VGG16 and changes how it sees: pool1–pool3 become 3×3 max pools of stride 2 with
padding 1, pool4 and pool5 keep the resolution (3×3, stride 1, padding 1), conv5_1–conv5_3 are
dilated by 2 to see as far as before, and fc6 becomes a 3×3 convolution of 1024 filters
dilated by 12 ("atrous"), for scores at 1/8 of the input with a field of view of 224 pixels at
20.5 M parameters instead of FCN's 134 M. The scores (`fc8_voc12`, a 1×1 convolution) are
zoomed back to the input by Caffe's corner-aligned bilinear `Interp` (`fc8_interp`).

The nets are one construction driven by a table (`DeepLabVariant` rows): DeepLab-LargeFOV has
one fc6 → fc7 → fc8 branch; v2's atrous spatial pyramid pooling (ASPP) runs four such branches
on pool5 with fc6 dilated by 6, 12, 18, 24 (ASPP-L) or 2, 4, 8, 12 (ASPP-S) and sums their
scores. Layer names follow the released prototxts: `fc6`, `fc7`, `fc8_voc12`, `pool5a`,
`fc8_interp` for LargeFOV; `fc6_1` … `fc8_voc12_4` and the sum `fc8_voc12` for ASPP. The
VGG16 convolutions keep keras.applications' names (`block1_conv1` for Caffe's `conv1_1`,
`keras_fcn.backbones.vgg16.CAFFE_CONV_NAMES`).

DeepLab v2's ResNet-101 (`build_deeplab_resnet`, `DeepLabASPP(backbone="resnet101")`) is
MSRA's Caffe ResNet-101 in DeepLab's layout (`keras_fcn.backbones.resnet.CAFFE_DEEPLAB_V2`:
bias-free convolutions, Caffe's `BatchNorm` + `Scale` as one batch normalization of epsilon
1e-5, the stride in `res3a_branch2a`'s 1×1, every `res4*_branch2b` dilated by 2 and
`res5*_branch2b` by 4, pool1 rounding up), scores at 1/8 from ASPP-L on `res5c` ("P5"): four
3×3 convolutions to the classes with biases, dilated by 6, 12, 18, 24 (`fc1_voc12_c0` …
`fc1_voc12_c3`), summed (`fc1_voc12`) and zoomed as the VGG16 nets' scores (`fc1_interp`). The
released test net runs it on three scales of the input and keeps the maximum of the scores
(MSC): `keras_fcn.models.msc.multi_scale(model)` builds that net around the model.

Where the paper and the released code differ, the code is followed:
- DeepLab-LargeFOV's released `train.prototxt`/`test.prototxt` average pool5 once more before
  fc6 (`pool5a`: 3×3, stride 1, padding 1, Caffe's `AVE`, whose divisor counts the zero
  padding: always 9 here), which the papers do not mention. It has no parameters.
- fc8 is initialised from a Gaussian of standard deviation 0.01 and zero biases (the
  prototxts' fillers); fc6/fc7 are VGG16's fc1/fc2 decimated to 3×3 taps and 1024 filters
  (`keras_fcn.backbones.vgg16.convolutionalize`), and every ASPP branch starts from them.
- At test time DeepLab pads every image to 513×513 with the mean and crops the zoomed scores
  back; these models run on the image itself and zoom to its own size: `fc8_interp` samples
  the 1/8 scores at `(h / 8, w / 8)` exactly as `Interp` with `zoom_factor: 8` does, up to the
  input's height and width (`keras_fcn.layers.ZoomToReference`).
- Training compares the 1/8 scores with labels subsampled 8× (`label_shrink`); the paper
  recipe says so with `label_stride=8` (`keras_fcn.training.Recipe`), which compares every
  8th pixel of the zoomed logits, exactly the 1/8 scores on 8k + 1 sized crops such as 321.
- The ResNet-101 net's batch normalizations are frozen (`trainable=False`: the moving
  statistics normalize in training too, and γ, β do not learn), as DeepLab v2's TensorFlow
  port trains it (DrSleep/tensorflow-deeplab-resnet `train.py`: the statistics kept unless
  `--is-training`, γ and β left out of the variables it optimises), following the release's
  Caffe `BatchNorm` on stored statistics. Set a layer's `trainable = True` to fine-tune it. The
  released net trains with the three scales of MSC, a loss on each and on their maximum; the
  models here train on one.

Reference: Chen, Papandreou, Kokkinos, Murphy & Yuille, "Semantic Image Segmentation with Deep
Convolutional Nets and Fully Connected CRFs", ICLR 2015 (arXiv:1412.7062), sections 3 and 4.1
(DeepLab-LargeFOV); "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous
Convolution, and Fully Connected CRFs", PAMI 2017 (arXiv:1606.00915), sections 3.1, 3.2 and
4.1 (ASPP, table 4; ResNet-101 with multi-scale inputs). Released prototxts:
`DeepLab-LargeFOV/{train,test}.prototxt` (http://www.cs.jhu.edu/~alanlab/ccvl/DeepLab-LargeFOV/);
DeepLab v2's VGG16 ASPP `train.prototxt`/`test.prototxt` (deeplab-public-ver2,
`exper/voc12/config/`); DeepLab v2's ResNet-101 (`deeplab_aspp_resnet101/prototxt_and_model.zip`;
its layer list as in DrSleep/tensorflow-deeplab-resnet `misc/deploy.prototxt`).
"""

import dataclasses

import keras

from keras_fcn.backbones.preprocessing import DEEPLAB_MEAN_BGR, IMAGENET_MEAN_BGR
from keras_fcn.backbones.registry import BACKBONES
from keras_fcn.backbones.resnet import CAFFE_DEEPLAB_V2
from keras_fcn.backbones.vgg16 import (
    Pooling,
    vgg16_classifier,
    vgg16_fully_connected,
)
from keras_fcn.layers import ZoomToReference
from keras_fcn.models.inputs import check_sizes, image_input

OUTPUT_STRIDE = 8
"""Downsampling factor from the input to pool5 and the scores."""

POOLING = (Pooling(3, 2, 1),) * 3 + (Pooling(3, 1, 1),) * 2
"""pool1–pool3: 3×3, stride 2, pad 1; pool4, pool5: 3×3, stride 1, pad 1 (Caffe's rounding)."""

DILATION = (1, 1, 1, 1, 2)
"""Dilation of each VGG16 block's convolutions: conv5_x by 2."""

FC_UNITS = 1024
"""Width of fc6 and fc7 (4096 in VGG16)."""

FC_KERNEL_SIZE = 3
"""Side of fc6's kernel (7 in VGG16), dilated by the branch's rate."""

SCORE_NAME = "fc8_voc12"
"""The released prototxts' name of the scores (`fc8_${EXP}` with `EXP=voc12`), whatever the
number of classes."""

RESNET_SCORE_NAME = "fc1_voc12"
"""The ResNet-101 release's name of the summed ASPP scores (`fc1_${EXP}`); its branches are
`fc1_voc12_c0` … `fc1_voc12_c3`."""

BACKBONE_NAMES = ("vgg16", "resnet101")
"""The backbones `DeepLabASPP` stands on: the VGG16 nets and DeepLab v2's ResNet-101."""


@dataclasses.dataclass(frozen=True)
class DeepLabVariant:
    """One row of the DeepLab family: the dilation of fc6 in each branch, and pool5a."""

    rates: tuple[int, ...]
    """The dilation of fc6 in each parallel fc6 → fc7 → fc8 branch."""
    average_pool5: bool = False
    """Whether a 3×3 average pooling (`pool5a`) follows pool5 (DeepLab-LargeFOV's release)."""


LARGE_FOV = DeepLabVariant(rates=(12,), average_pool5=True)
ASPP_L = DeepLabVariant(rates=(6, 12, 18, 24))
ASPP_S = DeepLabVariant(rates=(2, 4, 8, 12))


def _average_pool5(features):
    """pool5a: Caffe's 3×3 average pooling, stride 1, pad 1, which divides by 9 everywhere.

    Caffe counts the padded positions in the divisor (up to the padded border), so the zeros
    padded around pool5 take part in the mean; `AveragePooling2D(padding="same")` would leave
    them out.
    """
    features = keras.layers.ZeroPadding2D(1, name="pool5a_pad")(features)
    return keras.layers.AveragePooling2D(3, strides=1, name="pool5a")(features)


def build_deeplab(
    variant: DeepLabVariant,
    num_classes: int = 21,
    *,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = FC_UNITS,
    dropout: float = 0.5,
    mean: tuple[float, float, float] = IMAGENET_MEAN_BGR,
    kernel_initializer: str | None = None,
    name: str = "deeplab",
) -> keras.Model:
    """Builds one DeepLab of the family table (`LARGE_FOV`, `ASPP_L`, `ASPP_S`).

    See `DeepLabLargeFOV` for the arguments; `variant` picks the row of the table and `mean`
    (BGR) is the mean the weights expect, subtracted inside the model (DeepLab's released
    models use `keras_fcn.backbones.DEEPLAB_MEAN_BGR`). `kernel_initializer` sets the kernels
    of the convolutions and of fc6/fc7 that take no classifier weights: `None` for He
    initialisation, `"zeros"` to build fast a net whose weights are loaded next (the presets,
    `keras_fcn.from_preset`).

    Example:

    >>> model = build_deeplab(ASPP_S, num_classes=2, weights=None, fc_units=8)
    >>> [model.get_layer(f"fc6_{branch}").dilation_rate for branch in (1, 4)]
    [(2, 2), (12, 12)]
    """
    check_sizes(input_shape, num_classes=num_classes, fc_units=fc_units)
    if not variant.rates:
        raise ValueError(f"A DeepLab variant needs at least one fc6 rate, received {variant}.")
    classifier = vgg16_classifier(weights)

    # data: RGB in [0, 255] → BGR minus the mean of the weights.
    images, features = image_input(input_shape, mean)

    # conv1_1 … pool3: 1/8; pool4, conv5_x (dilated by 2), pool5: still 1/8.
    features = BACKBONES["vgg16"](
        features,
        weights=classifier,
        pooling=POOLING,
        dilation=DILATION,
        kernel_initializer=kernel_initializer,
    )
    features = features["P5"]
    if variant.average_pool5:
        features = _average_pool5(features)

    # fc6 (3×3, dilated by each rate) → fc7 → fc8 in every branch: 1/8. Only fc layers of the
    # paper's width take the classifier's (decimated) weights; narrower ones start random.
    scores = []
    for index, rate in enumerate(variant.rates, start=1):
        suffix = f"_{index}" if len(variant.rates) > 1 else ""
        branch = vgg16_fully_connected(
            features,
            classifier if fc_units == FC_UNITS else None,
            kernel_size=FC_KERNEL_SIZE,
            dilation=rate,
            units=fc_units,
            padding="same",
            dropout=dropout,
            suffix=suffix,
            kernel_initializer=kernel_initializer or "he_normal",
        )
        scores.append(
            keras.layers.Conv2D(
                num_classes,
                1,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                bias_initializer="zeros",
                name=f"{SCORE_NAME}{suffix}",
            )(branch)
        )
    # ASPP: the branches' scores summed (Eltwise SUM).
    scores = scores[0] if len(scores) == 1 else keras.layers.Add(name=SCORE_NAME)(scores)

    # fc8_interp: zoom 8× with corners aligned, to the input's size: 1/1.
    logits = ZoomToReference(OUTPUT_STRIDE, dtype="float32", name="fc8_interp")([scores, images])
    return keras.Model(images, logits, name=name)


def build_deeplab_resnet(
    num_classes: int = 21,
    *,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    rates: tuple[int, ...] = ASPP_L.rates,
    mean: tuple[float, float, float] = DEEPLAB_MEAN_BGR,
    kernel_initializer: str | None = None,
    name: str = "deeplab-aspp-resnet101",
) -> keras.Model:
    """Builds DeepLab v2's ResNet-101 with ASPP: the released net at one scale.

    See the module docstring for the layout and `DeepLabASPP` for the behaviour. Its 21-class
    net holds 44,153,876 numbers (`count_params`), 44,048,532 without the batch
    normalizations' moving statistics.

    Reference: Chen et al., PAMI 2017, sections 3.2 and 4.1 (ResNet-101 with ASPP-L: VOC 2012
    val mean IU 76.35 with MSC, 77.69 with the CRF).

    Args:
        num_classes: number of classes scored, background included.
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        weights: `"imagenet"` (keras.applications' ResNet101, MSRA's ImageNet model, each
            convolution's bias taken into its batch normalization), `None` (random weights),
            or the path of a keras.applications ResNet101 weights file (`include_top=False`).
            The trained VOC net is the preset `voc-deeplab-v2-resnet101`.
        rates: the dilation of each ASPP branch (`(6, 12, 18, 24)`: ASPP-L).
        mean: the BGR mean the weights expect, subtracted inside the model (DeepLab's).
        kernel_initializer: the backbone's kernels: `None` for He initialisation, `"zeros"` to
            build fast a net whose weights are loaded next. The ASPP branches start from a
            Gaussian of standard deviation 0.01 and zero biases, the prototxt's fillers.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` RGB images to `(B, H, W,
        num_classes)` float32 logits.

    Example:

    >>> model = build_deeplab_resnet(num_classes=2, weights=None, kernel_initializer="zeros")
    >>> [model.get_layer(f"fc1_voc12_c{branch}").dilation_rate for branch in (0, 3)]
    [(6, 6), (24, 24)]
    >>> model(np.zeros((1, 41, 49, 3))).shape
    TensorShape([1, 41, 49, 2])
    """
    check_sizes(input_shape, num_classes=num_classes)
    if not rates:
        raise ValueError(f"DeepLab's ASPP needs at least one rate, received {rates!r}.")

    # data: RGB in [0, 255] → BGR minus the mean of the weights.
    images, features = image_input(input_shape, mean)

    # conv1, pool1: 1/4; res2: 1/4; res3: 1/8; res4 (dilated by 2), res5 (by 4): still 1/8.
    features = BACKBONES["resnet101"](
        features,
        weights=weights,
        output_stride=OUTPUT_STRIDE,
        layout=CAFFE_DEEPLAB_V2,
        kernel_initializer=kernel_initializer or "he_normal",
    )["P5"]

    # fc1_voc12_c0 … c3: 3×3 convolutions to the classes, dilated by each rate; summed: 1/8.
    scores = [
        keras.layers.Conv2D(
            num_classes,
            3,
            padding="same",
            dilation_rate=rate,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            bias_initializer="zeros",
            name=f"{RESNET_SCORE_NAME}_c{index}",
        )(features)
        for index, rate in enumerate(rates)
    ]
    scores = keras.layers.Add(name=RESNET_SCORE_NAME)(scores) if len(scores) > 1 else scores[0]

    # fc1_interp: zoom 8× with corners aligned, to the input's size: 1/1.
    logits = ZoomToReference(OUTPUT_STRIDE, dtype="float32", name="fc1_interp")([scores, images])
    model = keras.Model(images, logits, name=name)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False  # frozen, as the release trains it
    return model


def DeepLabLargeFOV(num_classes: int = 21, **options) -> keras.Model:
    """Builds DeepLab-LargeFOV: VGG16 at 1/8 with fc6 3×3 dilated by 12, 1024 filters.

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32. VGG
    preprocessing is inside the model. See the module docstring for the geometry and where it
    follows the released prototxt rather than the paper.

    Reference: Chen et al., ICLR 2015, section 4.1 ("DeepLab-LargeFOV"); PAMI 2017, table 1
    (20.5 M parameters) and table 3 (VOC 2012 val mean IU 62.25 with the step schedule, 65.88
    with "poly", before the CRF).

    Args:
        num_classes: number of classes scored, background included (21 for PASCAL VOC).
        **options: `build_deeplab`'s keyword arguments:
            `input_shape`: `(height, width, 3)`; `None` for sizes that vary.
            `weights`: `"imagenet"` (keras.applications' VGG16 classifier, downloaded on first
            use; fc6/fc7 take its fc1/fc2 decimated), `None` (random weights), or the path of a
            VGG16 classifier weights file. DeepLab's released VOC model is the preset
            `voc-deeplab-largefov` (`keras_fcn.from_preset`).
            `fc_units`: width of fc6 and fc7 (1024). Only the paper's 1024 takes the
            classifier's fc weights; narrower layers start random (He initialisation).
            `dropout`: dropout rate after fc6 and fc7 (0.5).
            `name`: the model's name (`"deeplab-largefov"`).
            `mean`, `kernel_initializer`: see `build_deeplab`.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = DeepLabLargeFOV(num_classes=21)  # doctest: +SKIP
    >>> model = DeepLabLargeFOV(num_classes=2, weights=None, fc_units=8)
    >>> model(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 37, 53, 2])
    """
    return build_deeplab(LARGE_FOV, num_classes, **{"name": "deeplab-largefov", **options})


def DeepLabASPP(
    num_classes: int = 21,
    *,
    rates: tuple[int, ...] = ASPP_L.rates,
    backbone: str = "vgg16",
    **options,
) -> keras.Model:
    """Builds DeepLab v2's ASPP: parallel branches of dilated convolutions, their scores summed.

    On VGG16 (`backbone="vgg16"`), four fc6 → fc7 → fc8 branches on pool5: each branch is
    DeepLab-LargeFOV's head with its own dilation of fc6; the released prototxt has no
    `pool5a`. On ResNet-101 (`backbone="resnet101"`, `build_deeplab_resnet`), four 3×3
    convolutions to the classes on `res5c`. `rates=(6, 12, 18, 24)` is ASPP-L, `(2, 4, 8, 12)`
    ASPP-S. See `DeepLabLargeFOV` for the VGG16 net's other arguments and the behaviour, and
    `build_deeplab_resnet` for the ResNet-101 net's (which has no `fc_units` or `dropout`).

    Reference: Chen et al., PAMI 2017, section 3.2 and table 4 (ASPP-L on VGG16: VOC 2012 val
    mean IU 68.96 before the CRF; on ResNet-101: 76.35 with MSC).

    Example:

    >>> model = DeepLabASPP(num_classes=2, weights=None, fc_units=8)
    >>> model.get_layer("fc6_4").dilation_rate
    (24, 24)
    >>> model = DeepLabASPP(num_classes=2, backbone="resnet101", weights=None)
    >>> model.name, model.get_layer("fc1_voc12_c3").dilation_rate
    ('deeplab-aspp-resnet101', (24, 24))
    """
    if backbone not in BACKBONE_NAMES:
        raise ValueError(
            f"DeepLabASPP stands on one of the backbones {BACKBONE_NAMES}; received "
            f"backbone={backbone!r}."
        )
    if backbone == "resnet101":
        return build_deeplab_resnet(num_classes, rates=tuple(rates), **options)
    variant = DeepLabVariant(rates=tuple(rates))
    return build_deeplab(variant, num_classes, **{"name": "deeplab-aspp", **options})
