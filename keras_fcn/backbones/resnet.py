"""The bottleneck ResNet (v1) backbone of DeepLab v2/v3, PSPNet and RefineNet, at output stride 8,
16 or 32.

`resnet` builds ResNet-50/101/152 with keras.applications' layer names and weight shapes
(`conv1_conv`, `conv2_block1_1_conv`, …, `conv5_block3_out`), so that keras.applications'
ImageNet weights load into it by name. The releases built on it differ in a few choices, which
a `ResNetLayout` gathers: whether a stage's first block strides in its 1×1 or its 3×3
convolution, the stem, conv biases, the batch normalization epsilon, padding and pool1's
rounding, and which dilation rate the first block of a dilated stage gets. The module holds
one layout per release (`KERAS_APPLICATIONS`, `CAFFE_DEEPLAB_V2`, `TORCHVISION`, `PSPNET_50`,
`PSPNET_101`, `REFINENET`).

Output stride 16 or 8 runs the last one or two stages at the resolution of the one before:
their strides become 1 and every later 3×3 convolution is dilated by 2 per removed stride
("atrous" convolution), which keeps the field of view and the weights (Keras refuses a
convolution that both strides and dilates, so the graph is built this way from the start).

The stage outputs are returned by pyramid level, keras-hub's `pyramid_outputs` convention:
`"P1"` is the stem (stride 2), `"P2"` … `"P5"` are the outputs of the stages conv2 … conv5.
A level names a stage, not its stride: at output stride 8, `"P3"`, `"P4"` and `"P5"` are all
at 1/8 of the input; at 16, `"P4"` and `"P5"` are at 1/16. A head thus taps the same key at any
output stride (DeepLab's ASPP `"P5"`, its decoder `"P2"`), and a key's channels never change.

Reference: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(bottleneck blocks, table 1); Chen, Papandreou, Kokkinos, Murphy & Yuille, "DeepLab: Semantic
Image Segmentation with Deep Convolutional Nets, Atrous Convolution, and Fully Connected CRFs",
PAMI 2017 (atrous convolution, section 3.1; ResNet-101 at output stride 8); Chen, Papandreou,
Schroff & Adam, "Rethinking Atrous Convolution for Semantic Image Segmentation",
arXiv:1706.05587 (multi-grid, section 3.2); Zhao et al., "Pyramid Scene Parsing Network",
CVPR 2017; Lin et al., "RefineNet", CVPR 2017. Sources: keras-team/keras
`keras/src/applications/resnet.py`; pytorch/vision `torchvision/models/resnet.py`
(`Bottleneck`, `_make_layer`); DrSleep/tensorflow-deeplab-resnet `misc/deploy.prototxt`
(DeepLab v2); hszhao/PSPNet `evaluation/prototxt/pspnet{50,101}_*.prototxt`;
guosheng/refinenet `main/My_net_util.m`.
"""

import dataclasses
import os

import keras

from keras_fcn.downloads import explain_download_failure
from keras_fcn.layers import CaffeMaxPooling2D

RESNET_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
"""Bottleneck blocks of the stages conv2 … conv5 by depth (He et al., table 1)."""

STAGE_FILTERS = (64, 128, 256, 512)
"""Width of the bottleneck of conv2 … conv5; each block outputs four times as many channels."""

OUTPUT_STRIDES = (8, 16, 32)
"""The output strides `resnet` builds: conv5 at 1/8, 1/16 or 1/32 of the input."""

_CHOICES = {
    "stride_in": ("1x1", "3x3"),
    "dilation_rule": ("previous", "new"),
    "stem": ("7x7", "deep"),
}


@dataclasses.dataclass(frozen=True)
class ResNetLayout:
    """The choices in which the releases of the same bottleneck ResNet differ.

    None of them changes a weight's shape but `stem` and `use_bias`, so one set of weights
    runs in several layouts; each layout reproduces its release's outputs from its weights.

    Args:
        stride_in: the convolution of a stage's first block that strides: `"1x1"` (the first
            1×1, `_1_conv`: MSRA's Caffe ResNet and so keras.applications' v1, DeepLab v2's
            `res3a_branch2a`, PSPNet-50's `conv3_1_1x1_reduce`, RefineNet's MatConvNet import)
            or `"3x3"` (`_2_conv`: torchvision's "ResNet V1.5" `Bottleneck.conv2`, PSPNet-101's
            `conv3_1_3x3`). The projection shortcut `_0_conv` strides in both.
        dilation_rule: the rate of the first block of a dilated stage: `"previous"` keeps the
            rate of the stage before (torchvision's `_make_layer` passes `previous_dilation`:
            at output stride 8, conv4 rates 1, 2, 2, … and conv5 2, 4, 4), `"new"` gives it
            the stage's new rate (every `res4*_branch2b` of DeepLab v2 dilated by 2, every
            `res5*_branch2b` by 4; the same in PSPNet's `conv4_*_3x3`, `conv5_*_3x3`).
        stem: `"7x7"` (conv1, a 7×7 convolution of 64, stride 2) or `"deep"` (PSPNet's and
            ResNet-beta's three 3×3 convolutions of 64, 64 and 128 filters, the first of stride
            2, named `conv1_1_3x3`, `conv1_2_3x3`, `conv1_3_3x3` after PSPNet's
            `conv1_1_3x3_s2` …; conv2's first block then reads 128 channels, not 64).
        use_bias: whether the convolutions have biases: keras.applications' do; Caffe's
            DeepLab v2 and PSPNet, and torchvision's do not. A bias before batch normalization
            is redundant: a bias-free layout holds MSRA's and RefineNet's biased conv1 with
            the bias subtracted from `conv1_bn`'s moving mean.
        epsilon: the batch normalizations' epsilon: 1.001e-5 in keras.applications, Caffe's
            and torchvision's default 1e-5 elsewhere.
        symmetric_padding: how a strided 3×3 convolution pads (the 3×3 of a `"3x3"` stage or
            of the deep stem): `True` pads 1 on every side and runs unpadded, as Caffe and
            torch do; `False` pads with Keras' `"same"`, which at even sizes pads only the
            bottom and right. conv1 (3 on every side, `conv1_pad`) and pool1 (1, `pool1_pad`)
            are padded explicitly either way, as keras.applications does; strided 1×1
            convolutions need no padding.
        ceil_mode: whether pool1 (3×3, stride 2, padding 1) rounds its output size up as Caffe
            does (DeepLab v2, PSPNet) instead of down (keras.applications, torchvision, and
            MatConvNet's floor in RefineNet). They differ when pool1's input has an even side,
            that is for input sides of 4k and 4k − 1 (Caffe gives one more row or column),
            and agree at DeepLab's and PSPNet's crops (321, 513, 473, 713).

    Example:

    >>> import dataclasses
    >>> dataclasses.replace(CAFFE_DEEPLAB_V2, ceil_mode=False) == REFINENET
    True
    """

    stride_in: str
    dilation_rule: str
    stem: str
    use_bias: bool
    epsilon: float
    symmetric_padding: bool
    ceil_mode: bool

    def __post_init__(self):
        for field, allowed in _CHOICES.items():
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(
                    f"ResNetLayout's {field} must be one of {allowed}; received {value!r}."
                )


KERAS_APPLICATIONS = ResNetLayout(
    stride_in="1x1",
    dilation_rule="new",
    stem="7x7",
    use_bias=True,
    epsilon=1.001e-5,
    symmetric_padding=False,
    ceil_mode=False,
)
"""keras.applications' ResNet50/101/152 (keras/src/applications/resnet.py): stride in the 1×1,
conv biases, epsilon 1.001e-5, pool1 rounding down. keras.applications never dilates; its
weights are MSRA's Caffe ResNet, whose dilated form is DeepLab v2's, so stages dilate by its
`"new"` rule."""

CAFFE_DEEPLAB_V2 = dataclasses.replace(
    KERAS_APPLICATIONS, use_bias=False, epsilon=1e-5, symmetric_padding=True, ceil_mode=True
)
"""DeepLab v2's ResNet-101 (DrSleep/tensorflow-deeplab-resnet `misc/deploy.prototxt`): stride in
`res3a_branch2a` (1×1), every `res4*_branch2b` dilated by 2 and `res5*_branch2b` by 4,
bias-free convolutions (conv1 included), Caffe's `BatchNorm` (epsilon 1e-5), pool1 rounding
up."""

TORCHVISION = dataclasses.replace(
    CAFFE_DEEPLAB_V2, stride_in="3x3", dilation_rule="previous", ceil_mode=False
)
"""torchvision's ResNet V1.5 (torchvision/models/resnet.py), the backbone of its FCN and
DeepLabV3 (`replace_stride_with_dilation=[False, True, True]`): stride in `conv2` (3×3),
`_make_layer`'s `previous_dilation`, bias-free convolutions, `BatchNorm2d` (1e-5),
`MaxPool2d(3, 2, 1)` rounding down."""

PSPNET_101 = dataclasses.replace(CAFFE_DEEPLAB_V2, stride_in="3x3", stem="deep")
"""PSPNet-101 (hszhao/PSPNet `pspnet101_VOC2012_473.prototxt`, `pspnet101_cityscapes_713`): deep
stem, stride in `conv3_1_3x3`, every `conv4_*_3x3` dilated by 2 and `conv5_*_3x3` by 4,
bias-free convolutions, PSPNet's `BN` (epsilon 1e-5), `pool1_3x3_s2` rounding up."""

PSPNET_50 = dataclasses.replace(PSPNET_101, stride_in="1x1")
"""PSPNet-50 (hszhao/PSPNet `pspnet50_ADE20K_473.prototxt`): as PSPNet-101 but with the stride
in `conv3_1_1x1_reduce` (1×1)."""

REFINENET = dataclasses.replace(CAFFE_DEEPLAB_V2, ceil_mode=False)
"""RefineNet's backbone (guosheng/refinenet): MSRA's Caffe ResNet imported into MatConvNet
(stride in the 1×1, bias-free but for conv1, whose bias goes into `conv1_bn`'s moving mean),
padded symmetrically by `fix_padding_resnet` (main/My_net_util.m), with MatConvNet's pooling
rounding down. RefineNet runs at output stride 32, where the dilation rule plays no part; its
`_moments` hold sqrt(variance + epsilon), so the moving variance is their square less 1e-5."""


def _stage_plan(
    blocks: tuple[int, ...], output_stride: int, dilation_rule: str, multi_grid: tuple[int, ...]
) -> list[tuple[int, tuple[int, ...]]]:
    """The stride of each stage conv2 … conv5 and the dilation rate of each block's 3×3."""
    plan, stride, rate = [(1, (1,) * blocks[0])], 4, 1
    for stage_blocks in blocks[1:]:
        if stride < output_stride:
            stride *= 2
            plan.append((2, (rate,) * stage_blocks))
        else:
            first = rate if dilation_rule == "previous" else 2 * rate
            rate *= 2
            plan.append((1, (first,) + (rate,) * (stage_blocks - 1)))
    last_stride, last_rates = plan[-1]
    plan[-1] = (last_stride, tuple(r * g for r, g in zip(last_rates, multi_grid, strict=True)))
    return plan


@dataclasses.dataclass
class _Graph:
    """Creates the layers of one ResNet in `layout` and keeps the weighted ones by name."""

    layout: ResNetLayout
    kernel_initializer: str | keras.initializers.Initializer
    layers: dict[str, keras.layers.Layer] = dataclasses.field(default_factory=dict)

    def conv_bn(self, x, filters, kernel_size, name, *, strides=1, dilation=1, pad=None, conv=""):
        """Convolution `{name}_conv` (or `conv`) and batch normalization `{name}_bn`.

        `pad` zeros on every side (`{name}_pad`) precede an unpadded convolution; without it
        the convolution pads `"same"`.
        """
        if pad is not None:
            x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        convolution = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same" if pad is None else "valid",
            dilation_rate=dilation,
            use_bias=self.layout.use_bias,
            kernel_initializer=self.kernel_initializer,
            name=conv or f"{name}_conv",
        )
        normalization = keras.layers.BatchNormalization(
            epsilon=self.layout.epsilon, name=f"{name}_bn"
        )
        self.layers[convolution.name] = convolution
        self.layers[normalization.name] = normalization
        return normalization(convolution(x))

    def strided_pad(self, kernel_size: int, strides: int) -> int | None:
        """The explicit padding of a strided k×k convolution, `None` for `"same"`."""
        if strides > 1 and kernel_size > 1 and self.layout.symmetric_padding:
            return kernel_size // 2
        return None

    def stem(self, images):
        """conv1 (7×7) or the deep stem's three 3×3 convolutions, each with BN and ReLU."""
        if self.layout.stem == "7x7":
            x = self.conv_bn(images, 64, 7, "conv1", strides=2, pad=3)
            return keras.layers.Activation("relu", name="conv1_relu")(x)
        x = images
        for index, (filters, strides) in enumerate(((64, 2), (64, 1), (128, 1)), start=1):
            name = f"conv1_{index}_3x3"
            x = self.conv_bn(
                x, filters, 3, name, strides=strides, pad=self.strided_pad(3, strides), conv=name
            )
            x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
        return x

    def pool1(self, x):
        """pool1: 3×3 max pooling of stride 2, padding 1, rounding as the layout says."""
        if self.layout.ceil_mode:
            return CaffeMaxPooling2D(3, 2, padding=1, name="pool1_pool")(x)
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    def bottleneck(self, x, filters, name, *, strides, rate, projection):
        """One bottleneck block: 1×1, 3×3 (dilated by `rate`), 1×1 of 4 × `filters`, plus
        the shortcut, a strided 1×1 projection `_0` in each stage's first block."""
        strides_1x1, strides_3x3 = (strides, 1) if self.layout.stride_in == "1x1" else (1, strides)
        shortcut = x
        if projection:
            shortcut = self.conv_bn(x, 4 * filters, 1, f"{name}_0", strides=strides)
        x = self.conv_bn(x, filters, 1, f"{name}_1", strides=strides_1x1)
        x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
        x = self.conv_bn(
            x,
            filters,
            3,
            f"{name}_2",
            strides=strides_3x3,
            dilation=rate,
            pad=self.strided_pad(3, strides_3x3),
        )
        x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
        x = self.conv_bn(x, 4 * filters, 1, f"{name}_3")
        x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
        return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _keras_applications_resnet(depth: int, weights: str | None, layout: ResNetLayout):
    """keras.applications' ResNet{depth} without its classifier holding `weights`, or `None`."""
    if weights is None:
        return None
    if weights != "imagenet" and not os.path.exists(weights):
        raise ValueError(
            f"weights must be 'imagenet', None or the path of a keras.applications "
            f"ResNet{depth} weights file (include_top=False); no file exists at {weights!r}."
        )
    if layout.stem != "7x7" or layout.stride_in != "1x1":
        raise ValueError(
            f"keras.applications' ResNet weights are MSRA's Caffe ResNet, with the 7×7 stem and "
            f"the stride in the first 1×1; received {layout}. Build it with weights=None, or "
            f"take a layout with stem='7x7' and stride_in='1x1' (KERAS_APPLICATIONS, "
            f"CAFFE_DEEPLAB_V2)."
        )
    application = getattr(keras.applications, f"ResNet{depth}")
    with explain_download_failure(
        f"weights=PATH, a keras.applications ResNet{depth} weights file (--weights PATH), or "
        "weights=None (--weights none) to train from random weights"
    ):
        return application(include_top=False, weights=weights)


def _copy_keras_applications(source: keras.Model, graph: _Graph) -> None:
    """Copies keras.applications' weights into `graph` by layer name.

    A bias-free layout takes each convolution's bias into the batch normalization after it,
    exactly: BN(x + b) with moving mean m is BN(x) with moving mean m − b. Another epsilon is
    taken into the moving variance the same way: v + ε_source − ε_layout.
    """
    biases = {}
    for layer in source.layers:
        if not layer.weights:
            continue
        values = layer.get_weights()
        if isinstance(layer, keras.layers.Conv2D) and not graph.layout.use_bias:
            kernel, bias = values
            biases[layer.name.removesuffix("_conv") + "_bn"] = bias
            values = [kernel]
        elif isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = values
            mean = mean - biases.pop(layer.name, 0)
            variance = variance + (layer.epsilon - graph.layout.epsilon)
            values = [gamma, beta, mean, variance]
        graph.layers[layer.name].set_weights(values)


def resnet(
    images,
    *,
    depth: int = 50,
    output_stride: int = 32,
    weights: str | None = None,
    layout: ResNetLayout = KERAS_APPLICATIONS,
    multi_grid: tuple[int, int, int] = (1, 1, 1),
    kernel_initializer: str | keras.initializers.Initializer = "he_normal",
) -> dict[str, keras.KerasTensor]:
    """Applies a bottleneck ResNet (v1) to `images` and returns its stage outputs.

    The stem and pool1 bring the images to 1/4, conv2 keeps that resolution and conv3, conv4
    and conv5 halve it in their first block, unless `output_stride` removes the stride of
    conv5 (16) or of conv4 and conv5 (8); their 3×3 convolutions are then dilated by 2 per
    removed stride, the first block's by the rule of `layout`. `multi_grid` multiplies the
    rates of conv5's three blocks, as DeepLab v3's multi-grid (1, 2, 4) does.

    Reference: He et al., CVPR 2016, table 1; Chen et al., PAMI 2017, section 3.1;
    Chen et al., arXiv:1706.05587, section 3.2 (multi-grid).

    Args:
        images: the preprocessed input tensor (for keras.applications' weights, BGR minus
            the ImageNet mean: `keras.applications.resnet.preprocess_input`).
        depth: 50, 101 or 152.
        output_stride: 8, 16 or 32, conv5's stride relative to the input.
        weights: `"imagenet"` (keras.applications' weights, downloaded once into
            `~/.keras/models/`), the path of a keras.applications ResNet{depth} weights file
            (`include_top=False`), or `None` for random weights. Weights are copied by layer
            name and need MSRA's 7×7 stem and stride in the 1×1; a bias-free layout takes each
            convolution's bias into the moving mean of the batch normalization after it, and
            another epsilon into its moving variance, which computes the same.
        layout: the release whose choices to follow (`ResNetLayout`).
        multi_grid: factors of the dilation rates of conv5's three blocks.
        kernel_initializer: the convolution kernels' initializer.

    Returns:
        The stage outputs by pyramid level: `"P1"` (the stem's ReLU, stride 2, 64 or 128
        channels), `"P2"` (conv2, stride 4, 256), `"P3"` (conv3, stride 8, 512), `"P4"`
        (conv4, stride 16, or 8 at output stride 8, 1024), `"P5"` (conv5, stride
        `output_stride`, 2048).

    Example:

    >>> images = keras.Input((None, None, 3))
    >>> features = resnet(images, output_stride=16, layout=CAFFE_DEEPLAB_V2)
    >>> features["P4"].shape, features["P5"].shape
    ((None, None, None, 1024), (None, None, None, 2048))
    """
    if depth not in RESNET_BLOCKS:
        raise ValueError(f"depth must be one of {tuple(RESNET_BLOCKS)}; received {depth!r}.")
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(
            f"output_stride must be one of {OUTPUT_STRIDES}; received {output_stride!r}."
        )
    if len(multi_grid) != 3 or any(int(g) != g or g < 1 for g in multi_grid):
        raise ValueError(
            f"multi_grid must be three positive integers, one per conv5 block; received "
            f"{multi_grid!r}."
        )
    plan = _stage_plan(RESNET_BLOCKS[depth], output_stride, layout.dilation_rule, multi_grid)
    if layout.stride_in == "3x3" and plan[-1][0] > 1 and plan[-1][1][0] > 1:
        raise ValueError(
            f"conv5's first 3×3 both strides (output_stride=32 with stride_in='3x3') and "
            f"dilates (multi_grid={multi_grid!r}), which Keras' Conv2D refuses; use "
            f"multi_grid[0] = 1 or output_stride 16 or 8."
        )
    source = _keras_applications_resnet(depth, weights, layout)
    graph = _Graph(layout, kernel_initializer)
    # conv1: 1/2
    outputs = {"P1": graph.stem(images)}
    # pool1: 1/4
    x = graph.pool1(outputs["P1"])
    # conv2: 1/4; conv3: 1/8; conv4: 1/16 (1/8 at output stride 8); conv5: 1/output_stride
    for stage, (filters, (strides, rates)) in enumerate(zip(STAGE_FILTERS, plan, strict=True)):
        for block, rate in enumerate(rates, start=1):
            x = graph.bottleneck(
                x,
                filters,
                f"conv{stage + 2}_block{block}",
                strides=strides if block == 1 else 1,
                rate=rate,
                projection=block == 1,
            )
        outputs[f"P{stage + 2}"] = x
    if source is not None:
        _copy_keras_applications(source, graph)
    return outputs
