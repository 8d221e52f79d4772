"""FCN-32s, FCN-16s, FCN-8s and the at-once FCN-8s on a VGG16 backbone.

The four nets are one construction driven by a table (`FCNVariant` rows): VGG16's convolutions
(`keras_fcn.backbones.vgg16`), fc6/fc7 as convolutions that keep the classifier's weights ("net
surgery"), a 1×1 `score_fr`, and zero or more skip connections that add the scores of pool4 and
pool3 to the 2× upsampled coarser scores, before a last frozen bilinear upsampling to the input
size. Layer names follow the original Caffe nets (`voc-fcn*/net.py`).

The released nets of other datasets are variations of the same builder: several heads on one
trunk (SIFT Flow's semantic and geometric classes, `num_classes={"sem": 33, "geo": 3}`) and
several input streams fused at the scores (NYUDv2's colour and HHA, `streams=`), named as their
Caffe nets (`siftflow-fcn*/net.py`, `nyud-fcn32s-color-hha/net.py`).

Two geometries take the same weights: `"original"` is the Caffe net exactly (pad 100 before
conv1_1, pools that round up, a 7×7 valid fc6, crops at fixed offsets); `"aligned"` pads the
input to a multiple of 32 and uses `same` convolutions throughout, so that every score map sits
on the pixel grid, at about 1.6× fewer FLOPs.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation",
CVPR 2015 (arXiv:1411.4038); Shelhamer, Long & Darrell, PAMI 2016 (arXiv:1605.06211).
"""

import dataclasses
from collections.abc import Mapping, Sequence

import keras

from keras_fcn.backbones.preprocessing import IMAGENET_MEAN_BGR
from keras_fcn.backbones.registry import BACKBONES
from keras_fcn.backbones.vgg16 import (
    FC_UNITS,
    vgg16_classifier,
    vgg16_fully_connected,
)
from keras_fcn.layers import BilinearUpsampling, CropToReference, PadToMultiple
from keras_fcn.models.inputs import check_sizes, image_input

GEOMETRIES = ("original", "aligned")
"""`"original"`: the Caffe geometry (pad 100, fixed crops); `"aligned"`: pad to a multiple of 32."""

ORIGINAL_PADDING = 100
"""Zero padding of conv1_1 in the original nets, so that any input survives five poolings and a
7×7 valid fc6."""

OUTPUT_STRIDE = 32
"""Downsampling factor from the input to pool5 and score_fr."""


@dataclasses.dataclass(frozen=True)
class Skip:
    """One skip connection: the scores of a pooling layer added to the 2× upsampled scores."""

    tap: str
    """The backbone's pyramid level tapped (`"P4"`: pool4, 1/16)."""
    name: str
    """Caffe name of that pooling layer, which names the layers built on it."""
    upsampler: str
    """Name of the 2× upsampler whose output the skip is fused with."""
    crop_offset: int
    """Offset of the crop of the skip's scores in the original geometry."""
    at_once_scale: float
    """Fixed scale of the pooled features in the at-once FCN-8s."""


SKIPS = (
    Skip("P4", "pool4", "upscore2", crop_offset=5, at_once_scale=0.01),
    Skip("P3", "pool3", "upscore_pool4", crop_offset=9, at_once_scale=0.0001),
)
"""The skips in the order FCN-16s and FCN-8s add them: pool4 (1/16), then pool3 (1/8)."""


@dataclasses.dataclass(frozen=True)
class FCNVariant:
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


FCN32S = FCNVariant(num_skips=0, upsampler="upscore", crop_offset=19)
FCN16S = FCNVariant(num_skips=1, upsampler="upscore16", crop_offset=27)
FCN8S = FCNVariant(num_skips=2, upsampler="upscore8", crop_offset=31)
FCN8S_AT_ONCE = FCNVariant(num_skips=2, upsampler="upscore8", crop_offset=31, scale_skips=True)


@dataclasses.dataclass(frozen=True)
class Stream:
    """One input of an FCN and the VGG16 that reads it, from conv1_1 to fc7.

    A net has one stream (the VOC, PASCAL-Context and SIFT Flow nets) or several whose scores
    are averaged (the NYUDv2 late-fusion net, `nyud-fcn32s-color-hha`: one stream reads colour,
    one HHA).

    Args:
        name: the input's name; in a net of several streams also the suffix of the stream's
            layer names, as in the Caffe net (`conv1_1color`, `score_frhha`; keras.applications
            names here: `block1_conv1color`).
        mean: the mean the stream's weights expect, BGR (or the input's own channel order when
            `reverse_channels` is `False`).
        reverse_channels: whether the input's RGB is flipped to BGR before the mean is
            subtracted; `False` for HHA images, which the original nets read as stored.
    """

    name: str = "image"
    mean: tuple[float, float, float] = IMAGENET_MEAN_BGR
    reverse_channels: bool = True


def _score(features, num_classes: int, name: str):
    """A 1×1 scoring convolution, zero-initialised as the original's filler-less layers."""
    return keras.layers.Conv2D(
        num_classes, 1, kernel_initializer="zeros", bias_initializer="zeros", name=name
    )(features)


def _upsample(scores, num_classes: int, stride: int, geometry: str, name: str):
    """A frozen, bias-free transposed convolution initialised to bilinear interpolation."""
    return keras.layers.Conv2DTranspose(
        num_classes,
        kernel_size=2 * stride,
        strides=stride,
        padding="valid" if geometry == "original" else "same",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        trainable=False,
        name=name,
    )(scores)


def _heads(num_classes: int | Mapping[str, int]) -> dict[str, int]:
    """Classes per head, keyed by the suffix of the head's layer names (`""` for one head)."""
    heads = (
        {f"_{head}": classes for head, classes in num_classes.items()}
        if isinstance(num_classes, Mapping)
        else {"": num_classes}
    )
    if not heads or any(int(classes) != classes or classes < 1 for classes in heads.values()):
        raise ValueError(
            "num_classes must be a positive integer, or a mapping from head names to positive "
            f"integers ({{'sem': 33, 'geo': 3}}); received {num_classes!r}."
        )
    return {suffix: int(classes) for suffix, classes in heads.items()}


def build_fcn(
    variant: FCNVariant,
    num_classes: int | Mapping[str, int] = 21,
    *,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    fc_units: int = FC_UNITS,
    dropout: float = 0.5,
    geometry: str = "original",
    mean: tuple[float, float, float] | None = None,
    streams: Sequence[Stream] | None = None,
    kernel_initializer: str | None = None,
    name: str = "fcn",
) -> keras.Model:
    """Builds one FCN of the family table (`FCN32S`, `FCN16S`, `FCN8S`, `FCN8S_AT_ONCE`).

    See `FCN8s` for the arguments; `variant` picks the row of the table and `mean` (BGR) is the
    mean the weights expect, subtracted inside the model (the original Caffe models' differs from
    keras.applications'). Two variations of the released nets are options:

    - several heads on one trunk (the SIFT Flow nets: 33 semantic and 3 geometric classes):
      `num_classes={"sem": 33, "geo": 3}` gives every layer after fc7 one copy per head, named
      with its suffix as in the Caffe net (`score_fr_sem`, `upscore2_sem`, `score_pool4_semc`,
      ...), and the model returns a dict of logits, `{"score_sem": ..., "score_geo": ...}`.
    - several input streams (the NYUDv2 late-fusion net): `streams=(Stream("color", ...),
      Stream("hha", ...))` builds one VGG16 and `score_fr` per stream, named with the stream's
      suffix (`score_frcolor`), averages their scores (`score_fused`, Caffe's `Eltwise` SUM
      with coefficients 1/n), then upsamples once; the model takes a dict of images by stream
      name and crops to the first. Only FCN-32s has a late-fusion release, so several streams
      take no skips. `mean` is then each stream's own.

    `kernel_initializer` sets the backbone's and fc6/fc7's kernels when `weights` is `None`:
    `None` is He initialisation; `"zeros"` skips drawing 134 million random numbers (seconds, and
    twice the weights' memory) for a net whose weights are loaded next, as `from_preset` does.

    Example:

    >>> model = build_fcn(FCN16S, num_classes=2, weights=None, fc_units=64)
    >>> [layer.name for layer in model.layers if layer.name.startswith("upscore")]
    ['upscore2', 'upscore16']
    >>> sift_flow = build_fcn(FCN8S, {"sem": 33, "geo": 3}, weights=None, fc_units=8)
    >>> {name: logits.shape for name, logits in sift_flow(np.zeros((1, 37, 53, 3))).items()}
    {'score_sem': TensorShape([1, 37, 53, 33]), 'score_geo': TensorShape([1, 37, 53, 3])}
    """
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, received {geometry!r}.")
    heads = _heads(num_classes)
    check_sizes(input_shape, fc_units=fc_units)
    if streams is not None and mean is not None:
        raise ValueError("Pass either mean or streams (each stream has its own mean), not both.")
    streams = tuple(streams or (Stream(mean=IMAGENET_MEAN_BGR if mean is None else mean),))
    if len(streams) > 1 and (variant.num_skips or len(heads) > 1):
        raise ValueError(
            f"Several streams ({[stream.name for stream in streams]}) fuse at score_fr: they "
            "take FCN-32s (no skips) with one head, as nyud-fcn32s-color-hha does; received "
            f"{variant.num_skips} skips and {len(heads)} heads."
        )
    classifier = vgg16_classifier(weights)

    inputs, trunks = {}, []
    for stream in streams:
        suffix = stream.name if len(streams) > 1 else ""
        # data: RGB in [0, 255] → BGR minus the mean of the weights.
        images, features = image_input(
            input_shape,
            stream.mean,
            reverse_channels=stream.reverse_channels,
            name=stream.name,
            suffix=suffix,
        )
        inputs[stream.name] = images
        if geometry == "original":
            # conv1_1 pads 1 itself ("same"); 99 more make the original's pad 100.
            features = keras.layers.ZeroPadding2D(ORIGINAL_PADDING - 1, name="pad100" + suffix)(
                features
            )
        else:
            features = PadToMultiple(OUTPUT_STRIDE, name="pad_to_stride" + suffix)(features)

        # conv1_1 … pool5: 1/32.
        taps = BACKBONES["vgg16"](
            features, weights=classifier, suffix=suffix, kernel_initializer=kernel_initializer
        )

        # fc6, fc7: the classifier as convolutions, 1/32. Only fc layers of the classifier's
        # width take its weights; narrower ones start random.
        fc7 = vgg16_fully_connected(
            taps["P5"],
            classifier if fc_units == FC_UNITS else None,
            units=fc_units,
            padding="valid" if geometry == "original" else "same",
            dropout=dropout,
            suffix=suffix,
            kernel_initializer=kernel_initializer or "he_normal",
        )
        trunks.append((suffix, taps, fc7))
    reference = next(iter(inputs.values()))

    outputs = {}
    for head, classes in heads.items():
        scores = [_score(fc7, classes, f"score_fr{head}{suffix}") for suffix, _, fc7 in trunks]
        scores = scores[0] if len(scores) == 1 else keras.layers.Average(name="score_fused")(scores)

        # Skips, coarse to fine: upsample 2×, add the scores of pool4 (1/16), then pool3 (1/8).
        taps = trunks[0][1]
        for skip in SKIPS[: variant.num_skips]:
            scores = _upsample(scores, classes, 2, geometry, skip.upsampler + head)
            pooled = taps[skip.tap]
            if variant.scale_skips:
                pooled = keras.layers.Rescaling(
                    skip.at_once_scale, name=f"scale_{skip.name}{head}"
                )(pooled)
            skip_scores = _score(pooled, classes, f"score_{skip.name}{head}")
            offset = skip.crop_offset if geometry == "original" else 0
            skip_scores = CropToReference(offset, name=f"score_{skip.name}{head}c")(
                [skip_scores, scores]
            )
            scores = keras.layers.Add(name=f"fuse_{skip.name}{head}")([scores, skip_scores])

        # Last upsampling to the padded input, then crop to the input itself: 1/1.
        scores = _upsample(scores, classes, variant.stride, geometry, variant.upsampler + head)
        offset = variant.crop_offset if geometry == "original" else 0
        outputs["score" + head] = CropToReference(offset, dtype="float32", name="score" + head)(
            [scores, reference]
        )
    return keras.Model(
        reference if len(inputs) == 1 else inputs,
        outputs["score"] if len(outputs) == 1 else outputs,
        name=name,
    )


def FCN32s(num_classes: int = 21, **options) -> keras.Model:
    """Builds FCN-32s: VGG16 scores at 1/32, upsampled 32× (`upscore`, kernel 64) in one step.

    See `FCN8s` for the arguments and behaviour.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.1.

    Example:

    >>> model = FCN32s(num_classes=2, weights=None, fc_units=64)
    >>> model(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 37, 53, 2])
    """
    return build_fcn(FCN32S, num_classes, **{"name": "fcn32s", **options})


def FCN16s(num_classes: int = 21, **options) -> keras.Model:
    """Builds FCN-16s: FCN-32s's scores upsampled 2× (`upscore2`) plus pool4's, then 16×.

    See `FCN8s` for the arguments and behaviour. The paper trains it from a trained FCN-32s
    (`keras_fcn.transfer_weights`).

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.2.

    Example:

    >>> model = FCN16s(num_classes=2, weights=None, fc_units=64)
    >>> model.get_layer("upscore16").strides
    (16, 16)
    """
    return build_fcn(FCN16S, num_classes, **{"name": "fcn16s", **options})


def FCN8s(num_classes: int = 21, **options) -> keras.Model:
    """Builds FCN-8s: FCN-16s's fused scores upsampled 2× plus pool3's, then 8× (`upscore8`).

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32 (also under a
    mixed-precision policy). VGG preprocessing is inside the model. The scoring layers start at
    zero and the upsamplers are frozen bilinear interpolation, as in the original; unfreeze one
    with `model.get_layer("upscore8").trainable = True` to learn it.

    `geometry="original"` is the Caffe geometry: 100 pixels of zero padding before conv1_1, pools
    that round up, a 7×7 valid fc6 and fixed crops. `geometry="aligned"` pads the input to a
    multiple of 32 and uses `same` convolutions throughout, about 1.6× fewer FLOPs at 500×500;
    the weights are the same, the outputs close but not equal.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.2; Shelhamer, Long & Darrell,
    PAMI 2016.

    Args:
        num_classes: number of classes scored, background included (21 for PASCAL VOC).
        **options: `build_fcn`'s keyword arguments:
            `input_shape`: `(height, width, 3)`; `None` for sizes that vary.
            `weights`: `"imagenet"` (keras.applications' VGG16 classifier, downloaded on first
            use), `None` (random weights: He initialisation, with conv1_1 scaled for
            pixel-valued inputs, so the net trains from scratch), or the path of a VGG16
            classifier weights file such as `vgg16_weights_tf_dim_ordering_tf_kernels.h5`. The
            original trained Caffe nets load with `keras_fcn.from_preset`.
            `fc_units`: width of fc6 and fc7 (4096). Only the paper's 4096 takes the
            classifier's fc weights; narrower layers start random, for quick experiments.
            `dropout`: dropout rate after fc6 and fc7 (0.5).
            `geometry`: `"original"` (default) or `"aligned"`.
            `name`: the model's name (`"fcn8s"`).
            `mean`, `streams`, `kernel_initializer`: see `build_fcn`.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = FCN8s(num_classes=21)  # doctest: +SKIP
    >>> model = FCN8s(num_classes=2, weights=None, fc_units=64)
    >>> model(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 37, 53, 2])
    """
    return build_fcn(FCN8S, num_classes, **{"name": "fcn8s", **options})


def FCN8sAtOnce(num_classes: int = 21, **options) -> keras.Model:
    """Builds the at-once FCN-8s: FCN-8s with pool4 scaled by 0.01 and pool3 by 0.0001.

    The fixed scales let all skips learn together from VGG16 in one stage instead of the staged
    32s → 16s → 8s training. See `FCN8s` for the arguments and behaviour.

    Reference: Shelhamer, Long & Darrell, PAMI 2016, section 4.1.

    Example:

    >>> model = FCN8sAtOnce(num_classes=2, weights=None, fc_units=64)
    >>> model.get_layer("scale_pool3").scale
    0.0001
    """
    return build_fcn(FCN8S_AT_ONCE, num_classes, **{"name": "fcn8s-atonce", **options})
