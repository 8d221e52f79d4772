"""A raw-op forward pass of Auto-DeepLab's cell, written from tensorflow/models
`research/deeplab/core/nas_cell.py` (`NASBaseCell`, newest version), `nas_network.py`
(`_build_nas_base`: the ×2 resize before a cell one level down), `utils.py` (`resize_bilinear`,
`scale_dimension`), `xception.py` (`separable_conv2d_same`, `fixed_padding`) and slim's
`resnet_utils.conv2d_same`, with `tf.nn` ops and TensorFlow's own corner-aligned resize.

Weights come from `weights(scope)`, a function of the release's variable scope
(`cell_3/comb_iter_0/left/atrous_5x5`) that returns the layer's arrays: a convolution's kernel,
a separable convolution's depthwise and pointwise kernels, a batch normalization's γ, β, moving
mean and variance (inference).
"""

import numpy as np
import tensorflow as tf

EPSILON = 1e-3
"""`nas_arg_scope`'s batch_norm_epsilon."""

OPERATIONS = [
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
]
"""`hnasnet()`'s operations, copied from nas_network.py."""

USED_HIDDENSTATES = [1, 1, 0, 0, 0, 0, 0]
HIDDENSTATE_INDICES = [1, 0, 1, 0, 3, 1, 4, 2, 3, 5]


def scale_dimension(dim: int, scale: float) -> int:
    return int((float(dim) - 1.0) * scale + 1.0)


def resize_bilinear(images, size):
    return tf.compat.v1.image.resize_bilinear(images, size, align_corners=True)


def fixed_padding(inputs, kernel_size: int, rate: int = 1):
    kernel_size_effective = kernel_size + (kernel_size - 1) * (rate - 1)
    pad_total = kernel_size_effective - 1
    pad_beg = pad_total // 2
    pad_end = pad_total - pad_beg
    return tf.pad(inputs, [[0, 0], [pad_beg, pad_end], [pad_beg, pad_end], [0, 0]])


def conv2d_same(inputs, kernel, stride: int = 1, rate: int = 1):
    """slim's `resnet_utils.conv2d_same` (bias-free, no activation: `nas_arg_scope`)."""
    if stride == 1:
        return tf.nn.conv2d(inputs, kernel, 1, "SAME", dilations=rate)
    inputs = fixed_padding(inputs, kernel.shape[0], rate)
    return tf.nn.conv2d(inputs, kernel, stride, "VALID", dilations=rate)


def separable_conv2d_same(inputs, depthwise, pointwise, stride: int):
    """`xception.separable_conv2d_same` with `use_explicit_padding=True`."""
    if stride == 1:
        return tf.nn.separable_conv2d(inputs, depthwise, pointwise, [1, 1, 1, 1], "SAME")
    inputs = fixed_padding(inputs, depthwise.shape[0])
    return tf.nn.separable_conv2d(inputs, depthwise, pointwise, [1, stride, stride, 1], "VALID")


def batch_norm(inputs, gamma, beta, mean, variance):
    return tf.nn.batch_normalization(inputs, mean, variance, beta, gamma, EPSILON)


class Cell:
    """`NASBaseCell` at inference (drop-path off), reading its weights from `weights`."""

    def __init__(self, weights, filter_size: int):
        self._weights = weights
        self._filter_size = filter_size

    def __call__(self, net, scope: str, stride: int, prev_layer):
        self._scope = scope
        net = self._cell_base(net, prev_layer)
        for i in range(len(OPERATIONS) // 2):
            h1 = net[HIDDENSTATE_INDICES[i * 2]]
            h2 = net[HIDDENSTATE_INDICES[i * 2 + 1]]
            h1 = self._apply_conv_operation(
                h1, OPERATIONS[i * 2], stride, HIDDENSTATE_INDICES[i * 2] < 2, f"comb_iter_{i}/left"
            )
            h2 = self._apply_conv_operation(
                h2,
                OPERATIONS[i * 2 + 1],
                stride,
                HIDDENSTATE_INDICES[i * 2 + 1] < 2,
                f"comb_iter_{i}/right",
            )
            net.append(h1 + h2)
        states = [h for h, is_used in zip(net, USED_HIDDENSTATES, strict=True) if not is_used]
        return tf.concat(states, axis=3)

    def _get(self, name: str):
        return self._weights(f"{self._scope}/{name}")

    def _cell_base(self, net, prev_layer):
        if net.shape[2] != prev_layer.shape[2]:
            prev_layer = resize_bilinear(prev_layer, tf.shape(net)[1:3])
        if self._filter_size != prev_layer.shape[3]:
            prev_layer = tf.nn.relu(prev_layer)
            prev_layer = conv2d_same(prev_layer, *self._get("prev_1x1"))
            prev_layer = batch_norm(prev_layer, *self._get("prev_bn"))
        net = tf.nn.relu(net)
        net = conv2d_same(net, *self._get("1x1"))
        net = batch_norm(net, *self._get("beginning_bn"))
        return [net, prev_layer]

    def _apply_conv_operation(self, net, operation, stride, is_from_original_input, scope):
        if stride > 1 and not is_from_original_input:
            stride = 1
        if "separable" in operation:
            num_layers = int(operation.split("_")[-1])
            kernel_size = int(operation.split("x")[0][-1])
            for layer_num in range(num_layers):
                net = tf.nn.relu(net)
                depthwise, pointwise = self._get(
                    f"{scope}/separable_{kernel_size}x{kernel_size}_{layer_num + 1}"
                )
                net = separable_conv2d_same(net, depthwise, pointwise, stride)
                net = batch_norm(
                    net, *self._get(f"{scope}/bn_sep_{kernel_size}x{kernel_size}_{layer_num + 1}")
                )
                stride = 1
        elif "atrous" in operation:
            kernel_size = int(operation.split("x")[0][-1])
            net = tf.nn.relu(net)
            (kernel,) = self._get(f"{scope}/atrous_{kernel_size}x{kernel_size}")
            if stride == 2:
                scaled_height = scale_dimension(net.shape[1], 0.5)
                scaled_width = scale_dimension(net.shape[2], 0.5)
                net = resize_bilinear(net, [scaled_height, scaled_width])
                net = conv2d_same(net, kernel, stride=1, rate=1)
            else:
                net = conv2d_same(net, kernel, stride=1, rate=2)
            net = batch_norm(net, *self._get(f"{scope}/bn_atr_{kernel_size}x{kernel_size}"))
        else:
            raise ValueError(f"not an operation of hnasnet's cell: {operation}")
        return net


def network_step(weights, net, prev_layer, filter_size: int, scope: str, level_change: int):
    """One iteration of `_build_nas_base`'s cell loop: a stride-2 cell one level up, the input
    resized ×2 (`scale_dimension(·, 2)`) before a cell one level down."""
    stride = 1
    if level_change == 1:
        stride = 2
    elif level_change == -1:
        scaled_height = scale_dimension(net.shape[1], 2)
        scaled_width = scale_dimension(net.shape[2], 2)
        net = resize_bilinear(net, [scaled_height, scaled_width])
    cell = Cell(weights, filter_size)
    return np.asarray(cell(tf.constant(net), scope, stride, tf.constant(prev_layer)))
