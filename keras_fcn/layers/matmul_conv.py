"""A convolution computed as one matrix product over gathered patches (im2col)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_fcn")
class MatmulConv2D(keras.layers.Conv2D):
    """A stride-1 `Conv2D` computed as one matrix product over the gathered patches (im2col).

    Same weights, configuration and results (up to float rounding) as `keras.layers.Conv2D`, but
    the kernel runs as a single dense matrix product: the `kh·kw` shifted views of the input (`d`
    pixels apart for a dilation `d`) are concatenated along the channels, so that the
    `(kh, kw, c_in, c_out)` kernel, read row-major as a `(kh·kw·c_in, c_out)` matrix, multiplies
    them at once. Large kernels over small maps, such as FCN's fc6 (7×7, 512 → 4096 on a 16×16
    map at 500×500) and DeepLab's dilated fc6, run several times faster this way on CPUs, where
    the library's convolution kernels handle them poorly; the gathered patches take `kh·kw`
    times the input's memory.

    Args:
        filters, kernel_size, padding, dilation_rate, activation, ...: as `keras.layers.Conv2D`;
            `strides` must be 1, `groups` 1 and `data_format` `"channels_last"`.

    Example:

    >>> layer = MatmulConv2D(8, 3, padding="same", dilation_rate=4)
    >>> layer(np.zeros((1, 16, 16, 4))).shape
    TensorShape([1, 16, 16, 8])
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if self.strides != (1, 1) or self.groups != 1 or self.data_format != "channels_last":
            raise ValueError(
                f"MatmulConv2D supports strides=1, groups=1 and data_format='channels_last' "
                f"only; received strides={self.strides}, groups={self.groups}, "
                f"data_format={self.data_format!r}. Use keras.layers.Conv2D otherwise."
            )

    def convolution_op(self, inputs, kernel):
        (kernel_height, kernel_width), (row_step, column_step) = (
            self.kernel_size,
            self.dilation_rate,
        )
        span_height = (kernel_height - 1) * row_step + 1
        span_width = (kernel_width - 1) * column_step + 1
        if self.padding == "same":
            inputs = ops.pad(
                inputs,
                [
                    [0, 0],
                    [(span_height - 1) // 2, span_height // 2],
                    [(span_width - 1) // 2, span_width // 2],
                    [0, 0],
                ],
            )
        batch, height, width, channels = ops.shape(inputs)
        height, width = height - span_height + 1, width - span_width + 1
        patches = ops.concatenate(
            [
                ops.slice(
                    inputs,
                    [0, row * row_step, column * column_step, 0],
                    [batch, height, width, channels],
                )
                for row in range(kernel_height)
                for column in range(kernel_width)
            ],
            axis=-1,
        )
        kernel = ops.reshape(kernel, (-1, self.filters))
        outputs = ops.matmul(ops.reshape(patches, (-1, kernel.shape[0])), kernel)
        return ops.reshape(outputs, (batch, height, width, self.filters))
