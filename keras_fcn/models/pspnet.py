"""PSPNet (the pyramid scene parsing network) on its dilated ResNet-50/101, as released.

PSPNet runs a ResNet with the deep stem (three 3×3 convolutions instead of conv1's 7×7) at
output stride 8: conv4 and conv5 keep conv3's resolution, every 3×3 of conv4 dilated by 2 and
of conv5 by 4, the first blocks included (`keras_fcn.backbones.resnet.PSPNET_101`,
`PSPNET_50`). On conv5 (`conv5_3`), the pyramid pooling module averages the features over
1×1, 2×2, 3×3 and 6×6 bins (`conv5_3_pool1` … `conv5_3_pool6`), reduces each to 512 channels
(a bias-free 1×1 convolution, batch normalization and ReLU, `conv5_3_pool{bin}_conv`), resizes
them back with corners aligned (Caffe's `Interp`, `conv5_3_pool{bin}_interp`) and concatenates
them after conv5 in the release's order, `[conv5_3, pool6, pool3, pool2, pool1]` (4096
channels). A 3×3 convolution to 512 with batch normalization and ReLU (`conv5_4`), dropout
0.1 and a 1×1 convolution with bias (`conv6`) score the classes at 1/8, which `conv6_interp`
zooms by 8 with corners aligned (n scores become 8 (n − 1) + 1: 60 → 473, 90 → 713).

Where the releases differ, each is followed (hszhao/PSPNet `evaluation/prototxt/`):
- PSPNet-101 (VOC 2012, Cityscapes) strides conv3 in `conv3_1_3x3`, PSPNet-50 (ADE20K) in
  `conv3_1_1x1_reduce`; both in `conv3_1_1x1_proj`. A port that puts the stride on the 1×1 for
  every net (PSPNet-Keras-tensorflow's `modify_stride`) computes another net from the
  101-layer weights.
- The prototxts fix the pools' kernel = stride for one input: 60, 30, 20, 10 at 473 (a 60×60
  conv5), 90, 45, 30, 15 at 713 (Caffe's `AVE` pooling of the release, `conv5_3_pool{b}`).
  `input_size=473` or `713` builds that net (fixed input). The release defines nothing for
  other sizes (its kernels would not tile another conv5). There the pools are adaptive to the
  bins 1, 2, 3, 6 by PyTorch's rule (`keras_fcn.layers.AdaptiveAveragePooling`, torch's
  `AdaptiveAvgPool2d` as the author's PyTorch PSPNet, hszhao/semseg `model/pspnet.py`, uses
  it): bin i of b over n rows averages rows ⌊i·n/b⌋ … ⌈(i+1)·n/b⌉ − 1, neighbouring bins
  sharing a row where b does not divide n. That is the prototxt's pooling exactly where
  conv5's side is a multiple of the bin, for every bin where it is a multiple of 6: at 473
  and 713 (the release's nets), and at any input side whose conv5 side is (`conv5_size`:
  41 → 6, 89 → 12). With `input_size=None` the bins are computed from the size of each image
  when the graph runs, so the model and its exports take any size. The windows of PSPNet's
  evaluation (`keras_fcn.inference.PROTOCOLS["pspnet-ss"]`, ...) always run the net at 473 or
  713.
- Batch normalization is PSPNet's Caffe `BN` (epsilon 1e-5, moving-average momentum 0.95).
- The auxiliary head of training (`aux=True`) sits on conv4's output (`conv4_23`, PSPNet-50's
  `conv4_6`): `conv4_24` (3×3 to 256, bias-free, batch normalization, ReLU), dropout 0.1 and
  `conv6_1` (1×1 to the classes with bias), zoomed as the main scores (`conv6_1_interp`); its
  loss weighs 0.4 (`AUX_LOSS_WEIGHT`). Its layout is the PyTorch re-implementation's
  (hszhao/semseg `model/pspnet.py`: `aux`); the released deploy prototxts leave it out, the
  released `.caffemodel` files hold its weights under these names (kazuto1011/pspnet-pytorch
  `convert.py` maps them). The model's outputs are then `{"out": …, "aux": …}`.

Layer names: the backbone keeps keras.applications' ResNet names (`conv4_block3_2_conv` is
PSPNet's `conv4_3_3x3`, `conv4_block3_2_bn` its `conv4_3_3x3/bn`), as every ResNet of the
project does, and the deep stem is `conv1_1_3x3` … `conv1_3_3x3` (PSPNet's `conv1_1_3x3_s2`,
`conv1_2_3x3`, `conv1_3_3x3`); the head has PSPNet's names with `_bn` for `/bn` (Keras forbids
`/`). `keras_fcn.weights.mappings.caffe.pspnet_caffe_name` maps every name to the release's.

Reference: Zhao, Shi, Qi, Wang & Jia, "Pyramid Scene Parsing Network", CVPR 2017, sections 3.2
(pyramid pooling module, bins 1, 2, 3, 6), 3.3 (deep supervision, loss weight 0.4) and 4
(implementation details). Released prototxts: hszhao/PSPNet
`evaluation/prototxt/pspnet101_VOC2012_473.prototxt`, `pspnet101_cityscapes_713.prototxt`,
`pspnet50_ADE20K_473.prototxt`.
"""

import keras

from keras_fcn.backbones.preprocessing import PSPNET_MEAN_BGR
from keras_fcn.backbones.registry import get_backbone
from keras_fcn.backbones.resnet import PSPNET_50, PSPNET_101
from keras_fcn.layers import AdaptiveAveragePooling, CaffeInterp, ZoomToReference
from keras_fcn.layers.pooling import caffe_pooled_size
from keras_fcn.models.deeplab_v3 import conv_bn_relu
from keras_fcn.models.inputs import check_sizes, check_weights_file, image_input

OUTPUT_STRIDE = 8
"""conv5's stride, and `conv6_interp`'s zoom factor."""

LAYOUTS = {101: PSPNET_101, 50: PSPNET_50}
"""The backbone layout of each released depth."""

BINS = (1, 2, 3, 6)
"""The pyramid pooling module's bins, per side."""

CONCAT_ORDER = (6, 3, 2, 1)
"""The pooled branches in the order `conv5_3_concat` takes them, after conv5_3 itself."""

PYRAMID_FILTERS = 512
"""Channels of each pooled branch (`conv5_3_pool{bin}_conv`) and of `conv5_4`."""

AUX_FILTERS = 256
"""Channels of the auxiliary head's 3×3 convolution (`conv4_24`)."""

DROPOUT = 0.1
"""The dropout rate after `conv5_4` (`conv5_4/dropout`) and `conv4_24`."""

EPSILON = 1e-5
"""PSPNet's `BN` epsilon (`BNParameter`'s default; the prototxts set none)."""

MOMENTUM = 0.95
"""The prototxts' `bn_param { momentum: 0.95 }`: Keras' `momentum` of every batch
normalization."""

AUX_LOSS_WEIGHT = 0.4
"""The auxiliary loss's weight against the main loss's 1 (section 3.3)."""

INPUT_SIZES = (473, 713)
"""The input sides of the released deploy nets: 473 (VOC 2012, ADE20K) and 713 (Cityscapes)."""


def conv5_size(input_size: int) -> int:
    """The side of conv5 (and of the scores) for an input side: the stem's stride-2 3×3 (pad 1),
    `pool1_3x3_s2` (3×3, stride 2, pad 1, rounding up) and conv3's stride 2.

    Example:

    >>> conv5_size(473), conv5_size(713), conv5_size(41)
    (60, 90, 6)
    """
    stem = (input_size - 1) // 2 + 1
    pool1 = caffe_pooled_size(stem, 3, 2, 1)
    return (pool1 - 1) // 2 + 1


def _conv_bn_relu(x, filters: int, kernel_size: int, name: str, kernel_initializer):
    """A bias-free convolution `name`, its batch normalization `{name}_bn` (PSPNet's epsilon and
    momentum) and ReLU `{name}_relu`."""
    return conv_bn_relu(
        x,
        filters,
        kernel_size,
        name,
        momentum=MOMENTUM,
        epsilon=EPSILON,
        kernel_initializer=kernel_initializer,
        conv_suffix="",
    )


def pyramid_pooling(
    features,
    *,
    kernel_initializer: str | keras.initializers.Initializer = "he_normal",
):
    """PSPNet's pyramid pooling module on conv5: `[conv5_3, pool6, pool3, pool2, pool1]`.

    Each bin b averages the features over b × b cells: with a fixed kernel = stride of
    side / b (`AveragePooling2D`, the prototxt's `conv5_3_pool{b}`) where the side is known and
    a multiple of b, adaptively (`keras_fcn.layers.AdaptiveAveragePooling`, PyTorch's bins,
    from the size each call sees) otherwise; then a bias-free 1×1
    convolution to 512, batch normalization and ReLU, and Caffe's corner-aligned `Interp` back
    to the features' size (`keras_fcn.layers.CaffeInterp`; of one cell, a broadcast).

    Reference: Zhao et al., CVPR 2017, section 3.2 and figure 3.

    Args:
        features: conv5's output, 2048 channels.
        kernel_initializer: the convolutions' kernel initializer.

    Returns:
        The concatenation, 2048 + 4 · 512 = 4096 channels at the features' resolution.

    Example:

    >>> pyramid_pooling(keras.Input((60, 60, 2048))).shape
    (None, 60, 60, 4096)
    """
    height, width = features.shape[1:3]
    pooled = {}
    for bins in BINS:
        name = f"conv5_3_pool{bins}"
        if height and width and height % bins == 0 and width % bins == 0:
            kernel = (height // bins, width // bins)
            x = keras.layers.AveragePooling2D(kernel, strides=kernel, name=name)(features)
        else:
            x = AdaptiveAveragePooling(bins, name=name)(features)
        x = _conv_bn_relu(x, PYRAMID_FILTERS, 1, f"{name}_conv", kernel_initializer)
        pooled[bins] = CaffeInterp(name=f"{name}_interp")([x, features])
    return keras.layers.Concatenate(name="conv5_3_concat")(
        [features, *(pooled[bins] for bins in CONCAT_ORDER)]
    )


def PSPNet(
    num_classes: int = 21,
    *,
    depth: int = 101,
    input_size: int | None = 473,
    aux: bool = False,
    weights: str | None = None,
    mean: tuple[float, float, float] = PSPNET_MEAN_BGR,
    kernel_initializer: str | keras.initializers.Initializer | None = None,
    name: str | None = None,
) -> keras.Model:
    """Builds PSPNet-101 or PSPNet-50 as released: dilated ResNet, pyramid pooling, scores.

    The model takes RGB images with values in [0, 255] and subtracts PSPNet's mean inside
    (`PSPNET_MEAN_BGR`, after turning them into BGR, as PSPNet's `pre_img.m`); it returns
    float32 logits of the images' size. See the module docstring for the layout. Its 21-class
    PSPNet-101 holds 65,819,349 numbers (`count_params`; 65,708,501 without the moving
    statistics), the 19-class one 65,818,323, the 150-class PSPNet-50 46,841,174; the
    auxiliary head adds 2,365,717 to the 21-class PSPNet-101 (2,365,205 without statistics).

    Reference: Zhao et al., CVPR 2017 (VOC 2012 test 85.4 with COCO pre-training, Cityscapes
    val 80.91 and ADE20K val 42.78 multi-scale, hszhao/PSPNet `README.md`).

    Args:
        num_classes: number of classes scored (21 VOC, 19 Cityscapes, 150 ADE20K).
        depth: 101 (the VOC and Cityscapes nets) or 50 (the ADE20K net), which also picks
            where conv3 strides.
        input_size: the input's side: 473 or 713 builds the released deploy net (fixed
            input, fixed pooling kernels); another side fixes the input and pools adaptively
            where conv5's side is not a multiple of a bin; `None` takes images of any size.
        aux: whether to add the auxiliary head on conv4 for training; the outputs are then
            `{"out": logits, "aux": auxiliary logits}`.
        weights: `None` (random weights) or the path of a Keras weights file of this net; the
            released nets are the presets `voc-pspnet101`, `cityscapes-pspnet101`,
            `ade20k-pspnet50`.
        mean: the BGR mean the weights expect.
        kernel_initializer: the kernels' initializer: `None` for He initialisation, `"zeros"`
            to build fast a net whose weights are loaded next.
        name: the model's name; `None` gives `"pspnet101"` or `"pspnet50"`.

    Returns:
        A functional `keras.Model`.

    Example:

    >>> model = PSPNet(2, depth=50, input_size=41, kernel_initializer="zeros")
    >>> model.get_layer("conv5_3_pool3").pool_size, model.output.shape
    ((2, 2), (None, 41, 41, 2))
    >>> PSPNet(2, depth=50, input_size=None).get_layer("conv5_3_pool3").output_size
    (3, 3)
    """
    check_sizes((None, None, 3), num_classes=num_classes)
    if depth not in LAYOUTS:
        raise ValueError(f"PSPNet was released at depth {tuple(LAYOUTS)}; received {depth!r}.")
    if input_size is not None:
        check_sizes((input_size, input_size, 3), input_size=input_size)
    check_weights_file(weights, "the released .caffemodel files load through keras_fcn.from_preset")
    kernel_initializer = kernel_initializer or "he_normal"

    # data: RGB in [0, 255] → BGR minus the mean.
    images, x = image_input((input_size, input_size, 3), mean)

    # conv1_1 … conv1_3, pool1: 1/4; conv2: 1/4; conv3: 1/8; conv4 (dilated by 2), conv5 (by 4):
    # still 1/8.
    features = get_backbone(f"resnet{depth}")(
        x,
        output_stride=OUTPUT_STRIDE,
        layout=LAYOUTS[depth],
        kernel_initializer=kernel_initializer,
    )

    # conv5_3_pool{1,2,3,6} … conv5_3_concat: the pyramid pooling module, 1/8.
    x = pyramid_pooling(features["P5"], kernel_initializer=kernel_initializer)

    # conv5_4, dropout, conv6: the scores at 1/8.
    x = _conv_bn_relu(x, PYRAMID_FILTERS, 3, "conv5_4", kernel_initializer)
    x = keras.layers.Dropout(DROPOUT, name="conv5_4_dropout")(x)
    scores = keras.layers.Conv2D(
        num_classes, 1, kernel_initializer=kernel_initializer, name="conv6"
    )(x)

    # conv6_interp: zoom 8× with corners aligned, to the input's size: 1/1.
    outputs = ZoomToReference(OUTPUT_STRIDE, dtype="float32", name="conv6_interp")([scores, images])
    if aux:
        # conv4_24, dropout, conv6_1 on conv4: 1/8, then 1/1.
        x = _conv_bn_relu(features["P4"], AUX_FILTERS, 3, "conv4_24", kernel_initializer)
        x = keras.layers.Dropout(DROPOUT, name="conv4_24_dropout")(x)
        x = keras.layers.Conv2D(
            num_classes, 1, kernel_initializer=kernel_initializer, name="conv6_1"
        )(x)
        outputs = {
            "out": outputs,
            "aux": ZoomToReference(OUTPUT_STRIDE, dtype="float32", name="conv6_1_interp")(
                [x, images]
            ),
        }
    model = keras.Model(images, outputs, name=name or f"pspnet{depth}")
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = MOMENTUM  # the backbone's too: every BN of the prototxts
    if weights is not None:
        model.load_weights(weights)
    return model
