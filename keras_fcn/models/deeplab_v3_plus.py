"""DeepLab v3+: DeepLab v3's encoder with a decoder that refines its scores at 1/4 of the input.

The decoder (`deeplab_v3_plus_decoder`) projects the backbone's low-level features at 1/4 of the
input by a 1×1 convolution to 48 channels with batch normalization and ReLU, resizes the ASPP's
output to their size (bilinear, corners aligned), concatenates the two, refines them by two 3×3
convolutions of 256 filters with batch normalization and ReLU, and scores the classes by a 1×1
convolution with bias; `DeepLabV3Plus` resizes the scores to the image the same way. The encoder
is `keras_fcn.models.deeplab_v3.encoder`: keras.applications' ResNet-50 or -101 at output stride
16 or 8 and the ASPP on conv5. Auto-DeepLab's found network ends in the same decoder.

The net follows tensorflow/models `research/deeplab` (`model.py`, `refine_by_decoder`;
`core/feature_extractor.py`, `networks_to_feature_maps`), the released code of the paper:
- the low-level features of a ResNet are `block1/unit_2/bottleneck_v1/conv3`: the second
  bottleneck of conv2 (the last one at 1/4 in TF-slim's ResNet, which strides in a stage's last
  block), its residual branch after its last batch normalization, before the shortcut is added
  and before the ReLU. In keras.applications' ResNet that is `conv2_block2_3_bn`
  (`low_level="release"`); `low_level="stage"` taps conv2's output instead (`conv2_block3_out`,
  the backbone's `"P2"`, as keras-hub's `DeepLabV3Plus` with `low_level_feature_key="P2"` and
  the PyTorch ports do). Both read the same layers, so one set of weights runs either way;
- the ASPP's output comes first in the concatenation, the projected low-level features second
  (`decoder_features_list = [features, projection]`), which orders the rows of `decoder_0`'s
  kernel;
- every resize is `resize_bilinear(align_corners=True)` to the size of the target, which
  `keras_fcn.layers.CaffeInterp` computes at every size (not only at TF DeepLab's
  `k · output_stride + 1` crops, where it equals a zoom by a whole factor);
- the decoder's convolutions are regular 3×3 convolutions (`decoder_use_separable_conv=False`,
  the `slim.repeat` branch), although the flag defaults to the depthwise-separable ones
  (`split_separable_conv2d`) in `common.py`: the paper brings separable convolutions into the
  ASPP and the decoder with its Xception backbone (section 4.3), and regular ones are what
  Auto-DeepLab's parameter counts hold (its table 2);
- the decoder's batch normalizations have epsilon 1e-5 and decay 0.9997 (Keras' `momentum`),
  its convolutions are bias-free with Glorot-uniform kernels (slim's default), the logits have
  a bias and a truncated normal kernel of standard deviation 0.01; no dropout.

Layer names (for a weight mapping, and for the nets that reuse the decoder): `decoder_projection_
{conv,bn,relu}` (TF's `decoder/feature_projection0`), `decoder_upsampling` (the ASPP's output
resized to the low-level features), `decoder_concat`, `decoder_0_{conv,bn,relu}` and
`decoder_1_{conv,bn,relu}` (TF's `decoder/decoder_conv0/decoder_conv0_1` and `_2`), `logits`
(`logits/semantic`), and the model's `upsampling`; the encoder's as in `DeepLabV3`.

Reference: Chen, Zhu, Papandreou, Schroff & Adam, "Encoder-Decoder with Atrous Separable
Convolution for Semantic Image Segmentation", ECCV 2018 (arXiv:1802.02611), section 3.1 and
figure 2 (the decoder), section 4 (training protocol). tensorflow/models `research/deeplab/
model.py` (`refine_by_decoder`, `_get_logits`, `predict_labels`), `core/feature_extractor.py`,
`core/resnet_v1_beta.py` (`bottleneck`: `conv3` has no activation, the shortcut is added after).
"""

import keras

from keras_fcn.layers import CaffeInterp
from keras_fcn.models.deeplab_v3 import PAPER_ASPP, conv_bn_relu, encoder
from keras_fcn.models.inputs import check_sizes

PROJECTION_FILTERS = 48
"""Channels of the projected low-level features (TF DeepLab's `feature_projection0`)."""

DECODER_FILTERS = 256
"""Filters of the decoder's two 3×3 convolutions (`decoder_filters`)."""

LOW_LEVEL_LAYERS = {"release": "conv2_block2_3_bn", "stage": "conv2_block3_out"}
"""The keras.applications ResNet layer whose output feeds the decoder, by `low_level`:
tensorflow/models' `block1/unit_2/bottleneck_v1/conv3` (`"release"`), or conv2's output, the
backbone's `"P2"` (`"stage"`)."""


def deeplab_v3_plus_decoder(
    features,
    low_level,
    num_classes: int,
    *,
    kernel_initializer: str | keras.initializers.Initializer | None = None,
):
    """DeepLab v3+'s decoder: refines the encoder's features with low-level ones and scores them.

    `low_level` → 1×1 convolution to 48, batch normalization, ReLU (`decoder_projection`);
    `features` resized bilinearly, corners aligned, to `low_level`'s height and width
    (`decoder_upsampling`); the two concatenated in that order (`decoder_concat`); two 3×3
    convolutions to 256, each with batch normalization and ReLU (`decoder_0`, `decoder_1`); a
    1×1 convolution with bias to the classes (`logits`). The convolutions but the logits are
    bias-free; the batch normalizations have epsilon 1e-5 and momentum 0.9997.

    Parameters: 48 · C_low (projection) + 9 · 256 · (C + 48) + 9 · 256 · 256 conv weights,
    2 · (48 + 256 + 256) = 1,120 trainable batch normalization parameters (and as many moving
    statistics), 257 · num_classes for the logits; for C = 256 channels of features and
    C_low = 256 low-level ones, 1,303,648 + 257 · num_classes.

    Reference: Chen et al., ECCV 2018, section 3.1 and figure 2; tensorflow/models
    `research/deeplab/model.py` (`refine_by_decoder`, `get_branch_logits`).

    Args:
        features: the encoder's output (DeepLab v3's ASPP), at any stride coarser than or equal
            to `low_level`'s.
        low_level: the backbone's low-level features; the decoder works at their resolution.
        num_classes: classes scored.
        kernel_initializer: the convolutions' kernel initializer; `None` for the release's
            (Glorot-uniform, and a truncated normal of standard deviation 0.01 for the logits).

    Returns:
        The logits at `low_level`'s height and width.

    Example:

    >>> features, low_level = keras.Input((None, None, 256)), keras.Input((None, None, 64))
    >>> deeplab_v3_plus_decoder(features, low_level, 19).shape
    (None, None, None, 19)
    """
    options = {
        "momentum": PAPER_ASPP.momentum,
        "kernel_initializer": kernel_initializer or "glorot_uniform",
    }
    # projection of the low-level features: their resolution.
    projection = conv_bn_relu(low_level, PROJECTION_FILTERS, 1, "decoder_projection", **options)

    # the encoder's features, resized with the corners aligned to the low-level resolution.
    x = CaffeInterp(name="decoder_upsampling")([features, low_level])
    x = keras.layers.Concatenate(name="decoder_concat")([x, projection])

    # refinement: two 3×3 convolutions.
    x = conv_bn_relu(x, DECODER_FILTERS, 3, "decoder_0", **options)
    x = conv_bn_relu(x, DECODER_FILTERS, 3, "decoder_1", **options)

    # logits.
    return keras.layers.Conv2D(
        num_classes,
        1,
        kernel_initializer=kernel_initializer or keras.initializers.TruncatedNormal(stddev=0.01),
        name="logits",
    )(x)


def DeepLabV3Plus(
    num_classes: int = 21,
    *,
    backbone: str = "resnet50",
    output_stride: int = 16,
    multi_grid: tuple[int, int, int] = (1, 2, 4),
    low_level: str = "release",
    weights: str | None = "imagenet",
    input_shape: tuple = (None, None, 3),
    kernel_initializer: str | keras.initializers.Initializer | None = None,
    name: str = "deeplabv3plus",
) -> keras.Model:
    """Builds DeepLab v3+: DeepLab v3 on a ResNet at output stride 16 or 8, and its decoder at 1/4.

    Inputs, outputs and preprocessing as `DeepLabV3`'s (RGB in [0, 255], float32 logits at the
    input's size, keras.applications' ResNet preprocessing inside the model).
    See the module docstring for the net and where it follows the released code.

    Parameters for 21 classes: 40,378,741 trainable and 40,436,053 in all (`count_params`,
    with the batch normalizations' moving statistics) on ResNet-50; 59,396,981 and 59,506,517
    on ResNet-101: `DeepLabV3`'s, and the decoder's 1,303,648 (12,288 + 700,416 + 589,824
    conv weights and 1,120 batch normalization parameters; the logits read 256 channels as
    DeepLab v3's do).

    Reference: Chen et al., ECCV 2018 (arXiv:1802.02611), sections 3.1 and 4.

    Args:
        num_classes: number of classes scored, background included (21 for PASCAL VOC).
        backbone: `"resnet50"` or `"resnet101"`.
        output_stride: the encoder's, 16 or 8 (ASPP rates 6, 12, 18 or 12, 24, 36); the
            decoder always works at 1/4. It changes no weight.
        multi_grid: the factors of the rates of conv5's three blocks.
        low_level: the low-level features: `"release"` (tensorflow/models' end point, the
            residual branch of conv2's second block, `conv2_block2_3_bn`) or `"stage"` (conv2's
            output, `"P2"`). It changes no weight.
        weights: `"imagenet"` (keras.applications' ResNet, downloaded on first use), `None`
            (random weights), or the path of a keras.applications ResNet weights file without
            the classifier. No ResNet DeepLab v3+ was released trained for segmentation.
        input_shape: `(height, width, 3)`; `None` for sizes that vary.
        kernel_initializer: the kernels of every convolution not taken from `weights`; `None`
            for the release's (`DeepLabV3`'s, and the decoder's).
        name: the model's name.

    Returns:
        A functional `keras.Model` mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)`
        logits.

    Example:

    >>> model = DeepLabV3Plus(num_classes=2, weights=None, output_stride=8)
    >>> model(np.zeros((1, 35, 45, 3))).shape
    TensorShape([1, 35, 45, 2])
    >>> model.get_layer("decoder_concat").output.shape
    (None, None, None, 304)
    """
    check_sizes(input_shape, num_classes=num_classes)
    if low_level not in LOW_LEVEL_LAYERS:
        raise ValueError(
            f"DeepLabV3Plus's low_level must be one of {tuple(LOW_LEVEL_LAYERS)}; received "
            f"{low_level!r}."
        )
    images, features, x = encoder(
        backbone, output_stride, multi_grid, weights, input_shape, kernel_initializer
    )

    # low-level features: 1/4, tapped by name.
    conv2 = keras.Model(images, features["P2"])
    low_level_features = conv2.get_layer(LOW_LEVEL_LAYERS[low_level]).output

    # decoder: 1/4.
    logits = deeplab_v3_plus_decoder(
        x, low_level_features, num_classes, kernel_initializer=kernel_initializer
    )

    # upsampling, corners aligned: 1/1.
    logits = CaffeInterp(dtype="float32", name="upsampling")([logits, images])
    return keras.Model(images, logits, name=name)
