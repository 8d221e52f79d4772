"""SegNet and SegNet-Basic: encoder–decoder nets that upsample with max-pooling indices.

SegNet answers FCN's learned deconvolutions over stored encoder maps with a mirrored decoder:
each encoder stage (convolutions, each followed by batch normalisation and ReLU, then a 2×2
max pooling that remembers its argmax positions) has a decoder stage that puts its input back
at those positions (`keras_fcn.layers.MaxUnpooling`, zeros elsewhere) and densifies the sparse
map with convolutions. The logits come out at full resolution; nothing is cropped or
interpolated.

Both nets are one construction driven by a table (`SegNetVariant` rows of `Stage`s), written
from SegNet-Tutorial's prototxts, whose layer names they keep:

- `SEGNET` (`Models/segnet_train.prototxt`): VGG16's 13 convolutions as the encoder (`conv1_1`
  … `conv5_3`, 3×3), pools `pool1` … `pool5`; decoder `upsample5`, `conv5_3_D`, `conv5_2_D`,
  `conv5_1_D`, …, `upsample1`, `conv1_2_D`, `conv1_1_D` with 512, 512, 512 | 512, 512, 256 |
  256, 256, 128 | 128, 64 | 64, K filters, BN and ReLU after all but `conv1_1_D`, which scores.
  The encoder's convolutions take the ImageNet weights of keras.applications' VGG16
  (`block1_conv1` → `conv1_1`, …, `block5_conv3` → `conv5_3`, `vgg16.CAFFE_CONV_NAMES`); the
  BN layers and the decoder start fresh.
- `SEGNET_BASIC` (`Models/segnet_basic_train.prototxt`): local response normalisation of the
  input (`norm`: `local_size` 5, `alpha` 1e-4, `beta` 0.75), four encoder stages of one 7×7
  convolution of 64 filters (`conv1` … `conv4`) and four decoder stages of one (`conv_decode4`
  … `conv_decode1`), with BN but **no ReLU in the decoder**, as in the prototxt and the paper;
  a 1×1 `conv_classifier` scores. 1,415,563 convolution parameters for 11 classes; trained from
  scratch.
- With `dropout` (0.5 in the Bayesian prototxts, `Models/bayesian_segnet_train.prototxt`,
  `bayesian_segnet_basic_train.prototxt`), dropout follows the central stages: `encdrop3` …
  `encdrop5` after pool3 … pool5 and `decdrop5` … `decdrop3` after the decoder stages 5 … 3
  (SegNet-Basic: stages 3 and 4). These are `MonteCarloDropout` layers, which
  `keras_fcn.predict_with_uncertainty` keeps on at inference while BN stays in inference mode.

Where the released code and the usual Keras defaults differ, the code is followed:

- input: SegNet-Tutorial feeds raw BGR pixels in [0, 255] (`DenseImageData` without a
  transform): the model flips RGB to BGR and subtracts no mean. BN after every encoder
  convolution removes a constant offset anyway;
- initialisation: Caffe's `msra` filler (He, `N(0, 2 / fan_in)`) for every convolution, zero
  biases; BN scale 1 and shift 0.001 (`scale_filler`, `shift_filler`), ε 1e-9 (caffe-segnet's
  `bn_layer.cpp`);
- odd sizes: the pools round up (360×480 → 180×240 → 90×120 → 45×60 → 23×30 → 12×15) and each
  unpooling restores the size of the map its stage pooled, as the prototxt's
  `upsample_h`/`upsample_w` (`pad_out_h` in SegNet-Basic) do.

Caffe's SegNet trains BN with batch statistics (`bn_mode: LEARN`) and, before testing,
recomputes each layer's mean and variance over the training set
(`Scripts/compute_bn_statistics.py`); Keras' `BatchNormalization` trains the same way and keeps
moving averages of the batch statistics (momentum 0.99), which inference uses instead.

Reference: Badrinarayanan, Kendall & Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder
Architecture for Image Segmentation", PAMI 2017 (arXiv:1511.00561), section 3; Kendall,
Badrinarayanan & Cipolla, "Bayesian SegNet", BMVC 2017 (arXiv:1511.02680); SegNet-Tutorial's
`Models/*.prototxt`.
"""

import dataclasses

import keras

from keras_fcn.backbones.vgg16 import BLOCKS, CAFFE_CONV_NAMES, CONV_NAMES, vgg16_classifier
from keras_fcn.layers import (
    LocalResponseNormalization,
    MaxPoolingWithIndices,
    MaxUnpooling,
    MonteCarloDropout,
)
from keras_fcn.models.inputs import check_sizes, image_input

RAW_BGR = (0.0, 0.0, 0.0)
"""The mean SegNet-Tutorial subtracts from its BGR input: none."""

BN_EPSILON = 1e-9
"""caffe-segnet's `var_eps_`, added to the variance by its `BN` layer."""

BN_SHIFT = 0.001
"""The prototxts' `shift_filler` value, BN's initial offset."""

BAYESIAN_DROPOUT = 0.5
"""The dropout ratio of the Bayesian prototxts."""

CLASSES = None
"""Marks the scoring convolution in a stage's decoder: its filters are the number of classes."""


@dataclasses.dataclass(frozen=True)
class Stage:
    """One encoder stage and the decoder stage that mirrors it, by the prototxt's layer names."""

    encoder: tuple[tuple[str, int], ...]
    """The encoder's convolutions `(name, filters)`, each followed by BN and ReLU."""
    pool: str
    """The pooling with indices that ends the stage."""
    upsample: str
    """The unpooling that starts the mirrored decoder stage, with this stage's indices."""
    decoder: tuple[tuple[str, int | None], ...]
    """The decoder's convolutions `(name, filters)`; `CLASSES` filters score (no BN, no ReLU)."""


@dataclasses.dataclass(frozen=True)
class SegNetVariant:
    """One row of the SegNet family: its stages and what differs between the prototxts."""

    stages: tuple[Stage, ...]
    """The stages from the input down (stage 1 pools first and is unpooled last)."""
    kernel_size: int
    """Side of every convolution but the classifier."""
    decoder_relu: bool
    """Whether the decoder's convolutions have a ReLU after their BN."""
    input_normalization: bool
    """Whether the input goes through local response normalisation (`norm`) first."""
    classifier: str | None
    """The 1×1 scoring convolution after the decoder, or `None` where the decoder scores."""
    dropout_stages: tuple[int, ...]
    """The stages (1-based) followed by `encdrop<n>` and `decdrop<n>` in the Bayesian nets."""


def _vgg16_stage(block: int) -> Stage:
    """SegNet's stage `block` (1–5): VGG16's block and its mirror, as in segnet_train.prototxt.

    The decoder runs the block's convolutions backwards; the last one narrows to the previous
    block's width (to the classes for block 1, where it scores).
    """
    filters, convs = BLOCKS[block - 1]
    narrowed = BLOCKS[block - 2][0] if block > 1 else CLASSES
    return Stage(
        encoder=tuple((f"conv{block}_{conv}", filters) for conv in range(1, convs + 1)),
        pool=f"pool{block}",
        upsample=f"upsample{block}",
        decoder=tuple(
            (f"conv{block}_{conv}_D", filters if conv > 1 else narrowed)
            for conv in range(convs, 0, -1)
        ),
    )


SEGNET = SegNetVariant(
    stages=tuple(_vgg16_stage(block) for block in range(1, len(BLOCKS) + 1)),
    kernel_size=3,
    decoder_relu=True,
    input_normalization=False,
    classifier=None,
    dropout_stages=(3, 4, 5),
)
"""SegNet (`segnet_train.prototxt`; Bayesian: `bayesian_segnet_train.prototxt`)."""

SEGNET_BASIC = SegNetVariant(
    stages=tuple(
        Stage(
            encoder=((f"conv{stage}", 64),),
            pool=f"pool{stage}",
            upsample=f"upsample{stage}",
            decoder=((f"conv_decode{stage}", 64),),
        )
        for stage in range(1, 5)
    ),
    kernel_size=7,
    decoder_relu=False,
    input_normalization=True,
    classifier="conv_classifier",
    dropout_stages=(3, 4),
)
"""SegNet-Basic (`segnet_basic_train.prototxt`; Bayesian: `bayesian_segnet_basic_train...`)."""


def _msra() -> keras.initializers.Initializer:
    """Caffe's `msra` filler: Gaussian weights of variance 2 / fan_in (He et al., ICCV 2015)."""
    return keras.initializers.VarianceScaling(2.0, mode="fan_in", distribution="untruncated_normal")


def _convolution(features, name: str, filters: int, kernel_size: int, *, relu: bool):
    """A convolution with bias, then BN (`<name>_bn`) and, if asked, ReLU (`relu…`)."""
    features = keras.layers.Conv2D(
        filters, kernel_size, padding="same", kernel_initializer=_msra(), name=name
    )(features)
    features = keras.layers.BatchNormalization(
        epsilon=BN_EPSILON,
        beta_initializer=keras.initializers.Constant(BN_SHIFT),
        name=f"{name}_bn",
    )(features)
    if relu:
        features = keras.layers.ReLU(name=name.replace("conv", "relu", 1))(features)
    return features


def _scores(features, name: str, num_classes: int, kernel_size: int):
    """The scoring convolution: no BN, no ReLU; float32 logits under any dtype policy."""
    return keras.layers.Conv2D(
        num_classes,
        kernel_size,
        padding="same",
        kernel_initializer=_msra(),
        dtype="float32",
        name=name,
    )(features)


def _load_vgg16_encoder(model: keras.Model, classifier: keras.Model) -> None:
    """Copies VGG16's 13 convolutions from the classifier into SegNet's encoder.

    keras.applications names them `block1_conv1` … `block5_conv3`, the prototxt `conv1_1` …
    `conv5_3`; kernels and biases keep their shapes.
    """
    for keras_name, caffe_name in zip(CONV_NAMES, CAFFE_CONV_NAMES, strict=True):
        model.get_layer(caffe_name).set_weights(classifier.get_layer(keras_name).get_weights())


def _encoder(features, variant: SegNetVariant, dropout: float):
    """Encoder, stage n: convolutions + BN + ReLU, pool n with indices: 1/2ⁿ.

    Returns the pooled features and, per stage, its features before pooling and the indices.
    """
    pooled = []
    for number, stage in enumerate(variant.stages, start=1):
        for conv_name, filters in stage.encoder:
            features = _convolution(features, conv_name, filters, variant.kernel_size, relu=True)
        encoder_features = features
        features, indices = MaxPoolingWithIndices(name=stage.pool)(features)
        pooled.append((encoder_features, indices))
        if dropout and number in variant.dropout_stages:
            features = MonteCarloDropout(dropout, name=f"encdrop{number}")(features)
    return features, pooled


def build_segnet(
    variant: SegNetVariant,
    num_classes: int = 11,
    *,
    input_shape: tuple = (None, None, 3),
    dropout: float = 0.0,
    name: str = "segnet",
) -> keras.Model:
    """Builds one net of the SegNet table (`SEGNET`, `SEGNET_BASIC`) with random weights.

    See `SegNet` for the arguments; `variant` picks the row of the table. Weights are He
    initialised (Caffe's `msra`); `SegNet` loads VGG16's into the encoder.

    Example:

    >>> model = build_segnet(SEGNET_BASIC, num_classes=3, dropout=0.5)
    >>> [layer.name for layer in model.layers if "drop" in layer.name]
    ['encdrop3', 'encdrop4', 'decdrop4', 'decdrop3']
    """
    check_sizes(input_shape, num_classes=num_classes)
    if not 0 <= dropout < 1:
        raise ValueError(
            f"dropout must be in [0, 1): 0 for SegNet, {BAYESIAN_DROPOUT} for Bayesian SegNet; "
            f"received {dropout}."
        )

    # data: RGB in [0, 255] → BGR in [0, 255], no mean (DenseImageData); norm: LRN (Basic).
    images, features = image_input(input_shape, RAW_BGR)
    if variant.input_normalization:
        features = LocalResponseNormalization(
            local_size=5, alpha=1e-4, beta=0.75, dtype="float32", name="norm"
        )(features)

    features, pooled = _encoder(features, variant, dropout)

    # Decoder, stage n: unpool to stage n's encoder size with its indices, then convolutions.
    for number in range(len(variant.stages), 0, -1):
        stage = variant.stages[number - 1]
        encoder_features, indices = pooled[number - 1]
        features = MaxUnpooling(name=stage.upsample)(features, indices, encoder_features)
        for conv_name, filters in stage.decoder:
            if filters is CLASSES:
                features = _scores(features, conv_name, num_classes, variant.kernel_size)
            else:
                features = _convolution(
                    features, conv_name, filters, variant.kernel_size, relu=variant.decoder_relu
                )
        if dropout and number in variant.dropout_stages:
            features = MonteCarloDropout(dropout, name=f"decdrop{number}")(features)

    # Full-resolution scores: 1/1.
    if variant.classifier is not None:
        features = _scores(features, variant.classifier, num_classes, 1)
    return keras.Model(images, features, name=name)


def SegNet(
    num_classes: int = 11,
    *,
    input_shape: tuple = (None, None, 3),
    weights: str | None = "imagenet",
    dropout: float = 0.0,
    name: str = "segnet",
) -> keras.Model:
    """Builds SegNet: VGG16's convolutions with BN as the encoder, a mirrored decoder.

    The model takes RGB images with values in [0, 255] (uint8 or float) of any height and width
    and returns per-pixel class logits of the same height and width, always float32. Every
    convolution but the last is followed by batch normalisation and ReLU; the five poolings keep
    their argmax positions, and the decoder upsamples with them (see the module docstring for
    the layers, names and conventions, all from SegNet-Tutorial's `segnet_train.prototxt`).
    `model.count_params()` is 29,465,227 for 11 classes: 29,433,483 convolution parameters and
    four values per BN channel (scale, shift, moving mean and variance), 7,936 channels.

    With `dropout=0.5` this is Bayesian SegNet (`bayesian_segnet_train.prototxt`): dropout after
    the encoder's and decoder's three deepest stages, kept on at test time by
    `keras_fcn.predict_with_uncertainty`.

    Reference: Badrinarayanan, Kendall & Cipolla, PAMI 2017, section 3 and figure 2; Kendall et
    al., "Bayesian SegNet", BMVC 2017.

    Args:
        num_classes: number of classes scored (11 for CamVid, void excluded).
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        weights: `"imagenet"` (keras.applications' VGG16 classifier, downloaded on first use:
            its 13 convolutions fill the encoder), `None` (random weights, He initialisation),
            or the path of a VGG16 classifier weights file such as
            `vgg16_weights_tf_dim_ordering_tf_kernels.h5`. BN and the decoder start fresh.
        dropout: the rate of the Bayesian dropout layers; 0 (no such layers) for SegNet.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = SegNet(num_classes=11)  # doctest: +SKIP
    >>> model = SegNet(num_classes=11, weights=None)
    >>> model(np.zeros((1, 45, 61, 3))).shape  # pool5 is 2×2, then back to 45×61
    TensorShape([1, 45, 61, 11])
    """
    classifier = vgg16_classifier(weights)
    model = build_segnet(SEGNET, num_classes, input_shape=input_shape, dropout=dropout, name=name)
    if classifier is not None:
        _load_vgg16_encoder(model, classifier)
    return model


def SegNetBasic(
    num_classes: int = 11,
    *,
    input_shape: tuple = (None, None, 3),
    weights: None = None,
    dropout: float = 0.0,
    name: str = "segnet-basic",
) -> keras.Model:
    """Builds SegNet-Basic: LRN, four 7×7 encoders of 64 filters with BN, four decoders.

    The small SegNet of the paper's controlled comparisons (section 4.1, table 1), from
    SegNet-Tutorial's `segnet_basic_train.prototxt`: local response normalisation of the raw
    BGR input, four stages of a 7×7 convolution of 64 filters + BN + ReLU + pooling with
    indices, four decoder stages of unpooling + 7×7 convolution of 64 + BN (no ReLU), and a
    1×1 classifier. 1,415,563 convolution parameters and 512 BN channels for 11 classes
    (`model.count_params()` 1,417,611, with four values per BN channel). It is trained from
    scratch; see `SegNet` for the input and output.

    With `dropout=0.5` this is Bayesian SegNet-Basic (`bayesian_segnet_basic_train.prototxt`):
    dropout after stages 3 and 4 of the encoder and decoder.

    Reference: Badrinarayanan, Kendall & Cipolla, PAMI 2017, section 4.1.

    Args:
        num_classes: number of classes scored (11 for CamVid, void excluded).
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        weights: `None`: SegNet-Basic has no pretrained weights and starts from He
            initialisation (the argument exists so that every model of the registry takes it).
        dropout: the rate of the Bayesian dropout layers; 0 (no such layers) for SegNet-Basic.
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = SegNetBasic(num_classes=11)
    >>> model(np.zeros((1, 45, 61, 3))).shape
    TensorShape([1, 45, 61, 11])
    """
    if weights is not None:
        raise ValueError(
            f"SegNet-Basic is trained from scratch and has no pretrained weights; pass "
            f"weights=None (received weights={weights!r})."
        )
    return build_segnet(
        SEGNET_BASIC, num_classes, input_shape=input_shape, dropout=dropout, name=name
    )
