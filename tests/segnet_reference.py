"""SegNet's Caffe layers and nets written out with numpy loops and raw TensorFlow ops: the
tests' reference, from SegNet-Tutorial's prototxts and caffe-segnet's layer code."""

import numpy as np
import tensorflow as tf


def caffe_pool_with_mask(x):
    """Caffe's 2×2 stride-2 max pooling with its mask top, written out with loops.

    pooling_layer.cpp (MAX): the window is clipped to the image (sizes round up), the maximum
    starts at -FLT_MAX and is replaced on a strict `>` in row-major order, and the mask holds the
    flat index `h * width + w` of the maximum in the input.
    """
    batch, height, width, channels = x.shape
    pooled_h, pooled_w = -(-height // 2), -(-width // 2)
    pooled = np.empty((batch, pooled_h, pooled_w, channels), x.dtype)
    mask = np.empty((batch, pooled_h, pooled_w, channels), np.int64)
    for i in range(pooled_h):
        for j in range(pooled_w):
            best = np.full((batch, channels), -np.finfo(np.float32).max, x.dtype)
            best_index = np.full((batch, channels), -1, np.int64)
            for h in range(2 * i, min(2 * i + 2, height)):
                for w in range(2 * j, min(2 * j + 2, width)):
                    greater = x[:, h, w] > best
                    best = np.where(greater, x[:, h, w], best)
                    best_index = np.where(greater, h * width + w, best_index)
            pooled[:, i, j], mask[:, i, j] = best, best_index
    return pooled, mask


def caffe_upsample(values, mask, height, width):
    """caffe-segnet's Upsample layer: zeros, then `top[mask[i]] = bottom[i]` per channel."""
    batch, _, _, channels = values.shape
    top = np.zeros((batch, height * width, channels), values.dtype)
    for n in range(batch):
        for c in range(channels):
            top[n, mask[n, ..., c].ravel(), c] = values[n, ..., c].ravel()
    return top.reshape(batch, height, width, channels)


def caffe_lrn(x, local_size, alpha, beta, k):
    """Caffe's LRN across channels (lrn_layer.cpp, CrossChannelForward_cpu), with loops:
    scale_c = k + alpha / local_size * sum of x² over channels c - r … c + r (zero outside),
    top_c = x_c * scale_c ** -beta."""
    radius = (local_size - 1) // 2
    channels = x.shape[-1]
    out = np.empty_like(x)
    for c in range(channels):
        window = x[..., max(c - radius, 0) : min(c + radius + 1, channels)]
        scale = k + alpha / local_size * np.sum(window**2, axis=-1)
        out[..., c] = x[..., c] * scale**-beta
    return out


class CaffeNet:
    """Runs Caffe layers on numpy arrays with the weights of a Keras model, by layer name."""

    def __init__(self, model):
        self.weights = {layer.name: layer.get_weights() for layer in model.layers}

    def conv(self, x, name):
        # Convolution with pad (k - 1) / 2, stride 1: TensorFlow's SAME for odd kernels.
        kernel, bias = self.weights[name]
        return tf.nn.conv2d(x, kernel, 1, "SAME").numpy() + bias

    def bn(self, x, name):
        # caffe-segnet's BN in INFERENCE mode after compute_bn_statistics.py: the mean and the
        # variance folded into the scale and the shift, var_eps 1e-9.
        scale, shift, mean, variance = self.weights[name]
        return (x - mean) / np.sqrt(variance + 1e-9) * scale + shift


def relu(x):
    return np.maximum(x, 0)


def segnet_forward(model, images):
    """segnet_train.prototxt in inference, layer by layer, with the model's weights."""
    net = CaffeNet(model)
    x = images[..., ::-1].astype("float32")  # DenseImageData: BGR in [0, 255], no mean
    masks = {}
    for block, convs in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]:
        for conv in range(1, convs + 1):
            name = f"conv{block}_{conv}"
            x = relu(net.bn(net.conv(x, name), f"{name}_bn"))
        size = x.shape[1:3]
        x, mask = caffe_pool_with_mask(x)
        masks[block] = mask, size
    for block, convs in [(5, 3), (4, 3), (3, 3), (2, 2), (1, 2)]:
        mask, size = masks[block]
        x = caffe_upsample(x, mask, *size)  # upsample_h/upsample_w: the pooled map's size
        for conv in range(convs, 0, -1):
            name = f"conv{block}_{conv}_D"
            x = net.conv(x, name)
            if name != "conv1_1_D":
                x = relu(net.bn(x, f"{name}_bn"))
    return x


def segnet_basic_forward(model, images):
    """segnet_basic_train.prototxt in inference, layer by layer, with the model's weights."""
    net = CaffeNet(model)
    x = images[..., ::-1].astype("float32")
    x = caffe_lrn(x, local_size=5, alpha=0.0001, beta=0.75, k=1.0)
    masks = {}
    for stage in range(1, 5):
        x = relu(net.bn(net.conv(x, f"conv{stage}"), f"conv{stage}_bn"))
        size = x.shape[1:3]
        x, mask = caffe_pool_with_mask(x)
        masks[stage] = mask, size
    for stage in range(4, 0, -1):
        mask, size = masks[stage]
        x = caffe_upsample(x, mask, *size)
        x = net.bn(net.conv(x, f"conv_decode{stage}"), f"conv_decode{stage}_bn")  # no ReLU
    return net.conv(x, "conv_classifier")
