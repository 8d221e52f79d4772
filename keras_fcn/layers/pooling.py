"""Max pooling as Caffe computes it: explicit zero padding and output sizes that round up.

Keras' `MaxPooling2D` either rounds down (`"valid"`) or pads to `ceil(size / stride)` outputs
(`"same"`). Caffe pads `padding` on every side and then rounds the number of windows up, keeping
a last window only when it starts inside the image or the top/left padding:
`out = ceil((size + 2 * padding - window) / stride) + 1`, minus one when `padding > 0` and the
last window would start past `size + padding`. For 2×2 windows of stride 2 without padding, and
for stride-1 windows with `(window - 1) / 2` padding, that equals `"same"` pooling; for others,
such as DeepLab's 3×3 stride-2 pools with padding 1, it does not (at even sizes Caffe gives one
more output), and `CaffeMaxPooling2D` computes it.

Reference: Caffe, `src/caffe/layers/pooling_layer.cpp` (`PoolingLayer::Reshape`).

Adaptive average pooling to a number of bins (PSPNet's pyramid pooling module at sizes other
than its release's) is `AdaptiveAveragePooling`: Keras' `AdaptiveAveragePooling2D` computes
the same bins but needs the input's size when the graph is built, which a model taking images
of any size (and its exports) lacks.
"""

import keras
from keras import ops

from keras_fcn.layers.config import ConstructorConfig


def caffe_pooled_size(size: int, window: int, stride: int, padding: int = 0) -> int:
    """The output size of a Caffe max pooling along one axis.

    Args:
        size: the input size.
        window: the pooling window.
        stride: the stride.
        padding: the padding on each side.

    Returns:
        The number of windows, rounded up as Caffe does.

    Example:

    >>> caffe_pooled_size(321, 3, 2, 1), caffe_pooled_size(320, 3, 2, 1)  # DeepLab's pool1
    (161, 161)
    >>> caffe_pooled_size(500, 2, 2)  # FCN's pool1
    250
    """
    pooled = -(-(size + 2 * padding - window) // stride) + 1
    if padding > 0 and (pooled - 1) * stride >= size + padding:
        pooled -= 1
    return pooled


def _pooled_size(size, window: int, stride: int, padding: int):
    """`caffe_pooled_size` for a static size (int) or a dynamic one (a scalar tensor)."""
    if isinstance(size, int):
        return caffe_pooled_size(size, window, stride, padding)
    pooled = (size + 2 * padding - window + stride - 1) // stride + 1
    if padding == 0:
        return pooled
    overshoot = ops.cast(ops.greater_equal((pooled - 1) * stride, size + padding), pooled.dtype)
    return pooled - overshoot


@keras.saving.register_keras_serializable(package="keras_fcn")
class CaffeMaxPooling2D(ConstructorConfig, keras.layers.Layer):
    """Max pooling with Caffe's padding and round-up output size (see the module docstring).

    Padded positions hold minus infinity, so they never win a window. Use it where
    `keras.layers.MaxPooling2D` cannot express Caffe's pooling; `pooling_layer` picks the Keras
    layer where it can.

    Reference: Caffe, `PoolingLayer` (`pool: MAX`).

    Args:
        pool_size: the square window.
        strides: the stride.
        padding: zero padding on every side, as Caffe's `pad`.

    Example:

    >>> pool = CaffeMaxPooling2D(3, 2, padding=1)
    >>> pool(np.zeros((1, 320, 320, 4))).shape  # "same" pooling would give 160 × 160
    TensorShape([1, 161, 161, 4])
    """

    def __init__(self, pool_size: int = 2, strides: int = 2, padding: int = 0, **kwargs):
        super().__init__(**kwargs)
        if pool_size < 1 or strides < 1 or padding < 0 or padding >= pool_size:
            raise ValueError(
                "CaffeMaxPooling2D needs pool_size >= 1, strides >= 1 and 0 <= padding < "
                f"pool_size; received pool_size={pool_size}, strides={strides}, "
                f"padding={padding}."
            )
        self.pool_size, self.strides, self.padding = int(pool_size), int(strides), int(padding)

    def _padding(self, size):
        pooled = _pooled_size(size, self.pool_size, self.strides, self.padding)
        return [self.padding, (pooled - 1) * self.strides + self.pool_size - size - self.padding]

    def call(self, inputs):
        shape = ops.shape(inputs)
        padded = ops.pad(
            inputs,
            [[0, 0], self._padding(shape[1]), self._padding(shape[2]), [0, 0]],
            constant_values=float("-inf"),
        )
        return ops.max_pool(padded, self.pool_size, self.strides, padding="valid")

    def compute_output_shape(self, input_shape):
        def pooled(size):
            if size is None:
                return None
            return caffe_pooled_size(size, self.pool_size, self.strides, self.padding)

        batch, height, width, channels = input_shape
        return (batch, pooled(height), pooled(width), channels)


def pooling_layer(pool_size: int, strides: int, padding: int, name: str) -> keras.layers.Layer:
    """The layer computing a Caffe max pooling: Keras' own where it is equal, else Caffe's.

    Args:
        pool_size: the square window.
        strides: the stride.
        padding: Caffe's `pad`.
        name: the layer's name.

    Returns:
        `keras.layers.MaxPooling2D(padding="same")` for unpadded windows of their own stride
        (FCN's 2×2 pools) and for stride-1 windows padded by half the window (DeepLab's pool4
        and pool5), otherwise a `CaffeMaxPooling2D`.

    Example:

    >>> type(pooling_layer(2, 2, 0, "pool1")).__name__
    'MaxPooling2D'
    >>> type(pooling_layer(3, 2, 1, "pool1")).__name__
    'CaffeMaxPooling2D'
    """
    if (padding == 0 and pool_size == strides) or (strides == 1 and 2 * padding == pool_size - 1):
        return keras.layers.MaxPooling2D(pool_size, strides, padding="same", name=name)
    return CaffeMaxPooling2D(pool_size, strides, padding, name=name)


def adaptive_bins(size, bins: int):
    """The bins of adaptive pooling along an axis: `(starts, ends)`, bin `i` covering the samples
    `⌊i · size / bins⌋` to `⌈(i + 1) · size / bins⌉ − 1`.

    PyTorch's `adaptive_avg_pool2d` (`aten/src/ATen/native/AdaptivePooling.h`, `start_index`,
    `end_index`) and Keras' `AdaptiveAveragePooling2D`. `size` is an int or a scalar tensor.

    Example:

    >>> [keras.ops.convert_to_numpy(side).tolist() for side in adaptive_bins(13, 6)]
    [[0, 2, 4, 6, 8, 10], [3, 5, 7, 9, 11, 13]]
    """
    index = ops.arange(bins)
    return (index * size) // bins, ((index + 1) * size + bins - 1) // bins


def _averaging_matrix(size, bins: int, dtype):
    """The `(bins, size)` matrix whose row `i` averages bin `i` of `adaptive_bins`."""
    starts, ends = adaptive_bins(size, bins)
    positions = ops.arange(size)[None, :]
    inside = ops.cast(
        ops.logical_and(positions >= starts[:, None], positions < ends[:, None]), dtype
    )
    return inside / ops.cast(ends - starts, dtype)[:, None]


@keras.saving.register_keras_serializable(package="keras_fcn")
class AdaptiveAveragePooling(ConstructorConfig, keras.layers.Layer):
    """Average pooling to a fixed number of bins, for inputs of any size, known or not when the
    graph is built.

    Along each axis of `n` samples, bin `i` of `b` averages the samples `⌊i · n / b⌋` to
    `⌈(i + 1) · n / b⌉ − 1` (`adaptive_bins`): PyTorch's `AdaptiveAvgPool2d`, the pooling of the
    author's PyTorch PSPNet (hszhao/semseg `model/pspnet.py`), and Keras'
    `AdaptiveAveragePooling2D`. Bins overlap by a sample where `b` does not divide `n`; where it
    does, this is an average pooling of kernel = stride `n / b`, Caffe's `AVE` pooling of
    PSPNet's release. The averages are taken as two matrix products, one per axis, with
    matrices built from the input's size at every call (`keras.ops` only: every backend, XLA,
    and exports of any size).

    Reference: pytorch/pytorch `aten/src/ATen/native/AdaptivePooling.h`; Zhao et al., "Pyramid
    Scene Parsing Network", CVPR 2017, section 3.2.

    Args:
        output_size: the bins, one int for both axes or `(rows, columns)`.

    Example:

    >>> pool = AdaptiveAveragePooling(2)
    >>> ramp = np.arange(5, dtype="float32").reshape(1, 5, 1, 1)
    >>> pool(ramp)[0, :, 0, 0].numpy().tolist()  # samples 0–2 and 2–4
    [1.0, 3.0]
    """

    def __init__(self, output_size: int | tuple[int, int] = 1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(output_size, int):
            pair = (output_size, output_size)
        else:
            pair = tuple(output_size) if isinstance(output_size, tuple | list) else ()
        if len(pair) != 2 or not all(isinstance(side, int) and side > 0 for side in pair):
            raise ValueError(
                "AdaptiveAveragePooling's output_size must be a positive int or a pair of "
                f"them; received {output_size!r}."
            )
        self.output_size = pair

    def call(self, inputs):
        height, width = ops.shape(inputs)[1:3]
        rows = _averaging_matrix(height, self.output_size[0], self.compute_dtype)
        columns = _averaging_matrix(width, self.output_size[1], self.compute_dtype)
        # rows (i, h) @ (b, w, h, c) → (b, w, i, c); columns (j, w) @ (b, i, w, c) → (b, i, j, c).
        pooled = ops.transpose(ops.matmul(rows, ops.transpose(inputs, (0, 2, 1, 3))), (0, 2, 1, 3))
        return ops.matmul(columns, pooled)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])
