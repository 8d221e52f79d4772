"""RefineNet (cascaded multi-path refinement) on ResNet-50/101/152, as its MatConvNet release
builds it.

RefineNet keeps the ResNet at output stride 32 and refines its four stage outputs from coarse to
fine instead of dilating it. Each stage output ("path", 1/32 … 1/4) is reduced by a bias-free 3×3
convolution (`p_ims1d2_outl{n}_dimred`: 2048 → 512, 1024/512/256 → 256; "dimred" although it is
3×3) and adapted by two residual convolution units (RCU: ReLU, 3×3 with bias, ReLU, 3×3 without
bias, plus the input). Four cascaded RefineNet blocks (`g1` … `g4`) follow: block `g1` takes path 1
alone; each later block takes the previous block's output and the next path, convolves each to
the smaller of their widths (bias-free 3×3, the release's `…_joint_varout_dimred`), resizes the
coarser to the finer and sums them (`mflow_joint_g{n}`, the release's `My_sum_layer`); then chained
residual pooling (CRP: ReLU, then four chained 5×5 stride-1 max-poolings each followed by a
bias-free 3×3 convolution, every link summed with the ReLU's output) and three RCUs. Block `g4`'s
output (1/4, 256 channels) goes through dropout 0.5 and a 3×3 convolution with bias to the
classes (`score`), and the scores are resized to the image.

Where the paper (figure 2, section 3) and the released code differ, the code that produced the
published numbers is followed:
- four pooling links per CRP (`chained_pool_num = 4`), not the figure's two, and three output
  RCUs in every block (`refine_block_conv_num_mainflow = 3`), not one plus two before the
  softmax (main/gen_net_opts_model_type1.m); the parameter count follows from that;
- "improved" residual pooling (`pooling="improved"`, `do_gen_block_convbeforepool`) convolves
  before it pools in each link; the release's NYUDv2, Person-Parts, PASCAL-Context, SUN-RGBD and
  ADE20K models use it, the VOC and Cityscapes ones the "original" order (README, "Trained
  models");
- the fusion and the final upsampling use MATLAB's bicubic `imresize` (main/my_resize.m, the GPU
  path the release evaluates with: one scale for both axes, then a crop), which
  `upsampling="bicubic"` computes exactly (`keras_fcn.layers.ImresizeToReference`); the default
  `"bilinear"` (`keras_fcn.layers.ResizeToReference`, MATLAB's own `'bilinear'` when upsampling)
  is cheaper. On three random ResNet-50 nets at the release's widths (97 × 129 inputs) the two
  differed by 5.7–7.2 % of the logits' standard deviation on average and agreed on the argmax
  at 89–94 % of the pixels (tests/test_models_refinenet.py measures a narrow one); what that
  costs a trained net in mean IU needs the released weights and a dataset and is not measured
  here. The release resizes softmax probabilities
  through their logarithm, clipped at −20 (main/my_gen_seg_result.m); resizing the logits
  instead gives the same argmax up to that clip, since a per-pixel constant resizes to a
  per-pixel constant.
- the input is RGB minus 128 (`REFINENET_MEAN_RGB`), inside the model. The release's evaluation
  also rescales each image (short side clamped to [450, 800], times 1.2 inside its net, MATLAB
  bicubic on uint8) before the net; that is a test-time protocol, not part of the model.

The backbone is MSRA's Caffe ResNet as MatConvNet imports it
(`keras_fcn.backbones.resnet.REFINENET`: stride in the first 1×1, bias-free convolutions but
conv1's, symmetric padding, pool1 rounding down), tapped at `"P5"` … `"P2"`. Its batch
normalizations use their stored statistics in training too (`bnorm_moment_type_trn='global'`,
`_moments` fixed); the release still trains their scale and shift, which Keras'
`BatchNormalization` cannot do in inference mode, so here they are frozen with the statistics
(`trainable=False`; set it back to fine-tune them). Dropout 0.5 on the two widest paths (1/32 and
1/16, `add_init_net_dropout`) and before the classifier acts in training only.

Layer names are the release's (`p_ims1d2_outl1_dimred`, `adapt_input_path2_b1_conv`,
`mflow_conv_g3_pool2_outvar_dimred`, `mflow_conv_g1_poolprev_relu_varout_pb1`,
`mflow_conv_g2_b3_joint_varout_dimred`, …; the adaptation RCUs as the current code names them,
`adapt_input_path{n}`, which older files call `adapt_stage{n}`), so that a `.mat` file's
parameter `<layer>_filter` / `<layer>_bias` fills the layer of that name
(`keras_fcn.weights.mappings.matconvnet`); the backbone keeps keras.applications' names.

Reference: Lin, Milan, Shen & Reid, "RefineNet: Multi-Path Refinement Networks for
High-Resolution Semantic Segmentation", CVPR 2017, section 3 and figure 2. guosheng/refinenet
`main/gen_network_refine_group.m`, `main/gen_network_pool_block.m`, `main/My_net_util.m`
(`add_res_conv_block`, `add_dim_reduce_layer`, `add_conv_layer_dagnn`),
`main/gen_network_featnet_resnet.m`, `main/gen_network_loss_group.m`, `main/My_sum_layer.m`,
`main/my_resize.m`, `net_graphs/part2_cascaed_refinenet{,_pooling_improved}.pdf`.
"""

import keras

from keras_fcn.backbones.preprocessing import REFINENET_MEAN_RGB
from keras_fcn.backbones.registry import BACKBONES
from keras_fcn.backbones.resnet import REFINENET
from keras_fcn.layers import ImresizeToReference, ResizeToReference
from keras_fcn.models.inputs import check_sizes, check_weights_file, image_input

DEPTHS = (50, 101, 152)
"""The ResNets the release builds on (`imagenet-resnet-{50,101,152}-dag.mat`)."""

POOLINGS = ("original", "improved")
"""Chained residual pooling: pool then convolve in each link, or convolve then pool."""

UPSAMPLINGS = ("bilinear", "bicubic")
"""How the fusions and the scores are resized: bilinear, or MATLAB's bicubic `imresize`."""

ADAPT_WIDTHS = (512, 256, 256, 256)
"""Channels of paths 1 … 4 after their `dimred` (`input_adapt_dims`,
main/gen_net_opts_model_type1.m)."""

PATH_LEVELS = ("P5", "P4", "P3", "P2")
"""The backbone levels of paths 1 … 4 (`p_ims1d2_outl1` … `outl4`), coarse to fine."""

CHAINED_POOLS = 4
"""Pooling links per chained residual pooling (`chained_pool_num`)."""

POOL_SIZE = 5
"""Side of the CRP's stride-1 max-pooling window (`chained_pool_size`), padded by 2."""

ADAPT_UNITS = 2
"""RCUs adapting each path (`adapt_conv_num`)."""

OUTPUT_UNITS = 3
"""RCUs at the end of each RefineNet block (`refine_block_conv_num_mainflow`)."""

DROPOUT = 0.5
"""Dropout on the paths wider than 512 channels and before the classifier."""

OUTPUT_STRIDE = 4
"""The classifier's stride: block `g4` works at 1/4 of the input."""

PATH_NAME = "p_ims1d2_outl{}"
"""The release's name of path n's input (`p_ims<scale>_outl<n>`, at its net's scale 1.2)."""

ADAPT_NAME = "adapt_input_path{}"
"""The release's prefix of path n's adaptation RCUs."""


def resize_layer(upsampling: str, **options) -> keras.layers.Layer:
    """RefineNet's resize of one map to another's size (`my_resize`) for an `upsampling` of
    `UPSAMPLINGS`: MATLAB's bicubic `imresize` with one scale for both axes, or bilinear.

    Example:

    >>> resize_layer("bicubic", name="upsampling").__class__.__name__
    'ImresizeToReference'
    """
    if upsampling == "bicubic":
        return ImresizeToReference(common_scale=True, **options)
    return ResizeToReference(**options)


class _Head:
    """Creates RefineNet's head layers, with the release's names and initializers."""

    def __init__(self, pooling: str, upsampling: str, kernel_initializer):
        self.pooling = pooling
        self.upsampling = upsampling
        self.kernel_initializer = kernel_initializer

    def conv(self, x, filters: int, name: str, use_bias: bool = False):
        """A 3×3 convolution padded by 1 (`add_conv_layer_dagnn`), biases starting at zero."""
        return keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            name=name,
        )(x)

    def resize(self, features, reference, name: str, **options):
        """Resizes `features` to the size of `reference` (`my_resize`)."""
        return resize_layer(self.upsampling, name=name, **options)([features, reference])

    def residual_conv_unit(self, x, prefix: str):
        """RCU `{prefix}`: x + conv(ReLU(conv_with_bias(ReLU(x)))) (`add_res_conv_block`)."""
        width = x.shape[-1]
        y = keras.layers.ReLU(name=f"{prefix}_prev_relu")(x)
        y = self.conv(y, width, f"{prefix}_conv", use_bias=True)
        y = keras.layers.ReLU(name=f"{prefix}_conv_relu")(y)
        y = self.conv(y, width, f"{prefix}_conv_relu_varout_dimred")
        return keras.layers.Add(name=f"{prefix}_joint")([x, y])

    def chained_residual_pooling(self, x, prefix: str):
        """CRP `{prefix}`: ReLU, then `CHAINED_POOLS` links of a 5×5 stride-1 max-pooling and a
        bias-free 3×3 convolution (in that order, or the reverse when "improved"), each link
        fed by the previous one, all summed with the ReLU's output (`do_gen_block`,
        `do_gen_block_convbeforepool`)."""
        x = keras.layers.ReLU(name=f"{prefix}_poolprev_relu")(x)
        x_name, width, link, links = f"{prefix}_poolprev_relu_varout", x.shape[-1], x, [x]
        for index in range(1, CHAINED_POOLS + 1):
            pool = keras.layers.MaxPooling2D(
                POOL_SIZE, strides=1, padding="same", name=f"{prefix}_pool{index}"
            )
            if self.pooling == "original":
                link = self.conv(pool(link), width, f"{prefix}_pool{index}_outvar_dimred")
            else:
                # named after the variable convolved (`dim_adapt_name`)
                source = f"{prefix}_pool{index - 1}_outvar" if index > 1 else x_name
                link = pool(self.conv(link, width, f"{source}_pb{index}"))
            links.append(link)
        return keras.layers.Add(name=f"{prefix}_pool_joint")(links)

    def refinenet_block(self, index: int, previous, previous_name: str, path, path_name: str):
        """RefineNet block `g{index}`: the fusion of `previous` (a coarser block's output, named
        `previous_name` in the release) and `path` (named `path_name`), or `path` alone, then
        CRP and the output RCUs (`do_gen_one_refinenet`)."""
        prefix = f"mflow_conv_g{index}"
        if previous is None:
            x = path
        else:
            width = min(previous.shape[-1], path.shape[-1])  # filter_num_after_joint
            previous = self.conv(previous, width, f"{previous_name}_dimred")
            path = self.conv(path, width, f"{path_name}_dimred")
            previous = self.resize(previous, path, f"mflow_joint_g{index}_resize")
            x = keras.layers.Add(name=f"mflow_joint_g{index}")([previous, path])
        x = self.chained_residual_pooling(x, prefix)
        for unit in range(1, OUTPUT_UNITS + 1):
            x = self.residual_conv_unit(x, f"{prefix}_b{unit}")
        return x, f"{prefix}_b{OUTPUT_UNITS}_joint_varout"


def _check_options(depth: int, pooling: str, upsampling: str, adapt_widths: tuple) -> None:
    """Raises a `ValueError` naming the first of `RefineNet`'s options out of its range."""
    for option, value, allowed in (
        ("depth", depth, DEPTHS),
        ("pooling", pooling, POOLINGS),
        ("upsampling", upsampling, UPSAMPLINGS),
    ):
        if value not in allowed:
            raise ValueError(f"RefineNet's {option} must be one of {allowed}; received {value!r}.")
    if len(adapt_widths) != len(PATH_LEVELS) or any(
        int(width) != width or width < 1 for width in adapt_widths
    ):
        raise ValueError(
            f"adapt_widths must be four positive integers, one per path; received {adapt_widths!r}."
        )


def RefineNet(
    num_classes: int = 21,
    *,
    depth: int = 101,
    pooling: str = "original",
    upsampling: str = "bilinear",
    weights: str | None = None,
    input_shape: tuple = (None, None, 3),
    adapt_widths: tuple[int, int, int, int] = ADAPT_WIDTHS,
    kernel_initializer: str | keras.initializers.Initializer | None = None,
    name: str = "refinenet",
) -> keras.Model:
    """Builds RefineNet: four ResNet stages refined coarse to fine by cascaded RefineNet blocks.

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32; the
    release's preprocessing (RGB minus 128) is inside the model. See the module docstring for
    the net and where it follows the released code rather than the paper.

    Parameters for 21 classes, batch normalization γ and β counted and their moving statistics
    not: 118,052,437 on ResNet-101 and 133,696,085 on ResNet-152 (`count_params` adds 105,344
    and 151,424 statistics), of which the head holds 75,552,277 (block g1 with path 1's dimred
    and RCUs and the fusion convolution 512 → 256 of g2's input 43,649,536; g2 11,797,760; g3
    10,618,112; g4 9,438,464; the classifier 3 · 3 · 256 · 21 + 21 = 48,405) and the ResNet
    without its classifier the rest (42,500,160 and 58,143,808).
    MatConvNet's import adds conv1's bias (64), which this bias-free layout takes into
    `conv1_bn`'s moving mean.

    Reference: Lin et al., CVPR 2017, section 3; guosheng/refinenet `main/gen_network_*.m`.

    Args:
        num_classes: classes scored. The release's files score one more channel, a `void`
            class, where their class lists have it (VOC's 22, `keras_fcn.presets`).
        depth: the ResNet's depth, 50, 101 or 152.
        pooling: `"original"` (pool, then convolve; the VOC and Cityscapes models) or
            `"improved"` (convolve, then pool; the other datasets' models).
        upsampling: `"bilinear"` or `"bicubic"` (MATLAB's `imresize`, as the release), for the
            fusions and the scores.
        weights: `None` (random weights) or the path of a Keras weights file of this net. The
            released `.mat` files load through `keras_fcn.presets.from_preset` or
            `keras_fcn.weights.load_matconvnet_weights`.
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        adapt_widths: the channels of paths 1 … 4 after their dimred (the release's
            `input_adapt_dims`); a RefineNet block works at the smaller width of its two inputs.
        kernel_initializer: the kernels of every convolution; `None` for the release's: He
            initialisation in the backbone (no ImageNet weights in this layout are published
            for Keras), a normal distribution of standard deviation 0.01 in the head
            (`0.01 * randn`). `"zeros"` builds fast a net whose weights are loaded next.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` RGB images to `(B, H, W,
        num_classes)` float32 logits.

    Example:

    >>> model = RefineNet(2, depth=50, adapt_widths=(8, 4, 4, 4), kernel_initializer="zeros")
    >>> model(np.zeros((1, 37, 45, 3))).shape
    TensorShape([1, 37, 45, 2])
    >>> model.get_layer("mflow_conv_g2_pool4_outvar_dimred").filters
    4
    """
    check_sizes(input_shape, num_classes=num_classes)
    _check_options(depth, pooling, upsampling, adapt_widths)
    check_weights_file(weights, "a released .mat file loads through keras_fcn.from_preset")
    head = _Head(
        pooling, upsampling, kernel_initializer or keras.initializers.RandomNormal(stddev=0.01)
    )

    # data: RGB in [0, 255] → RGB minus 128.
    images, x = image_input(input_shape, REFINENET_MEAN_RGB, reverse_channels=False)

    # res2: 1/4; res3: 1/8; res4: 1/16; res5: 1/32 (MatConvNet's pooling rounds down).
    features = BACKBONES[f"resnet{depth}"](
        x, layout=REFINENET, kernel_initializer=kernel_initializer or "he_normal"
    )

    # paths 1 … 4 (1/32 … 1/4): dropout on the two widest, dimred, two adaptation RCUs.
    paths = []
    for number, (level, width) in enumerate(zip(PATH_LEVELS, adapt_widths, strict=True), start=1):
        path = features[level]
        if path.shape[-1] > 512:
            path = keras.layers.Dropout(DROPOUT, name=f"{PATH_NAME.format(number)}_dropout")(path)
        path = head.conv(path, int(width), f"{PATH_NAME.format(number)}_dimred")
        for unit in range(1, ADAPT_UNITS + 1):
            path = head.residual_conv_unit(path, f"{ADAPT_NAME.format(number)}_b{unit}")
        paths.append((path, f"{ADAPT_NAME.format(number)}_b{ADAPT_UNITS}_joint_varout"))

    # RefineNet blocks g1 (1/32), g2 (1/16), g3 (1/8), g4 (1/4).
    x, x_name = None, None
    for index, (path, path_name) in enumerate(paths, start=1):
        x, x_name = head.refinenet_block(index, x, x_name, path, path_name)

    # score: 1/4; resized to the image: 1/1.
    x = keras.layers.Dropout(DROPOUT, name="score_dropout")(x)
    scores = head.conv(x, num_classes, "score", use_bias=True)
    logits = head.resize(scores, images, "upsampling", dtype="float32")
    model = keras.Model(images, logits, name=name)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False  # the release's fixed moments (module docstring)
    if weights is not None:
        model.load_weights(weights)
    return model
