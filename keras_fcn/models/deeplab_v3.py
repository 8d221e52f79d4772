"""DeepLab v3 on ResNet-50/101 (the paper's net), and torchvision's FCN and DeepLabV3 nets.

DeepLab v3 runs a ResNet at output stride 16 or 8 (the last one or two stages dilated instead of
strided, conv5's three blocks further dilated by the multi-grid (1, 2, 4)) and puts atrous
spatial pyramid pooling (ASPP) on conv5: a 1×1 convolution, three 3×3 convolutions dilated by
6, 12, 18 (12, 24, 36 at output stride 8) and image-level features (global average pooling,
1×1 convolution, broadcast back), 256 filters each with batch normalization and ReLU,
concatenated and projected by a 1×1 convolution to 256; a 1×1 convolution scores the classes,
and the scores are upsampled bilinearly to the image. The output stride changes no weight:
the paper trains at 16 and evaluates at 8 (`DeepLabV3(output_stride=8)` takes the weights of
`output_stride=16`).

torchvision's `fcn_resnet{50,101}` and `deeplabv3_resnet{50,101}` put a head on its ResNet
"V1.5" at output stride 8 (`keras_fcn.backbones.resnet.TORCHVISION`): FCN's head is a 3×3
convolution to 512 with BN, ReLU and dropout 0.1, then a 1×1 to the classes; DeepLabV3's is the
same ASPP at rates 12, 24, 36 with dropout 0.5 after the projection, then a 3×3 convolution
(256) with BN and ReLU that the paper does not have, and a 1×1 to the classes. An auxiliary FCN
head on conv4 (`aux=True`) scores the classes a second time for the training loss. Every
output is resized to the image by `F.interpolate(bilinear, align_corners=False)`
(`keras_fcn.layers.ResizeToReference`).

One `aspp` builds both ASPPs; an `ASPPLayout` holds where they differ (`PAPER_ASPP`,
`TORCHVISION_ASPP`). Head layers are named for their place rather than after a release:
`aspp_{0,1,2,3}_{conv,bn}` (the 1×1, then the 3×3s in rate order), `aspp_pooling_{conv,bn}`,
`aspp_projection_{conv,bn}`, `head_{conv,bn}` (torchvision's extra 3×3, or FCN's 3×3),
`logits`, and `aux_head_{conv,bn}`, `aux_logits`; the backbone keeps keras.applications' names
(`conv1_conv`, `conv4_block6_2_conv`, …). torchvision's state-dict keys map onto them one for
one (`classifier.0.convs.1.0` is `aspp_1_conv`, `classifier.4` is `logits`, …).

The paper's net follows the released code (tensorflow/models `research/deeplab`, the code of
the published numbers) where the paper is silent:
- the image-level features come first in the concatenation (`core/model.py`,
  `_extract_features`: `[image_pooling, aspp0, aspp1, aspp2, aspp3]`), which orders the rows of
  the projection's kernel; torchvision puts them last;
- dropout 0.1 follows the projection (`keep_prob=0.9`); the head's batch normalizations have
  epsilon 1e-5 and decay 0.9997 (Keras' `momentum`), its convolutions Glorot-uniform kernels
  (slim's default) and the logits a truncated normal of standard deviation 0.01;
- the logits are upsampled with corners aligned (`resize_bilinear(align_corners=True)`), which
  `keras_fcn.layers.ZoomToReference` computes exactly at the sizes DeepLab runs at (crops of
  `k · output_stride + 1`, such as 513) and extends to any size.
The backbone is keras.applications' ResNet (ImageNet weights, Caffe's BGR mean subtracted inside
the model), not TF-slim's `resnet_v1_beta`: no ResNet DeepLab v3 checkpoint was released
(`g3doc/model_zoo.md`), and slim's ResNet strides in the last block of a stage where
keras.applications' strides in the first; at output stride 16 with multi-grid both dilate conv5
by 2, 4, 8. The backbone's batch normalizations keep Keras' momentum 0.99.

torchvision's nets are built as `torchvision.models.segmentation` builds them, so that its
released weights (COCO with the 20 VOC classes) run unchanged: the input, RGB in [0, 255], is
divided by 255 and normalized by ImageNet's mean and standard deviation inside the model
(`keras_fcn.backbones.preprocessing.torchvision_preprocessing`), every batch normalization has
epsilon 1e-5, those of the heads momentum 0.9 (torch's 0.1; the backbone's keep Keras' 0.99, which
matters only to training).

Reference: Chen, Papandreou, Schroff & Adam, "Rethinking Atrous Convolution for Semantic Image
Segmentation", arXiv:1706.05587: section 3.2 (multi-grid), 3.3 (ASPP with image-level
features, rates 6, 12, 18 at output stride 16, doubled at 8), 4.1 (training protocol).
tensorflow/models `research/deeplab/core/model.py`, `model.py`; pytorch/vision
`torchvision/models/segmentation/deeplabv3.py` (`DeepLabHead`, `ASPP`, `ASPPPooling`), `fcn.py`
(`FCNHead`), `_utils.py` (`_SimpleSegmentationModel`), `transforms/_presets.py`
(`SemanticSegmentation`).
"""

import dataclasses

import keras

from keras_fcn.backbones.preprocessing import torchvision_preprocessing
from keras_fcn.backbones.registry import get_backbone
from keras_fcn.backbones.resnet import TORCHVISION
from keras_fcn.layers import ResizeToReference, ZoomToReference
from keras_fcn.models.inputs import check_sizes, check_weights_file

ASPP_FILTERS = 256
"""Filters of every ASPP branch, of the projection and of torchvision's extra 3×3."""

EPSILON = 1e-5
"""The heads' batch normalization epsilon (TF DeepLab's and torch's)."""

PAPER_BACKBONES = ("resnet50", "resnet101")
"""The backbones of `DeepLabV3` (the paper's ResNet-50 and -101)."""

OUTPUT_STRIDES = (16, 8)
"""The output strides of `DeepLabV3`: it trains at 16 and evaluates at 8."""

RATES_AT_16 = (6, 12, 18)
"""The 3×3 branches' rates at output stride 16, doubled at 8 (12, 24, 36: torchvision's)."""

TORCHVISION_DEPTHS = (50, 101)
"""The ResNet depths of torchvision's `fcn_resnet*` and `deeplabv3_resnet*`."""

TORCHVISION_OUTPUT_STRIDE = 8
"""torchvision's `replace_stride_with_dilation=[False, True, True]`."""


@dataclasses.dataclass(frozen=True)
class ASPPLayout:
    """Where the releases of DeepLab v3's ASPP differ.

    Args:
        image_pooling_first: whether the image-level features come before the other branches
            in the concatenation (TF DeepLab) or after them (torchvision).
        dropout: the dropout rate after the projection.
        momentum: the batch normalizations' momentum (Keras' `momentum`, TF's decay, 1 minus
            torch's momentum).
    """

    image_pooling_first: bool
    dropout: float
    momentum: float


PAPER_ASPP = ASPPLayout(image_pooling_first=True, dropout=0.1, momentum=0.9997)
"""TF DeepLab's (`core/model.py`): image pooling first, dropout 0.1, decay 0.9997."""

TORCHVISION_ASPP = ASPPLayout(image_pooling_first=False, dropout=0.5, momentum=0.9)
"""torchvision's (`deeplabv3.py`, `ASPP`): image pooling last, dropout 0.5, momentum 0.1."""

TORCHVISION_MOMENTUM = TORCHVISION_ASPP.momentum
"""Keras' momentum of torch's `BatchNorm2d` (momentum 0.1), in every torchvision head."""


def conv_bn_relu(
    x,
    filters: int,
    kernel_size: int,
    name: str,
    *,
    momentum: float,
    kernel_initializer,
    rate: int = 1,
    epsilon: float = EPSILON,
    conv_suffix: str = "_conv",
):
    """A bias-free convolution `{name}{conv_suffix}` (dilated by `rate`, padded to keep the
    size), batch normalization `{name}_bn` and ReLU `{name}_relu`.

    PSPNet's blocks (`keras_fcn.models.pspnet`) name the convolution `name` itself
    (`conv_suffix=""`), as its prototxts do.
    """
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        dilation_rate=rate,
        use_bias=False,
        kernel_initializer=kernel_initializer,
        name=name + conv_suffix,
    )(x)
    x = keras.layers.BatchNormalization(epsilon=epsilon, momentum=momentum, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def aspp(
    features,
    rates: tuple[int, ...],
    layout: ASPPLayout,
    *,
    kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
):
    """Atrous spatial pyramid pooling with image-level features (DeepLab v3).

    A 1×1 convolution (`aspp_0`), a 3×3 convolution per rate (`aspp_1`, …), and the image's
    average (`aspp_pooling`: global average pooling, 1×1 convolution, broadcast back by a
    bilinear resize of the 1×1 map), each 256 filters, bias-free, with batch normalization and
    ReLU; concatenated in `layout`'s order, projected by a 1×1 convolution to 256 with batch
    normalization and ReLU (`aspp_projection`), and dropped out.

    Reference: Chen et al., arXiv:1706.05587, section 3.3 and figure 5.

    Args:
        features: the backbone's last stage.
        rates: the dilation rates of the 3×3 branches.
        layout: the release's choices (`PAPER_ASPP`, `TORCHVISION_ASPP`).
        kernel_initializer: the convolutions' kernel initializer.

    Returns:
        The projected features, 256 channels at the features' resolution.

    Example:

    >>> features = keras.Input((None, None, 64))
    >>> aspp(features, (6, 12, 18), PAPER_ASPP).shape
    (None, None, None, 256)
    """
    options = {"momentum": layout.momentum, "kernel_initializer": kernel_initializer}
    branches = [conv_bn_relu(features, ASPP_FILTERS, 1, "aspp_0", **options)]
    for index, rate in enumerate(rates, start=1):
        branches.append(
            conv_bn_relu(features, ASPP_FILTERS, 3, f"aspp_{index}", rate=rate, **options)
        )
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pooling_average")(
        features
    )
    pooled = conv_bn_relu(pooled, ASPP_FILTERS, 1, "aspp_pooling", **options)
    pooled = ResizeToReference(name="aspp_pooling_resize")([pooled, features])
    branches = [pooled, *branches] if layout.image_pooling_first else [*branches, pooled]
    x = keras.layers.Concatenate(name="aspp_concat")(branches)
    x = conv_bn_relu(x, ASPP_FILTERS, 1, "aspp_projection", **options)
    return keras.layers.Dropout(layout.dropout, name="aspp_dropout")(x)


def fcn_head(
    features,
    num_classes: int,
    *,
    prefix: str = "",
    kernel_initializer: str | keras.initializers.Initializer = "he_normal",
):
    """torchvision's `FCNHead`: a bias-free 3×3 convolution to a quarter of the channels
    (`{prefix}head_conv`), batch normalization (`{prefix}head_bn`), ReLU, dropout 0.1 and a 1×1
    convolution to the classes with bias (`{prefix}logits`).

    Reference: pytorch/vision `torchvision/models/segmentation/fcn.py` (`FCNHead`).

    Example:

    >>> fcn_head(keras.Input((None, None, 1024)), 21, prefix="aux_").shape
    (None, None, None, 21)
    """
    x = conv_bn_relu(
        features,
        features.shape[-1] // 4,
        3,
        f"{prefix}head",
        momentum=TORCHVISION_MOMENTUM,
        kernel_initializer=kernel_initializer,
    )
    x = keras.layers.Dropout(0.1, name=f"{prefix}head_dropout")(x)
    return keras.layers.Conv2D(
        num_classes, 1, kernel_initializer=kernel_initializer, name=f"{prefix}logits"
    )(x)


def encoder(
    backbone: str,
    output_stride: int,
    multi_grid: tuple[int, int, int],
    weights: str | None,
    input_shape: tuple,
    kernel_initializer: str | keras.initializers.Initializer | None,
) -> tuple[keras.KerasTensor, dict[str, keras.KerasTensor], keras.KerasTensor]:
    """DeepLab v3's encoder: the image input, the dilated ResNet and the ASPP on its conv5.

    What `DeepLabV3` and DeepLab v3+ (`keras_fcn.models.deeplab_v3_plus`) share: the input takes
    RGB in [0, 255] and subtracts keras.applications' mean inside the model; the ResNet runs at
    `output_stride` with conv5's rates times `multi_grid`; the ASPP (`PAPER_ASPP`) has the rates
    6, 12, 18 at output stride 16 and twice them at 8. See `DeepLabV3` for the arguments.

    Returns:
        `(images, features, aspp_output)`: the `keras.Input`, the backbone's levels `"P1"` …
        `"P5"`, and the ASPP's 256 channels at 1/output_stride.

    Example:

    >>> images, features, x = encoder("resnet50", 8, (1, 2, 4),
    ...     weights=None, input_shape=(None, None, 3), kernel_initializer="zeros")
    >>> features["P2"].shape[-1], x.shape[-1]
    (256, 256)
    """
    if backbone not in PAPER_BACKBONES:
        raise ValueError(
            f"DeepLab v3's backbone must be one of {PAPER_BACKBONES}; received {backbone!r}."
        )
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(
            f"DeepLab v3's output_stride must be one of {OUTPUT_STRIDES} (conv5 or conv4 and "
            f"conv5 dilated); received {output_stride!r}."
        )
    resnet = get_backbone(backbone)

    # data: RGB in [0, 255] → BGR minus keras.applications' ImageNet mean.
    images = keras.Input(shape=input_shape, name="image")
    x = resnet.preprocessing()(images)

    # conv1 … conv3: 1/8; conv4: 1/16 (1/8 at output stride 8, dilated by 2); conv5:
    # 1/output_stride, dilated by 2 or 4 times the multi-grid.
    features = resnet(
        x,
        weights=weights,
        output_stride=output_stride,
        multi_grid=multi_grid,
        kernel_initializer=kernel_initializer or "he_normal",
    )

    # ASPP on conv5: 1/output_stride.
    rates = tuple(rate * 16 // output_stride for rate in RATES_AT_16)
    x = aspp(
        features["P5"], rates, PAPER_ASPP, kernel_initializer=kernel_initializer or "glorot_uniform"
    )
    return images, features, x


def DeepLabV3(
    num_classes: int = 21,
    *,
    backbone: str = "resnet50",
    output_stride: int = 16,
    multi_grid: tuple[int, int, int] = (1, 2, 4),
    weights: str | None = "imagenet",
    input_shape: tuple = (None, None, 3),
    kernel_initializer: str | keras.initializers.Initializer | None = None,
    name: str = "deeplabv3",
) -> keras.Model:
    """Builds DeepLab v3: ASPP with image-level features on a ResNet at output stride 16 or 8.

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32;
    keras.applications' ResNet preprocessing (BGR minus the ImageNet mean) is inside the model.
    See the module docstring for the net and where it follows the released code.

    Parameters for 21 classes: 39,075,093 trainable and 39,131,285 in all (`count_params`,
    with the batch normalizations' moving statistics) on ResNet-50; 58,093,333 and 58,201,749
    on ResNet-101. The head: ASPP 524,288 (1×1) + 3 · 4,718,592 (3×3) + 524,288 (pooling) +
    327,680 (projection, 1,280 → 256) conv weights, 6 · 256 batch normalization channels, and
    256 · 21 + 21 = 5,397 for the logits: 15,540,501 trainable; the backbone keras.applications'
    ResNet without its classifier (23,534,592 trainable on ResNet-50, 42,552,832 on ResNet-101,
    conv biases included).

    Reference: Chen et al., arXiv:1706.05587, sections 3.2 (multi-grid), 3.3 (ASPP) and 4.1
    (trained at output stride 16, evaluated at 8).

    Args:
        num_classes: number of classes scored, background included (21 for PASCAL VOC).
        backbone: `"resnet50"` or `"resnet101"` (`keras_fcn.backbones.BACKBONES`).
        output_stride: 16 (conv5 dilated) or 8 (conv4 and conv5); the ASPP rates are 6, 12, 18
            at 16 and twice that at 8. It changes no weight.
        multi_grid: the factors of the rates of conv5's three blocks.
        weights: `"imagenet"` (keras.applications' ResNet, downloaded on first use), `None`
            (random weights), or the path of a keras.applications ResNet weights file without
            the classifier. No DeepLab v3 ResNet was released trained for segmentation.
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        kernel_initializer: the kernels of every convolution not taken from `weights`; `None`
            for the release's: He-normal in the backbone, Glorot-uniform in the ASPP, a
            truncated normal of standard deviation 0.01 for the logits. `"zeros"` builds fast
            a net whose weights are loaded next.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = DeepLabV3(num_classes=2, weights=None, output_stride=8)
    >>> model(np.zeros((1, 35, 45, 3))).shape
    TensorShape([1, 35, 45, 2])
    >>> model.get_layer("aspp_3_conv").dilation_rate
    (36, 36)
    """
    check_sizes(input_shape, num_classes=num_classes)
    images, _, x = encoder(
        backbone, output_stride, multi_grid, weights, input_shape, kernel_initializer
    )

    # logits: 1/output_stride.
    logits = keras.layers.Conv2D(
        num_classes,
        1,
        kernel_initializer=kernel_initializer or keras.initializers.TruncatedNormal(stddev=0.01),
        name="logits",
    )(x)

    # upsampling, corners aligned: 1/1.
    logits = ZoomToReference(output_stride, dtype="float32", name="upsampling")([logits, images])
    return keras.Model(images, logits, name=name)


def _torchvision_net(
    head: str,
    num_classes: int,
    depth: int,
    aux: bool,
    weights: str | None,
    input_shape: tuple,
    kernel_initializer: str | keras.initializers.Initializer,
    name: str,
) -> keras.Model:
    """torchvision's ResNet at output stride 8 with the `"fcn"` or `"deeplabv3"` head."""
    check_sizes(input_shape, num_classes=num_classes)
    if depth not in TORCHVISION_DEPTHS:
        raise ValueError(
            f"torchvision's segmentation ResNets have depth {TORCHVISION_DEPTHS}; received "
            f"depth={depth!r}."
        )
    check_weights_file(
        weights,
        "torchvision's .pth files load through keras_fcn.from_preset, and keras.applications' "
        "ImageNet ResNet has another layout",
    )

    # data: RGB in [0, 255] → /255 → minus ImageNet's mean, over its standard deviation.
    images = keras.Input(shape=input_shape, name="image")
    x = torchvision_preprocessing()(images)

    # conv1 … conv3 (layer1, layer2): 1/8; conv4 (layer3, dilated by 2): 1/8; conv5 (layer4,
    # dilated by 4): 1/8.
    features = get_backbone(f"resnet{depth}")(
        x,
        output_stride=TORCHVISION_OUTPUT_STRIDE,
        layout=TORCHVISION,
        kernel_initializer=kernel_initializer,
    )

    # classifier on conv5: 1/8.
    if head == "fcn":
        logits = fcn_head(features["P5"], num_classes, kernel_initializer=kernel_initializer)
    else:
        x = aspp(
            features["P5"],
            tuple(2 * rate for rate in RATES_AT_16),
            TORCHVISION_ASPP,
            kernel_initializer=kernel_initializer,
        )
        x = conv_bn_relu(
            x,
            ASPP_FILTERS,
            3,
            "head",
            momentum=TORCHVISION_MOMENTUM,
            kernel_initializer=kernel_initializer,
        )
        logits = keras.layers.Conv2D(
            num_classes, 1, kernel_initializer=kernel_initializer, name="logits"
        )(x)

    # F.interpolate(bilinear, align_corners=False): 1/1.
    outputs = ResizeToReference(dtype="float32", name="upsampling")([logits, images])
    if aux:
        # aux_classifier on conv4: 1/8, then 1/1.
        aux_logits = fcn_head(
            features["P4"], num_classes, prefix="aux_", kernel_initializer=kernel_initializer
        )
        outputs = {
            "out": outputs,
            "aux": ResizeToReference(dtype="float32", name="aux_upsampling")([aux_logits, images]),
        }
    model = keras.Model(images, outputs, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def TorchvisionFCN(
    num_classes: int = 21,
    *,
    depth: int = 50,
    aux: bool = False,
    weights: str | None = None,
    input_shape: tuple = (None, None, 3),
    kernel_initializer: str | keras.initializers.Initializer = "he_normal",
    name: str = "torchvision-fcn",
) -> keras.Model:
    """Builds torchvision's `fcn_resnet50` / `fcn_resnet101`: FCNHead on its ResNet at 1/8.

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32; with
    `aux`, a dict of the logits (`"out"`) and the auxiliary head's (`"aux"`), as torchvision's
    `forward` returns. The division by 255 and ImageNet's normalization are inside the model.

    Parameters for 21 classes, trainable (torchvision's `num_params`): 32,957,013 on ResNet-50
    and 51,949,141 on ResNet-101; 35,322,218 and 54,314,346 with `aux` (the released files hold
    the auxiliary head). `count_params` adds the batch normalizations' moving statistics.

    Reference: pytorch/vision `torchvision/models/segmentation/fcn.py`; its model card (COCO
    val2017 with the 20 VOC classes, mean IU 60.5 / 63.7, pixel accuracy 91.4 / 91.9).

    Args:
        num_classes: number of classes scored, background included (21).
        depth: 50 or 101.
        aux: whether to add the auxiliary FCN head on conv4 (`layer3`).
        weights: `None` (random weights) or the path of a Keras weights file of this net
            (`model.save_weights`). torchvision's released `.pth` files hold the same
            parameters under torchvision's names, which map one for one onto the layers
            (module docstring).
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        kernel_initializer: the convolutions' kernel initializer.
        name: the model's name.

    Returns:
        A functional `keras.Model`.

    Example:

    >>> model = TorchvisionFCN(num_classes=2, aux=True)
    >>> {key: tuple(value.shape) for key, value in model(np.zeros((1, 35, 45, 3))).items()}
    {'out': (1, 35, 45, 2), 'aux': (1, 35, 45, 2)}
    """
    return _torchvision_net(
        "fcn", num_classes, depth, aux, weights, input_shape, kernel_initializer, name
    )


def TorchvisionDeepLabV3(
    num_classes: int = 21,
    *,
    depth: int = 50,
    aux: bool = False,
    weights: str | None = None,
    input_shape: tuple = (None, None, 3),
    kernel_initializer: str | keras.initializers.Initializer = "he_normal",
    name: str = "torchvision-deeplabv3",
) -> keras.Model:
    """Builds torchvision's `deeplabv3_resnet50` / `deeplabv3_resnet101`: DeepLabHead on its
    ResNet at 1/8.

    DeepLabHead is the ASPP at rates 12, 24, 36 (image pooling last, dropout 0.5), a bias-free
    3×3 convolution to 256 with batch normalization and ReLU (`head_conv`, `head_bn`), and a
    1×1 convolution to the classes (`logits`). See `TorchvisionFCN` for the input, the outputs
    and the arguments.

    Parameters for 21 classes, trainable (torchvision's `num_params`): 39,638,869 on ResNet-50
    and 58,630,997 on ResNet-101; 42,004,074 and 60,996,202 with `aux`.

    Reference: pytorch/vision `torchvision/models/segmentation/deeplabv3.py`; its model card
    (COCO val2017 with the 20 VOC classes, mean IU 66.4 / 67.4, pixel accuracy 92.4).

    Example:

    >>> model = TorchvisionDeepLabV3(num_classes=2)
    >>> model(np.zeros((1, 35, 45, 3), "uint8")).shape
    TensorShape([1, 35, 45, 2])
    """
    return _torchvision_net(
        "deeplabv3", num_classes, depth, aux, weights, input_shape, kernel_initializer, name
    )
