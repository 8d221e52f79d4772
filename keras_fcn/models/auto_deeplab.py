"""Auto-DeepLab's found network (`hnasnet`) with the DeepLab v3+ head it is trained with.

Auto-DeepLab searched both the cell and the network-level path of output strides; the network it
found runs a stem and 12 copies of one cell along the path `[0, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1]`
(level L: output stride 4 · 2^L, f = F · 2^L filters per operation). It is built here as its
only official definition builds it, tensorflow/models `research/deeplab/core/nas_network.py`
(`hnasnet`, `_nas_stem`, `_build_nas_base`) and `nas_cell.py` (`NASBaseCell`):

- data: RGB in [0, 255] → 2x / 255 − 1 (`feature_extractor.py`, `_preprocess_zero_mean_unit_range`);
- stem: `conv0` 3×3 stride 2 (64) + BN + ReLU, `conv1` 3×3 (64) + BN (this tensor, before its
  ReLU, is cell 0's previous state), ReLU, `conv2` 3×3 stride 2 (128) + BN: 1/4;
- each cell: h0 = its input → ReLU → 1×1 (f) → BN (`1x1`, `beginning_bn`); h1 = the output before
  that, resized to h0's size and, where its channels are not f, → ReLU → 1×1 → BN (`prev_1x1`,
  `prev_bn`); five blocks (`comb_iter_0` … `comb_iter_4`), each the sum of two operations
  (`OPERATIONS`) on two earlier states (`HIDDENSTATE_INDICES`); the cell's output the
  concatenation of the five blocks, 5f channels, without activation. A separable k×k ×2 is
  twice ReLU → depthwise k×k → pointwise 1×1 (one `SeparableConv2D`, nothing between) → BN; an
  atrous k×k is ReLU → a full k×k convolution at rate 2 → BN. A cell one level up (stride 2)
  strides the operations that read h0 or h1: a separable operation its first layer, an atrous
  one by resizing its input by ½ (corners aligned) and convolving at rate 1, as the code does; a
  cell one level down first resizes its input ×2, corners aligned (`scale_dimension`: n rows
  become 2n − 1). ReLU after cell 11;
- head (`research/deeplab/model.py`, `_extract_features` and `refine_by_decoder`): DeepLab
  v3's ASPP on the output-stride-8 map (`keras_fcn.models.deeplab_v3.aspp` with `PAPER_ASPP`:
  1×1, 3×3 at rates 12, 24, 36, image pooling, 256 filters, projection, dropout 0.1), the v3+
  decoder on cell 2's output at 1/4 (`keras_fcn.models.deeplab_v3_plus.deeplab_v3_plus_decoder`:
  1×1 → 48 + BN + ReLU, concatenated after the ASPP's output resized to its size, two 3×3 → 256
  + BN + ReLU, a 1×1 to the classes with bias), and a bilinear resize to the image with corners
  aligned.

Where the releases differ, the newest code is followed: its stem and atrous convolutions pad as
`resnet_utils.conv2d_same` does and its strided separable convolutions as
`xception.separable_conv2d_same` does, symmetrically and explicitly (`ZeroPadding2D`, then
"valid"); the first release padded "SAME", which is the same for inputs of 4k + 1 pixels (321,
513, 769). Every resize is TensorFlow's `resize_bilinear(align_corners=True)`
(`core/utils.py`), which `keras_fcn.layers.CaffeInterp` computes (Keras' resizes align pixel
centres, not corners). Regular, not separable, 3×3 convolutions in the ASPP and the decoder
(`aspp_with_separable_conv` and `decoder_use_separable_conv` off): only they give the paper's
parameter counts (Table 2: 10.15 M, 21.62 M and 44.42 M for S, M and L with 19 classes).

The cells' batch normalizations have epsilon 1e-3 and decay 0.9997 (`nas_arg_scope`), their
convolutions bias-free with kernels uniform of variance 1/3 over fan-in
(`variance_scaling_initializer(factor=1/3, mode='FAN_IN', uniform=True)`); the head's have
epsilon 1e-5 (`deeplab_v3.EPSILON`), Glorot-uniform kernels, and the logits a truncated normal
of standard deviation 0.01. Drop-path is off (`drop_path_keep_prob=1.0`, the release's default)
and not built. No trained Auto-DeepLab was released (`g3doc/model_zoo.md` has none).

Layers are named as the release's scopes, `/` written `_` (Keras forbids it): `conv0`,
`conv0_bn`, …, `cell_3_prev_1x1`, `cell_3_beginning_bn`,
`cell_3_comb_iter_0_left_atrous_5x5`, `cell_3_comb_iter_0_right_separable_3x3_1`,
`cell_3_comb_iter_0_right_bn_sep_3x3_1`, …; the head as `deeplab_v3`'s (`aspp_*`, `logits`)
and `decoder_projection`, `decoder_0`, `decoder_1` (`feature_projection0`,
`decoder_conv0_1`, `decoder_conv0_2` in the release).

Reference: Liu, Chen, Schroff, Adam, Hua, Yuille & Fei-Fei, "Auto-DeepLab: Hierarchical Neural
Architecture Search for Semantic Image Segmentation", CVPR 2019, sections 3 and 5 (figure 3: the
found network and cell; table 2: the three sizes). tensorflow/models `research/deeplab/core/`
(`nas_network.py`, `nas_cell.py`, `feature_extractor.py`, `utils.py`, `xception.py`),
`research/deeplab/model.py`.
"""

import keras

from keras_fcn.layers import CaffeInterp
from keras_fcn.models.deeplab_v3 import PAPER_ASPP, RATES_AT_16, aspp
from keras_fcn.models.deeplab_v3_plus import deeplab_v3_plus_decoder
from keras_fcn.models.inputs import check_sizes, check_weights_file

FILTER_MULTIPLIERS = {"S": 20, "M": 32, "L": 48}
"""F, the filters of a level-0 operation, of Auto-DeepLab-S, -M and -L (the paper's table 2;
the TF flag `nas_stem_output_num_conv_filters`)."""

PATH = (0, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1)
"""The level of each of the 12 cells (`hnasnet`'s `backbone`): output stride 4 · 2^level."""

OPERATIONS = (
    "atrous_5x5",
    "separable_3x3_2",
    "separable_3x3_2",
    "atrous_3x3",
    "separable_3x3_2",
    "separable_3x3_2",
    "separable_5x5_2",
    "separable_5x5_2",
    "separable_5x5_2",
    "atrous_5x5",
)
"""The cell's ten operations, left and right of each block in turn (`hnasnet`'s `operations`)."""

HIDDENSTATE_INDICES = (1, 0, 1, 0, 3, 1, 4, 2, 3, 5)
"""The state each operation reads (`hnasnet`'s `hiddenstate_indices`): 0 is h0, 1 is h1, 2 + i
is block i."""

USED_HIDDENSTATES = (1, 1, 0, 0, 0, 0, 0)
"""Whether a state is left out of the cell's output (`hnasnet`'s `used_hiddenstates`): h0 and h1
are, the five blocks form it."""

STEM_FILTERS = (64, 64, 128)
"""The filters of the stem's `conv0`, `conv1` and `conv2`."""

DECODER_LOW_LEVEL = "Cell_2"
"""The endpoint whose output the decoder reads, at 1/4 (`feature_extractor.py`,
`networks_to_feature_maps['nas_hnasnet']`)."""

OUTPUT_STRIDE = 4 * 2 ** PATH[-1]
"""The output stride of cell 11, which the ASPP reads: 8."""

ASPP_RATES = tuple(rate * 16 // OUTPUT_STRIDE for rate in RATES_AT_16)
"""The ASPP's rates at output stride 8: 12, 24, 36."""

CELL_EPSILON = 1e-3
"""The stem's and cells' batch normalization epsilon (`nas_arg_scope`)."""

CELL_MOMENTUM = 0.9997
"""Their batch normalization decay (Keras' `momentum`)."""

CELL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1 / 3, "mode": "fan_in", "distribution": "uniform"},
}
"""`nas_arg_scope`'s kernel initializer, as a config: every layer deserializes its own (Keras
gives every layer that shares one unseeded initializer instance the same values)."""


def _initializer(initializer):
    """A fresh instance of `initializer` (a name, config or instance) for one layer."""
    return keras.initializers.deserialize(
        keras.initializers.serialize(keras.initializers.get(initializer))
    )


def _batch_norm(x, name: str):
    return keras.layers.BatchNormalization(epsilon=CELL_EPSILON, momentum=CELL_MOMENTUM, name=name)(
        x
    )


def _fixed_padding(x, kernel_size: int, name: str):
    """TF's explicit padding of a strided convolution (`resnet_utils.conv2d_same`,
    `xception.fixed_padding`): `(k − 1) // 2` before, the rest after."""
    before = (kernel_size - 1) // 2
    return keras.layers.ZeroPadding2D(
        ((before, kernel_size - 1 - before), (before, kernel_size - 1 - before)), name=name
    )(x)


def _conv_same(x, filters: int, kernel_size: int, stride: int, name: str, initializer, rate=1):
    """`resnet_utils.conv2d_same`: "same" at stride 1, explicit symmetric padding at stride 2."""
    padding = "same"
    if stride > 1:
        x = _fixed_padding(x, kernel_size, f"{name}_pad")
        padding = "valid"
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=padding,
        dilation_rate=rate,
        use_bias=False,
        kernel_initializer=_initializer(initializer),
        name=name,
    )(x)


def _parse_operation(operation: str) -> tuple[str, int, int]:
    """`"separable_5x5_2"` → `("separable", 5, 2)`; `"atrous_3x3"` → `("atrous", 3, 1)`, as
    `NASBaseCell._apply_conv_operation` reads them."""
    kind, size, *layers = operation.split("_")
    return kind, int(size.split("x")[0]), int(layers[0]) if layers else 1


def _operation(x, operation: str, filters: int, stride: int, name: str, initializer):
    """One operation of a block, `{name}_…` its layers' names."""
    kind, kernel_size, layers = _parse_operation(operation)
    if kind == "separable":
        for layer in range(1, layers + 1):
            x = keras.layers.ReLU(name=f"{name}_relu_{layer}")(x)
            scope = f"separable_{kernel_size}x{kernel_size}_{layer}"
            padding = "same"
            if stride > 1:
                x = _fixed_padding(x, kernel_size, f"{name}_{scope}_pad")
                padding = "valid"
            x = keras.layers.SeparableConv2D(
                filters,
                kernel_size,
                strides=stride,
                padding=padding,
                use_bias=False,
                depthwise_initializer=_initializer(initializer),
                pointwise_initializer=_initializer(initializer),
                name=f"{name}_{scope}",
            )(x)
            x = _batch_norm(x, f"{name}_bn_sep_{kernel_size}x{kernel_size}_{layer}")
            stride = 1
        return x
    if kind != "atrous":
        raise ValueError(f"Auto-DeepLab's cell has no operation {operation!r}.")
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    rate = 2
    if stride > 1:
        # hnasnet strides an atrous operation by resizing its input by ½, then convolving at 1.
        x = CaffeInterp(shrink_factor=stride, name=f"{name}_resize")(x)
        rate = 1
    x = _conv_same(
        x, filters, kernel_size, 1, f"{name}_atrous_{kernel_size}x{kernel_size}", initializer, rate
    )
    return _batch_norm(x, f"{name}_bn_atr_{kernel_size}x{kernel_size}")


def nas_cell(
    inputs,
    previous,
    filters: int,
    *,
    level_change: int = 0,
    resize_previous: bool | None = None,
    name: str = "cell",
    kernel_initializer: str | dict | keras.initializers.Initializer = CELL_INITIALIZER,
):
    """Auto-DeepLab's found cell, one level up, down, or at its input's level.

    The cell's input (resized ×2 first, corners aligned, one level down) gives h0 (ReLU, 1×1 to
    `filters`, BN); `previous`, the output before it, gives h1 (resized to h0's size where it
    lies at another output stride, then ReLU, 1×1, BN where its channels are not `filters`).
    Five blocks each add two operations of `OPERATIONS` on the states `HIDDENSTATE_INDICES`
    names; one level up, the operations on h0 and h1 have stride 2. See the module docstring.

    Reference: Liu et al., CVPR 2019, figure 3 (right); tensorflow/models
    `research/deeplab/core/nas_cell.py` (`NASBaseCell`), `nas_network.py` (`_build_nas_base`).

    Args:
        inputs: the previous cell's output (or the stem's).
        previous: the output before it (`cell_outputs[-2]`).
        filters: f, the filters of every operation.
        level_change: 1 for a cell one level up (stride 2), −1 for one level down, 0 otherwise.
        resize_previous: whether `previous` lies at another size than the (resized) input and
            is resized to it; `None` decides from the static shapes (resizing where a size is
            unknown: at equal sizes the resize is the identity, exactly).
        name: the cell's name, the prefix of its layers' (`cell_3`).
        kernel_initializer: the kernels' initializer.

    Returns:
        The concatenation of the five blocks, `5 * filters` channels.

    Example:

    >>> inputs, previous = keras.Input((9, 9, 40)), keras.Input((17, 17, 20))
    >>> nas_cell(inputs, previous, 10, level_change=1, name="cell_3").shape
    (None, 5, 5, 50)
    """
    if level_change not in (-1, 0, 1):
        raise ValueError(
            f"{name}: level_change must be 1 (up), -1 (down) or 0, received {level_change!r}."
        )
    if level_change == -1:
        inputs = CaffeInterp(zoom_factor=2, name=f"{name}_upsample")(inputs)
    stride = 2 if level_change == 1 else 1

    # _cell_base: h1 from the state before, h0 from the input.
    if resize_previous is None:
        resize_previous = None in inputs.shape[1:3] or previous.shape[1:3] != inputs.shape[1:3]
    if resize_previous:
        previous = CaffeInterp(name=f"{name}_prev_resize")([previous, inputs])
    if previous.shape[-1] != filters:
        previous = keras.layers.ReLU(name=f"{name}_prev_relu")(previous)
        previous = _conv_same(previous, filters, 1, 1, f"{name}_prev_1x1", kernel_initializer)
        previous = _batch_norm(previous, f"{name}_prev_bn")
    x = keras.layers.ReLU(name=f"{name}_relu")(inputs)
    x = _conv_same(x, filters, 1, 1, f"{name}_1x1", kernel_initializer)
    states = [_batch_norm(x, f"{name}_beginning_bn"), previous]

    # comb_iter_0 … comb_iter_4: left(state) + right(state).
    for block in range(len(OPERATIONS) // 2):
        sides = []
        for side, index in (("left", 2 * block), ("right", 2 * block + 1)):
            state = HIDDENSTATE_INDICES[index]
            sides.append(
                _operation(
                    states[state],
                    OPERATIONS[index],
                    filters,
                    stride if state < 2 else 1,
                    f"{name}_comb_iter_{block}_{side}",
                    kernel_initializer,
                )
            )
        states.append(keras.layers.Add(name=f"{name}_comb_iter_{block}_combine")(sides))

    # cell_output: the states no block reads.
    unused = [state for state, used in zip(states, USED_HIDDENSTATES, strict=True) if not used]
    return keras.layers.Concatenate(name=f"{name}_cell_output")(unused)


def _hnasnet(
    images,
    filter_multiplier: int = 20,
    *,
    kernel_initializer: str | dict | keras.initializers.Initializer = CELL_INITIALIZER,
):
    """Auto-DeepLab's found network without its head: the stem and the 12 cells of `PATH`.

    Reference: Liu et al., CVPR 2019, figure 3 (left); tensorflow/models
    `research/deeplab/core/nas_network.py` (`hnasnet`, `_build_nas_base`, `_nas_stem`).

    Args:
        images: the preprocessed images (2x / 255 − 1).
        filter_multiplier: F (`FILTER_MULTIPLIERS`): a level-L cell's operations have F · 2^L
            filters and its output 5 · F · 2^L channels.
        kernel_initializer: the kernels' initializer.

    Returns:
        `(features, endpoints)`: cell 11's output after a ReLU (1/8, 10 · F channels), and the
        release's endpoints by name, `"Stem"` (1/4, 128 channels) and `"Cell_0"` …
        `"Cell_11"`, the cells' outputs without activation.

    """
    if int(filter_multiplier) != filter_multiplier or filter_multiplier < 1:
        raise ValueError(f"filter_multiplier must be positive, received {filter_multiplier!r}.")

    # stem: conv0 1/2, conv1 1/2 (its BN output is cell 0's previous state), conv2 1/4.
    x = images
    outputs = []
    for index, (filters, stride) in enumerate(zip(STEM_FILTERS, (2, 1, 2), strict=True)):
        if index > 0:
            x = keras.layers.ReLU(name=f"conv{index - 1}_relu")(x)
        x = _conv_same(x, filters, 3, stride, f"conv{index}", kernel_initializer)
        x = _batch_norm(x, f"conv{index}_bn")
        if index > 0:
            outputs.append(x)
    levels = [-1, 0]
    endpoints = {"Stem": x}

    # cells: level L at 1/(4 · 2^L), F · 2^L filters.
    for number, level in enumerate(PATH):
        level_change = level - levels[-1]
        x = nas_cell(
            x,
            outputs[-2],
            filter_multiplier * 2**level,
            level_change=level_change,
            resize_previous=level_change == -1 or levels[-2] != levels[-1],
            name=f"cell_{number}",
            kernel_initializer=kernel_initializer,
        )
        endpoints[f"Cell_{number}"] = x
        outputs.append(x)
        levels.append(level)
    features = keras.layers.ReLU(name=f"cell_{len(PATH) - 1}_relu_output")(x)
    return features, endpoints


def AutoDeepLab(
    num_classes: int = 19,
    *,
    variant: str = "S",
    weights: str | None = None,
    input_shape: tuple = (None, None, 3),
    kernel_initializer: str | keras.initializers.Initializer | None = None,
    name: str = "auto-deeplab",
) -> keras.Model:
    """Builds Auto-DeepLab-S, -M or -L: the found network with ASPP and the v3+ decoder.

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32; the
    scaling to [−1, 1] is inside the model. See the module docstring for the net.

    Parameters for 19 classes, trainable (batch normalizations' γ and β counted, their moving
    statistics not): 10,147,427 (S), 21,622,451 (M), 44,424,691 (L), the paper's 10.15 M,
    21.62 M and 44.42 M: stem and cells 7,030,832 / 17,612,096 / 39,222,656; ASPP on 10 · F
    channels 1,815,552 / 2,706,432 / 3,894,272; decoder on 5 · F channels 1,296,160 /
    1,299,040 / 1,302,880; logits 256 · 19 + 19 = 4,883.

    Reference: Liu et al., CVPR 2019, section 5 and table 2.

    Args:
        num_classes: number of classes scored (19 for Cityscapes).
        variant: `"S"`, `"M"` or `"L"` (F = 20, 32, 48: `FILTER_MULTIPLIERS`).
        weights: `None` (random weights; the paper trains from scratch and released none) or the
            path of a Keras weights file of this net (`model.save_weights`).
        input_shape: `(height, width, 3)`; `None` for sizes that vary. Crops of 4k + 1 pixels
            (769, 1025 × 2049) are those the release runs at.
        kernel_initializer: the kernels of every convolution; `None` for the release's (module
            docstring). `"zeros"` builds fast a net whose weights are loaded next.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = AutoDeepLab(num_classes=2, input_shape=(65, 65, 3), kernel_initializer="zeros")
    >>> model.output.shape, model.get_layer("cell_11_cell_output").output.shape
    ((None, 65, 65, 2), (None, 9, 9, 200))
    """
    check_sizes(input_shape, num_classes=num_classes)
    if variant not in FILTER_MULTIPLIERS:
        raise ValueError(
            f"AutoDeepLab's variant must be one of {tuple(FILTER_MULTIPLIERS)}; received "
            f"{variant!r}."
        )
    check_weights_file(weights, "no trained Auto-DeepLab was released")

    # data: RGB in [0, 255] → [−1, 1].
    images = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(2 / 255, offset=-1, name="preprocessing")(images)

    # stem: 1/4; cells: 1/4 … 1/32, ending at 1/8.
    features, endpoints = _hnasnet(
        x, FILTER_MULTIPLIERS[variant], kernel_initializer=kernel_initializer or CELL_INITIALIZER
    )

    # ASPP on cell 11: 1/8.
    x = aspp(
        features, ASPP_RATES, PAPER_ASPP, kernel_initializer=kernel_initializer or "glorot_uniform"
    )

    # decoder with cell 2, logits: 1/4.
    logits = deeplab_v3_plus_decoder(
        x, endpoints[DECODER_LOW_LEVEL], num_classes, kernel_initializer=kernel_initializer
    )

    # resize_bilinear(align_corners=True) to the image: 1/1.
    logits = CaffeInterp(dtype="float32", name="upsampling")([logits, images])
    model = keras.Model(images, logits, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model
