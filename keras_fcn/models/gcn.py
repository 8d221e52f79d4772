"""GCN, "Large Kernel Matters": global convolutions and boundary refinement on a ResNet's four
stages, merged coarse to fine.

On the output of each ResNet stage (res-2 … res-5, at 1/4 … 1/32 of the input) a Global
Convolutional Network block scores the classes with a large k×k field at the cost of two
separable paths: a k×1 then a 1×k convolution, plus a 1×k then a k×1 one, to as many channels
as classes, summed, without bias, normalization or nonlinearity. A Boundary Refinement block
follows each: the scores plus a residual, 3×3 convolution, ReLU, 3×3 convolution. From the
coarsest stage on, the scores are upsampled twice by a transposed convolution, added to the
next stage's refined scores and refined again; two more ×2 upsamplings, each refined, bring
them to the input's resolution: 4 GCN blocks, 9 BR blocks, 5 deconvolutions (figure 2).

Where the paper leaves the net open, this module chooses (no code or weights were released):
- every convolution of the head is bias-free; so are the deconvolutions, 4×4 of stride 2 and
  padding 1 (the size FCN gives a ×2 bilinear upsampler; output twice the input), initialised
  to bilinear interpolation (`keras_fcn.layers.BilinearUpsampling`) and learned. That is the
  layer list of 2,578,842 head parameters for 21 classes at k = 15 (module test);
- k is 15 on every stage by default, the largest size of the paper's ablation (on res-5);
  `k` takes one odd size, or one per stage (res-2, res-3, res-4, res-5);
- an upsampled map is cropped to the next stage's size from the top left (Caffe's `Crop`,
  `keras_fcn.layers.CropToReference`), which changes nothing for inputs of a multiple of 32;
  the 1/2 map takes the size of the ResNet's conv1 output, the last map the image's;
- the backbone is keras.applications' ResNet-152 (MSRA's ImageNet weights, Caffe's BGR mean
  subtracted inside the model), at output stride 32.

Layer names, by the level s of the map (its stride 2^s): `gcn{s}_left_{1,2}` (k×1, 1×k),
`gcn{s}_right_{1,2}` (1×k, k×1) and `gcn{s}` (their sum) for s = 2 … 5; `br{s}` (after GCN s),
`deconv{s}` (the ×2 upsampling to level s, s = 4 … 0), `fuse{s}` (the sum), `br{s}_fused` (after
it) for s = 2 … 4, `br1`, `br0`; each BR block `{name}_conv1`, `{name}_relu`, `{name}_conv2`,
`{name}_add`; the logits `logits` (float32).

Reference: Peng, Zhang, Yu, Luo & Sun, "Large Kernel Matters — Improve Semantic Segmentation by
Global Convolutional Network", CVPR 2017 (arXiv:1703.02719): section 3 and figure 2 (the network,
the GCN and BR blocks), section 4 (k, training protocol).
"""

import keras

from keras_fcn.backbones.registry import get_backbone
from keras_fcn.layers import BilinearUpsampling, CropToReference
from keras_fcn.models.inputs import check_sizes

BACKBONES = ("resnet50", "resnet101", "resnet152")
"""The backbones `GCN` stands on; the paper's is ResNet-152."""

STAGES = ("P2", "P3", "P4", "P5")
"""The ResNet levels (res-2 … res-5) that a GCN block scores."""

KERNEL_SIZE = 15
"""The paper's k."""


def _check_kernel_sizes(k: int | tuple[int, ...]) -> tuple[int, ...]:
    """The kernel size per stage (res-2 … res-5), checked: odd positive integers."""
    sizes = (k,) * len(STAGES) if isinstance(k, int) else tuple(k)
    if len(sizes) != len(STAGES) or any(
        not isinstance(size, int) or size < 1 or size % 2 == 0 for size in sizes
    ):
        raise ValueError(
            f"GCN's k must be an odd positive integer or {len(STAGES)} of them (res-2, res-3, "
            f"res-4, res-5), so that the k×1 and 1×k convolutions stay centred; received {k!r}."
        )
    return sizes


def global_convolution(
    features,
    num_classes: int,
    k: int,
    name: str,
    *,
    kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
):
    """A Global Convolutional Network block: (k×1 → 1×k) + (1×k → k×1) to `num_classes`.

    Two paths of two bias-free convolutions, padded to keep the size, summed, with no
    nonlinearity: a k×k field with 2k(C + K)K weights for C input channels and K outputs,
    instead of k²CK.

    Reference: Peng et al., CVPR 2017, section 3 and figure 2(B).

    Args:
        features: the stage's output.
        num_classes: K, the output channels.
        k: the odd kernel size.
        name: prefix of the layers `{name}_left_1`, `{name}_left_2`, `{name}_right_1`,
            `{name}_right_2`, and the sum `{name}`.
        kernel_initializer: the kernels' initializer.

    Returns:
        The scores, `num_classes` channels at the features' resolution.

    Example:

    >>> scores = global_convolution(keras.Input((None, None, 64)), 21, 7, "gcn5")
    >>> scores.shape
    (None, None, None, 21)
    """

    def conv(x, kernel_size, layer_name):
        return keras.layers.Conv2D(
            num_classes,
            kernel_size,
            padding="same",
            use_bias=False,
            kernel_initializer=kernel_initializer,
            name=layer_name,
        )(x)

    left = conv(conv(features, (k, 1), f"{name}_left_1"), (1, k), f"{name}_left_2")
    right = conv(conv(features, (1, k), f"{name}_right_1"), (k, 1), f"{name}_right_2")
    return keras.layers.Add(name=name)([left, right])


def boundary_refinement(
    scores,
    name: str,
    *,
    kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
):
    """A Boundary Refinement block: `scores + conv3×3(ReLU(conv3×3(scores)))`.

    Both convolutions keep the channels and the size and are bias-free.

    Reference: Peng et al., CVPR 2017, section 3 and figure 2(C).

    Args:
        scores: the class scores to refine.
        name: prefix of the layers `{name}_conv1`, `{name}_relu`, `{name}_conv2`, `{name}_add`.
        kernel_initializer: the kernels' initializer.

    Returns:
        The refined scores.

    Example:

    >>> boundary_refinement(keras.Input((None, None, 21)), "br5").shape
    (None, None, None, 21)
    """
    channels = scores.shape[-1]
    options = {"padding": "same", "use_bias": False, "kernel_initializer": kernel_initializer}
    residual = keras.layers.Conv2D(channels, 3, name=f"{name}_conv1", **options)(scores)
    residual = keras.layers.Activation("relu", name=f"{name}_relu")(residual)
    residual = keras.layers.Conv2D(channels, 3, name=f"{name}_conv2", **options)(residual)
    return keras.layers.Add(name=f"{name}_add")([scores, residual])


def _upsample(scores, reference, level: int):
    """`deconv{level}`: ×2 by a learned 4×4 transposed convolution of stride 2 and padding 1,
    bilinear at first, cropped to the reference's size."""
    x = keras.layers.Conv2DTranspose(
        scores.shape[-1],
        4,
        strides=2,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        name=f"deconv{level}",
    )(scores)
    return CropToReference(name=f"deconv{level}_crop")([x, reference])


def GCN(
    num_classes: int = 21,
    *,
    backbone: str = "resnet152",
    k: int | tuple[int, int, int, int] = KERNEL_SIZE,
    weights: str | None = "imagenet",
    input_shape: tuple = (None, None, 3),
    kernel_initializer: str | keras.initializers.Initializer | None = None,
    name: str = "gcn",
) -> keras.Model:
    """Builds GCN: Global Convolutional Network and Boundary Refinement blocks on a ResNet.

    Inputs, outputs and preprocessing as `DeepLabV3`'s (RGB in [0, 255], float32 logits at the
    input's size, keras.applications' ResNet preprocessing inside the model).
    See the module docstring for the net and the choices the paper leaves open.

    Parameters of the head for K classes, C_s channels of stage s (256, 512, 1024, 2048) and
    k_s: Σ_s 2·k_s·(C_s + K)·K (GCN) + 9 · 2 · 9K² (BR) + 5 · 16K² (deconvolutions); for 21
    classes and k = 15: 2,472,120 + 71,442 + 35,280 = 2,578,842. With keras.applications'
    ResNet-152 (58,219,520 trainable, conv biases included): 60,798,362 trainable and
    60,949,786 in all (`count_params`, with the batch normalizations' moving statistics).

    Reference: Peng et al., CVPR 2017 (arXiv:1703.02719), sections 3 and 4.

    Args:
        num_classes: number of classes scored, background included (21 for PASCAL VOC).
        backbone: `"resnet152"` (the paper's), `"resnet101"` or `"resnet50"`.
        k: the GCN blocks' kernel size, odd: one for all, or one per stage (res-2 … res-5).
        weights: `"imagenet"` (keras.applications' ResNet, downloaded on first use), `None`
            (random weights), or the path of a keras.applications ResNet weights file without
            the classifier. No trained GCN was released.
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        kernel_initializer: the kernels of the convolutions not taken from `weights` (the
            deconvolutions start bilinear whatever it is); `None` for He-normal in the
            backbone and Glorot-uniform in the head.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = GCN(num_classes=2, backbone="resnet50", k=(9, 7, 5, 3), weights=None)
    >>> model(np.zeros((1, 35, 45, 3))).shape
    TensorShape([1, 35, 45, 2])
    >>> model.get_layer("gcn5_left_1").kernel_size
    (3, 1)
    """
    check_sizes(input_shape, num_classes=num_classes)
    if backbone not in BACKBONES:
        raise ValueError(f"GCN's backbone must be one of {BACKBONES}; received {backbone!r}.")
    kernel_sizes = dict(zip(STAGES, _check_kernel_sizes(k), strict=True))
    resnet = get_backbone(backbone)
    head = {"kernel_initializer": kernel_initializer or "glorot_uniform"}

    # data: RGB in [0, 255] → BGR minus keras.applications' ImageNet mean.
    images = keras.Input(shape=input_shape, name="image")
    x = resnet.preprocessing()(images)

    # res-2 … res-5: 1/4 … 1/32.
    features = resnet(x, weights=weights, kernel_initializer=kernel_initializer or "he_normal")

    # GCN and BR on every stage: 1/4 … 1/32.
    scores = {}
    for stage in STAGES:
        level = int(stage[1])
        gcn = global_convolution(
            features[stage], num_classes, kernel_sizes[stage], f"gcn{level}", **head
        )
        scores[level] = boundary_refinement(gcn, f"br{level}", **head)

    # coarse to fine: 1/32 → ×2, + res-4 → BR: 1/16; … → 1/4.
    x = scores[5]
    for level in (4, 3, 2):
        x = _upsample(x, scores[level], level)
        x = keras.layers.Add(name=f"fuse{level}")([x, scores[level]])
        x = boundary_refinement(x, f"br{level}_fused", **head)

    # ×2, BR: 1/2; ×2, BR: 1/1.
    x = boundary_refinement(_upsample(x, features["P1"], 1), "br1", **head)
    x = boundary_refinement(_upsample(x, images, 0), "br0", **head)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)
