"""A convolution computed as one matrix product over gathered patches (im2col)."""

import keras
from keras import ops

from keras_fcn.layers.stride_one_conv import StrideOneConv2D


@keras.saving.register_keras_serializable(package="keras_fcn")
class MatmulConv2D(StrideOneConv2D):
    """A stride-1 `Conv2D` computed as one matrix product over the gathered patches (im2col).

    Same weights, configuration and results (up to float rounding) as `keras.layers.Conv2D`, but
    the kernel runs as a single dense matrix product: the `kh·kw` shifted views of the input (`d`
    pixels apart for a dilation `d`) are concatenated along the channels, so that the
    `(kh, kw, c_in, c_out)` kernel, read row-major as a `(kh·kw·c_in, c_out)` matrix, multiplies
    them at once. Large kernels over small maps, such as FCN's fc6 (7×7, 512 → 4096 on a 16×16
    map at 500×500) and DeepLab's dilated fc6, run several times faster this way on CPUs, where
    the library's convolution kernels handle them poorly; the gathered patches take `kh·kw`
    times the input's memory.

    Example:

    >>> layer = MatmulConv2D(8, 3, padding="same", dilation_rate=4)
    >>> layer(np.zeros((1, 16, 16, 4))).shape
    TensorShape([1, 16, 16, 8])
    """

    def convolution_op(self, inputs, kernel):
        span_height, span_width = self.spans
        if self.padding == "same":
            inputs = ops.pad(inputs, self.same_padding())
        batch, height, width, channels = ops.shape(inputs)
        height, width = height - span_height + 1, width - span_width + 1
        patches = ops.concatenate(
            [
                ops.slice(inputs, [0, row, column, 0], [batch, height, width, channels])
                for row, column in self.tap_offsets()
            ],
            axis=-1,
        )
        kernel = ops.reshape(kernel, (-1, self.filters))
        outputs = ops.matmul(ops.reshape(patches, (-1, kernel.shape[0])), kernel)
        return ops.reshape(outputs, (batch, height, width, self.filters))
