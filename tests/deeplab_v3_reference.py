"""DeepLab v3's head written with raw TensorFlow ops from tensorflow/models `research/deeplab`:
the tests' reference for the paper's net (`keras_fcn.models.deeplab_v3.DeepLabV3`).

The layer list is `core/model.py`'s `_extract_features` and `_get_logits` at inference, with the
ResNet's conv5 as `features`:
- `image_pooling`: the features' mean over the map, a 1×1 convolution to 256 without bias, batch
  normalization and ReLU, resized bilinearly back to the map with corners aligned
  (`resize_bilinear(align_corners=True)`);
- `aspp0`: a 1×1 convolution to 256; `aspp1` … `aspp3`: 3×3 convolutions to 256 at the atrous
  rates (slim's `conv2d(rate=r)`: `tf.nn.atrous_conv2d`, padding "SAME"), each without bias,
  with batch normalization and ReLU;
- their concatenation in the order `[image_pooling, aspp0, aspp1, aspp2, aspp3]`;
- `concat_projection`: a 1×1 convolution to 256 without bias, batch normalization and ReLU (the
  dropout after it is the identity at inference);
- `logits/semantic`: a 1×1 convolution with bias;
- the logits resized bilinearly to the image with corners aligned (`model.py`,
  `predict_labels`).
Every batch normalization is `slim.batch_norm(epsilon=1e-5, scale=True)` in inference:
`(x − moving_mean) / √(moving_variance + ε) · gamma + beta`.

Parameters are float32 numpy arrays keyed by the TF1 variable names of the release
(`aspp1/weights`, `aspp1/BatchNorm/gamma`, …, `logits/semantic/biases`); kernels are
`(kh, kw, in, out)`, tensors NHWC.
"""

import numpy as np
import tensorflow as tf

EPSILON = 1e-5
"""`core/model.py`'s `batch_norm_epsilon` for the head."""

SCOPES = ("image_pooling", "aspp0", "aspp1", "aspp2", "aspp3", "concat_projection")
"""The head's convolution + batch normalization scopes, in `_extract_features`' order."""


def _conv_bn_relu(x, parameters: dict, scope: str, rate: int = 1):
    kernel = tf.constant(parameters[f"{scope}/weights"])
    if rate > 1:
        x = tf.nn.atrous_conv2d(x, kernel, rate, padding="SAME")
    else:
        x = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
    x = tf.nn.batch_normalization(
        x,
        mean=parameters[f"{scope}/BatchNorm/moving_mean"],
        variance=parameters[f"{scope}/BatchNorm/moving_variance"],
        offset=parameters[f"{scope}/BatchNorm/beta"],
        scale=parameters[f"{scope}/BatchNorm/gamma"],
        variance_epsilon=EPSILON,
    )
    return tf.nn.relu(x)


def _resize_aligned(x, height: int, width: int):
    return tf.raw_ops.ResizeBilinear(images=x, size=[height, width], align_corners=True)


def deeplab_v3_logits(
    features: np.ndarray, parameters: dict, rates: tuple[int, int, int], image_size: tuple
) -> np.ndarray:
    """DeepLab v3's logits at the image's size from the backbone's conv5 `features` (NHWC)."""
    features = tf.constant(features, tf.float32)
    height, width = features.shape[1:3]
    pooled = tf.reduce_mean(features, axis=[1, 2], keepdims=True)
    branches = [
        _resize_aligned(_conv_bn_relu(pooled, parameters, "image_pooling"), height, width),
        _conv_bn_relu(features, parameters, "aspp0"),
    ]
    for index, rate in enumerate(rates, start=1):
        branches.append(_conv_bn_relu(features, parameters, f"aspp{index}", rate))
    x = _conv_bn_relu(tf.concat(branches, axis=3), parameters, "concat_projection")
    kernel = tf.constant(parameters["logits/semantic/weights"])
    logits = tf.nn.bias_add(
        tf.nn.conv2d(x, kernel, strides=1, padding="SAME"), parameters["logits/semantic/biases"]
    )
    return _resize_aligned(logits, *image_size).numpy()
