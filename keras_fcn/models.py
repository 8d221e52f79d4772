"""FCN-32s, FCN-16s, FCN-8s and the at-once FCN-8s on a VGG16 backbone.

The four nets are one construction driven by a table (`VARIANTS`): the VGG16 conv stack of
`keras.applications`, fc6/fc7 as convolutions that keep the classifier's weights ("net
surgery"), a 1×1 `score_fr`, and zero or more skip connections that add the scores of pool4 and
pool3 to the 2× upsampled coarser scores, before a last frozen bilinear upsampling to the input
size. Layer names follow the original Caffe nets (`voc-fcn*/net.py`).

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation",
CVPR 2015 (arXiv:1411.4038); Shelhamer, Long & Darrell, PAMI 2016 (arXiv:1605.06211).
"""

import dataclasses
import os

import keras
import numpy as np

from keras_fcn.backbones.preprocessing import VGGPreprocessing
from keras_fcn.initializers import BilinearUpsampling
from keras_fcn.layers import CropToReference, MatmulConv2D, PadToMultiple

PADDINGS = ("original", "aligned")
"""`"original"`: the Caffe geometry (pad 100, fixed crops); `"aligned"`: pad to a multiple of 32."""

ORIGINAL_PADDING = 100
"""Zero padding of conv1_1 in the original nets, so that any input survives five poolings and a
7×7 valid fc6."""

OUTPUT_STRIDE = 32
"""Downsampling factor from the input to pool5 and score_fr."""

BACKBONE_OUTPUT = "block5_pool"
"""keras.applications VGG16's pool5, the input of fc6."""

PAPER_FC_UNITS = 4096
"""Width of fc6/fc7 in VGG16 and the paper; only this width can take the classifier's weights."""

PIXEL_STD = 58.0
"""Standard deviation of ImageNet pixel values (0–255 scale), for initialising conv1_1."""


@dataclasses.dataclass(frozen=True)
class Skip:
    """One skip connection: the scores of a pooling layer added to the 2× upsampled scores."""

    tap: str
    """Name of the VGG16 layer tapped (keras.applications naming)."""
    name: str
    """Caffe name of that pooling layer, which names the layers built on it."""
    upsampler: str
    """Name of the 2× upsampler whose output the skip is fused with."""
    crop_offset: int
    """Offset of the crop of the skip's scores in the original geometry."""
    at_once_scale: float
    """Fixed scale of the pooled features in the at-once FCN-8s."""


SKIPS = (
    Skip("block4_pool", "pool4", "upscore2", crop_offset=5, at_once_scale=0.01),
    Skip("block3_pool", "pool3", "upscore_pool4", crop_offset=9, at_once_scale=0.0001),
)
"""The skips in the order FCN-16s and FCN-8s add them: pool4 (1/16), then pool3 (1/8)."""


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of the FCN family: how many skips, and the last upsampler."""

    num_skips: int
    upsampler: str
    """Name of the last upsampler, whose stride is `OUTPUT_STRIDE / 2**num_skips`."""
    crop_offset: int
    """Offset of the final crop to the input in the original geometry."""
    scale_skips: bool = False
    """Whether pooled features are scaled before scoring (the at-once net)."""

    @property
    def stride(self) -> int:
        return OUTPUT_STRIDE // 2**self.num_skips


VARIANTS = {
    "fcn32s": Variant(num_skips=0, upsampler="upscore", crop_offset=19),
    "fcn16s": Variant(num_skips=1, upsampler="upscore16", crop_offset=27),
    "fcn8s": Variant(num_skips=2, upsampler="upscore8", crop_offset=31),
    "fcn8s_atonce": Variant(num_skips=2, upsampler="upscore8", crop_offset=31, scale_skips=True),
}
"""The four nets of the paper, by name."""


def convolutionalize(classifier: keras.Model) -> dict[str, list[np.ndarray]]:
    """Casts VGG16's fully connected layers fc1 and fc2 as the convolutions fc6 and fc7.

    This is the paper's "net surgery": fc1 sees the flattened 7×7×512 pool5, so its
    `(25088, 4096)` kernel is exactly a 7×7 convolution kernel `(7, 7, 512, 4096)` in Keras' HWIO
    layout (Flatten is row-major over height, width, channels); fc2's `(4096, 4096)` kernel is a
    1×1 convolution. Biases are unchanged. The 1000-way `predictions` layer is dropped.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 3.1.

    Args:
        classifier: `keras.applications.VGG16(include_top=True)`.

    Returns:
        `{"fc6": [kernel, bias], "fc7": [kernel, bias]}` ready for `Conv2D.set_weights`.

    Example:

    >>> vgg = keras.applications.VGG16(weights=None)
    >>> convolutionalize(vgg)["fc6"][0].shape
    (7, 7, 512, 4096)
    """
    pool5_shape = tuple(classifier.get_layer(BACKBONE_OUTPUT).output.shape[1:])
    weights = {}
    for dense_name, conv_name, input_shape in (("fc1", "fc6", pool5_shape), ("fc2", "fc7", None)):
        kernel, bias = classifier.get_layer(dense_name).get_weights()
        input_shape = input_shape or (1, 1, kernel.shape[0])
        weights[conv_name] = [kernel.reshape(*input_shape, kernel.shape[1]), bias]
    return weights


def _load_vgg16(weights: str | None, fc_units: int) -> keras.Model:
    """keras.applications' VGG16, with its classifier whenever weights are loaded."""
    if weights is None:
        return keras.applications.VGG16(include_top=False, weights=None)
    if weights != "imagenet" and not os.path.exists(weights):
        raise ValueError(
            f"weights must be 'imagenet', None or the path of a Keras VGG16 classifier weights "
            f"file (include_top=True); no file exists at {weights!r}."
        )
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
    scale = 2.0 / PIXEL_STD**2 if layer_name == "block1_conv1" else 2.0
    return keras.initializers.VarianceScaling(scale, mode="fan_in", distribution="truncated_normal")


def _vgg16_features(inputs, vgg16: keras.Model, pretrained: bool) -> dict:
    """Applies VGG16's conv stack, pools rounding up (Caffe's ceil mode); returns every output.

    keras.applications' pools round down (`padding="valid"`); `"same"` pooling with a 2×2 window
    and stride 2 equals Caffe's ceil mode. Convolutions keep their names, and their weights when
    `pretrained`; otherwise they start from `_random_kernel_initializer`.
    """
    outputs, features = {}, inputs
    for layer in vgg16.layers[1:]:
        config = layer.get_config()
        if isinstance(layer, keras.layers.MaxPooling2D):
            features = keras.layers.MaxPooling2D.from_config({**config, "padding": "same"})(
                features
            )
        elif pretrained:
            conv = keras.layers.Conv2D.from_config(config)
            features = conv(features)
            conv.set_weights(layer.get_weights())
        else:
            initializer = _random_kernel_initializer(layer.name)
            features = keras.layers.Conv2D.from_config(
                {**config, "kernel_initializer": keras.initializers.serialize(initializer)}
            )(features)
        outputs[layer.name] = features
        if layer.name == BACKBONE_OUTPUT:
            return outputs
    raise ValueError(f"The VGG16 model has no layer named {BACKBONE_OUTPUT!r}.")


def _score(features, num_classes: int, name: str):
    """A 1×1 scoring convolution, zero-initialised as the original's filler-less layers."""
    return keras.layers.Conv2D(
        num_classes, 1, kernel_initializer="zeros", bias_initializer="zeros", name=name
    )(features)


def _upsample(scores, num_classes: int, stride: int, padding: str, name: str):
    """A frozen, bias-free transposed convolution initialised to bilinear interpolation."""
    return keras.layers.Conv2DTranspose(
        num_classes,
        kernel_size=2 * stride,
        strides=stride,
        padding="valid" if padding == "original" else "same",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        trainable=False,
        name=name,
    )(scores)


def build_fcn(
    variant: str,
    num_classes: int = 21,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = PAPER_FC_UNITS,
    dropout: float = 0.5,
    padding: str = "original",
    name: str | None = None,
) -> keras.Model:
    """Builds one FCN of `VARIANTS` (`"fcn32s"`, `"fcn16s"`, `"fcn8s"`, `"fcn8s_atonce"`).

    See `FCN8s` for the arguments; `variant` picks the row of the table.

    Example:

    >>> model = build_fcn("fcn16s", num_classes=2, weights=None, fc_units=64)
    """
    if variant not in VARIANTS:
        raise ValueError(f"Unknown FCN variant {variant!r}; expected one of {sorted(VARIANTS)}.")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, received {padding!r}.")
    if num_classes < 1 or fc_units < 1:
        raise ValueError(
            f"num_classes and fc_units must be positive, received {num_classes} and {fc_units}."
        )
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (height, width, 3) for RGB, received {input_shape}.")
    spec = VARIANTS[variant]
    vgg16 = _load_vgg16(weights, fc_units)

    # data: RGB in [0, 255] → BGR minus the ImageNet mean.
    images = keras.Input(shape=input_shape, name="image")
    features = VGGPreprocessing(name="preprocessing")(images)
    if padding == "original":
        # conv1_1 pads 1 itself ("same"); 99 more make the original's pad 100.
        features = keras.layers.ZeroPadding2D(ORIGINAL_PADDING - 1, name="pad100")(features)
    else:
        features = PadToMultiple(OUTPUT_STRIDE, name="pad_to_stride")(features)
    conv_padding = "valid" if padding == "original" else "same"

    # conv1_1 … pool5: 1/32.
    taps = _vgg16_features(features, vgg16, pretrained=weights is not None)

    # fc6, fc7: the classifier as convolutions, 1/32. fc6 runs as one matrix product: oneDNN's
    # convolution reaches a quarter of the matmul rate on this 7×7 kernel over a small map.
    fc6 = MatmulConv2D(
        fc_units,
        7,
        padding=conv_padding,
        activation="relu",
        kernel_initializer="he_normal",
        name="fc6",
    )
    fc7 = keras.layers.Conv2D(
        fc_units, 1, activation="relu", kernel_initializer="he_normal", name="fc7"
    )
    features = fc6(taps[BACKBONE_OUTPUT])
    features = keras.layers.Dropout(dropout, name="drop6")(features)
    features = fc7(features)
    features = keras.layers.Dropout(dropout, name="drop7")(features)
    if weights is not None and fc_units == PAPER_FC_UNITS:
        surgery = convolutionalize(vgg16)
        fc6.set_weights(surgery["fc6"])
        fc7.set_weights(surgery["fc7"])
    scores = _score(features, num_classes, "score_fr")

    # Skips, coarse to fine: upsample 2×, add the scores of pool4 (1/16), then pool3 (1/8).
    for skip in SKIPS[: spec.num_skips]:
        scores = _upsample(scores, num_classes, 2, padding, skip.upsampler)
        pooled = taps[skip.tap]
        if spec.scale_skips:
            pooled = keras.layers.Rescaling(skip.at_once_scale, name=f"scale_{skip.name}")(pooled)
        skip_scores = _score(pooled, num_classes, f"score_{skip.name}")
        offset = skip.crop_offset if padding == "original" else 0
        skip_scores = CropToReference(offset, name=f"score_{skip.name}c")([skip_scores, scores])
        scores = keras.layers.Add(name=f"fuse_{skip.name}")([scores, skip_scores])

    # Last upsampling to the padded input, then crop to the input itself: 1/1.
    scores = _upsample(scores, num_classes, spec.stride, padding, spec.upsampler)
    offset = spec.crop_offset if padding == "original" else 0
    logits = CropToReference(offset, dtype="float32", name="score")([scores, images])
    return keras.Model(images, logits, name=name or variant)


def FCN32s(
    num_classes: int = 21,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = PAPER_FC_UNITS,
    dropout: float = 0.5,
    padding: str = "original",
    name: str = "fcn32s",
) -> keras.Model:
    """Builds FCN-32s: VGG16 scores at 1/32, upsampled 32× (`upscore`, kernel 64) in one step.

    See `FCN8s` for the arguments and behaviour.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.1.

    Example:

    >>> model = FCN32s(num_classes=2, weights=None, fc_units=64)
    >>> model(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 37, 53, 2])
    """
    return build_fcn("fcn32s", num_classes, input_shape, weights, fc_units, dropout, padding, name)


def FCN16s(
    num_classes: int = 21,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = PAPER_FC_UNITS,
    dropout: float = 0.5,
    padding: str = "original",
    name: str = "fcn16s",
) -> keras.Model:
    """Builds FCN-16s: FCN-32s's scores upsampled 2× (`upscore2`) plus pool4's, then 16×.

    See `FCN8s` for the arguments and behaviour. The paper trains it from a trained FCN-32s
    (`transfer_weights`).

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.2.

    Example:

    >>> model = FCN16s(num_classes=2, weights=None, fc_units=64)
    """
    return build_fcn("fcn16s", num_classes, input_shape, weights, fc_units, dropout, padding, name)


def FCN8s(
    num_classes: int = 21,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = PAPER_FC_UNITS,
    dropout: float = 0.5,
    padding: str = "original",
    name: str = "fcn8s",
) -> keras.Model:
    """Builds FCN-8s: FCN-16s's fused scores upsampled 2× plus pool3's, then 8× (`upscore8`).

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32 (also under a
    mixed-precision policy). VGG preprocessing is inside the model. The scoring layers start at
    zero and the upsamplers are frozen bilinear interpolation, as in the original; unfreeze one
    with `model.get_layer("upscore8").trainable = True` to learn it.

    `padding="original"` is the Caffe geometry: 100 pixels of zero padding before conv1_1, pools
    that round up, a 7×7 valid fc6 and fixed crops. `padding="aligned"` pads the input to a
    multiple of 32 and uses `same` convolutions throughout, about 1.6× fewer FLOPs at 500×500;
    the weights are the same, the outputs close but not equal.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.2; Shelhamer, Long & Darrell,
    PAMI 2016.

    Args:
        num_classes: number of classes scored, background included (21 for PASCAL VOC).
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        weights: `"imagenet"` (keras.applications' VGG16 classifier, downloaded on first use),
            `None` (random weights: He initialisation, with conv1_1 scaled for pixel-valued
            inputs, so the net trains from scratch), or the path of a VGG16 classifier weights
            file such as `vgg16_weights_tf_dim_ordering_tf_kernels.h5`.
        fc_units: width of fc6 and fc7. Only the paper's 4096 takes the classifier's fc weights;
            narrower layers start random (He initialisation), for quick experiments and tests.
        dropout: dropout rate after fc6 and fc7.
        padding: `"original"` or `"aligned"`.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = FCN8s(num_classes=21)  # ImageNet weights, downloaded once
    >>> model = FCN8s(num_classes=2, weights=None, fc_units=64)
    >>> model(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 37, 53, 2])
    """
    return build_fcn("fcn8s", num_classes, input_shape, weights, fc_units, dropout, padding, name)


def FCN8sAtOnce(
    num_classes: int = 21,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = PAPER_FC_UNITS,
    dropout: float = 0.5,
    padding: str = "original",
    name: str = "fcn8s_atonce",
) -> keras.Model:
    """Builds the at-once FCN-8s: FCN-8s with pool4 scaled by 0.01 and pool3 by 0.0001.

    The fixed scales let all skips learn together from VGG16 in one stage instead of the staged
    32s → 16s → 8s training. See `FCN8s` for the arguments and behaviour.

    Reference: Shelhamer, Long & Darrell, PAMI 2016, section 4.1.

    Example:

    >>> model = FCN8sAtOnce(num_classes=2, weights=None, fc_units=64)
    """
    return build_fcn(
        "fcn8s_atonce", num_classes, input_shape, weights, fc_units, dropout, padding, name
    )


@dataclasses.dataclass
class WeightTransfer:
    """What `transfer_weights` copied, by layer name."""

    copied: list[str]
    """Layers whose weights were copied."""
    shape_mismatch: list[str]
    """Layers present in both models whose weights differ in shape, left as they were."""


def transfer_weights(source: keras.Model, target: keras.Model) -> WeightTransfer:
    """Copies the weights of every layer that `source` and `target` share by name and shape.

    This is the paper's staged training: FCN-16s starts from a trained FCN-32s, FCN-8s from a
    trained FCN-16s. The backbone, fc6, fc7, `score_fr` and any shared skip layers carry over;
    new layers keep their initialisation (zero scores, bilinear upsamplers).

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.2.

    Args:
        source: the trained model.
        target: the model to initialise; modified in place.

    Returns:
        A `WeightTransfer` listing the copied layers and the same-named layers that differ in
        shape (for instance after a change of `num_classes`).

    Example:

    >>> fcn32s = FCN32s(num_classes=2, weights=None, fc_units=64)
    >>> fcn16s = FCN16s(num_classes=2, weights=None, fc_units=64)
    >>> transfer_weights(fcn32s, fcn16s).copied[-1]
    'score_fr'
    """
    source_layers = {layer.name: layer for layer in source.layers if layer.weights}
    transfer = WeightTransfer(copied=[], shape_mismatch=[])
    for layer in target.layers:
        if not layer.weights or layer.name not in source_layers:
            continue
        weights = source_layers[layer.name].get_weights()
        if [w.shape for w in weights] == [tuple(v.shape) for v in layer.weights]:
            layer.set_weights(weights)
            transfer.copied.append(layer.name)
        else:
            transfer.shape_mismatch.append(layer.name)
    return transfer


MODEL_BUILDERS = {
    "fcn32s": FCN32s,
    "fcn16s": FCN16s,
    "fcn8s": FCN8s,
    "fcn8s_atonce": FCN8sAtOnce,
}
"""Model builders by the names the CLI accepts."""
