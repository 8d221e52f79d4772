"""Caffe's layers written out from its sources with raw TensorFlow ops and numpy loops: the
tests' reference for DeepLab's and the Dilation front-end's released prototxts.

Arrays are NHWC; kernels are Keras' (kh, kw, in, out), read from the model under test.
"""

import numpy as np
import tensorflow as tf


def convolution(x, kernel, bias, pad=0, dilation=1, relu=True):
    """`Convolution` with `pad` zeros on every side and `dilation` (`hole` in DeepLab v1)."""
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    y = tf.nn.conv2d(x, tf.cast(kernel, x.dtype), 1, "VALID", dilations=dilation)
    y = y + tf.cast(bias, x.dtype)
    return tf.nn.relu(y) if relu else y


def pooling(x, kernel, stride, pad=0, mode="max"):
    """`Pooling` as `pooling_layer.cpp` computes it, window by window.

    The output size rounds up, less one where the last window would start in the bottom or
    right padding; `MAX` takes the window clipped to the image, `AVE` sums it and divides by
    the window clipped to the padded image (the padding counts).
    """
    x = np.asarray(x)
    batch, height, width, channels = x.shape

    def pooled(size):
        count = -(-(size + 2 * pad - kernel) // stride) + 1
        return count - 1 if pad and (count - 1) * stride >= size + pad else count

    out = np.zeros((batch, pooled(height), pooled(width), channels), x.dtype)
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            top, left = i * stride - pad, j * stride - pad
            bottom, right = min(top + kernel, height + pad), min(left + kernel, width + pad)
            pool_size = (bottom - top) * (right - left)
            top, left, bottom, right = (
                max(top, 0),
                max(left, 0),
                min(bottom, height),
                min(right, width),
            )
            window = x[:, top:bottom, left:right]
            if mode == "max":
                out[:, i, j] = window.max(axis=(1, 2))
            else:
                out[:, i, j] = window.sum(axis=(1, 2)) / pool_size
    return out


def interp(coarse, height, width):
    """DeepLab's `Interp` (`caffe_cpu_interp2`) to `height` × `width`, corners aligned."""
    coarse = np.asarray(coarse)
    height1, width1 = coarse.shape[1:3]
    rheight = np.float32((height1 - 1) / (height - 1)) if height > 1 else np.float32(0)
    rwidth = np.float32((width1 - 1) / (width - 1)) if width > 1 else np.float32(0)
    out = np.zeros((coarse.shape[0], height, width, coarse.shape[3]), coarse.dtype)
    for h2 in range(height):
        h1r = rheight * h2
        h1 = int(h1r)
        h1p = 1 if h1 < height1 - 1 else 0
        h1lambda = h1r - h1
        for w2 in range(width):
            w1r = rwidth * w2
            w1 = int(w1r)
            w1p = 1 if w1 < width1 - 1 else 0
            w1lambda = w1r - w1
            top = (1 - w1lambda) * coarse[:, h1, w1] + w1lambda * coarse[:, h1, w1 + w1p]
            bottom = (1 - w1lambda) * coarse[:, h1 + h1p, w1] + w1lambda * coarse[
                :, h1 + h1p, w1 + w1p
            ]
            out[:, h2, w2] = (1 - h1lambda) * top + h1lambda * bottom
    return out


def zoom_interp_map(prob, zoom, height, width):
    """`fyu/dilation`'s `util.interp_map`: output pixel h samples row h / zoom.

    The original reads row `h // zoom + 1` past the end of its array for the last `zoom - 1`
    rows of a side that is not a multiple of `zoom`; here that row is the last one.
    """
    prob = np.asarray(prob)
    rows, columns = prob.shape[1:3]
    out = np.zeros((prob.shape[0], height, width, prob.shape[3]), prob.dtype)
    for h in range(height):
        r0 = h // zoom
        r1 = min(r0 + 1, rows - 1)
        rt = h / zoom - r0 if r1 > r0 else 0.0
        for w in range(width):
            c0 = w // zoom
            c1 = min(c0 + 1, columns - 1)
            ct = w / zoom - c0 if c1 > c0 else 0.0
            v0 = rt * prob[:, r1, c0] + (1 - rt) * prob[:, r0, c0]
            v1 = rt * prob[:, r1, c1] + (1 - rt) * prob[:, r0, c1]
            out[:, h, w] = (1 - ct) * v0 + ct * v1
    return out


def relative_error(actual, expected) -> float:
    """Largest absolute difference relative to the largest magnitude of the reference."""
    expected = np.asarray(expected, np.float64)
    return float(np.abs(np.asarray(actual, np.float64) - expected).max() / np.abs(expected).max())
