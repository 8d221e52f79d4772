"""A convolution computed as one matrix product with all its taps, then a sum of shifted maps."""

import keras
from keras import ops

from keras_fcn.layers.stride_one_conv import StrideOneConv2D


@keras.saving.register_keras_serializable(package="keras_fcn")
class TapSumConv2D(StrideOneConv2D):
    """A stride-1 `Conv2D` computed as one matrix product of the input with every tap's kernel,
    then the sum of the taps' maps, each shifted by its offset.

    Same weights, configuration and results (up to float rounding) as `keras.layers.Conv2D`. A
    `kh × kw` convolution is the sum over its taps `(i, j)` of the input times that tap's
    `(c_in, c_out)` matrix, shifted by `(i·d, j·d)` for a dilation `d`. Here the input, read as a
    `(pixels, c_in)` matrix, multiplies the `(c_in, kh·kw·c_out)` matrix of all the taps at once,
    and the `kh·kw` maps of `c_out` channels are added up at their offsets. The product is large
    and dense where the input is wide and the output narrow, which CPUs run near their matrix
    ceiling where their convolution kernels do not: DeepLab v2's ASPP-L (3×3, 2,048 → 21
    channels at rates 6 to 24) and the FCN head of torchvision's nets (3×3, 2,048 → 512) on the
    65 × 65 map of a 513 × 513 image (`keras_fcn.inference.folding` puts it in the inference
    copy; the measurements are in its docstring). The taps' maps take `kh·kw·c_out` channels,
    so it suits outputs narrower than the input.

    Example:

    >>> layer = TapSumConv2D(4, 3, padding="same", dilation_rate=6)
    >>> layer(np.zeros((1, 13, 11, 32))).shape
    TensorShape([1, 13, 11, 4])
    """

    def convolution_op(self, inputs, kernel):
        channels, offsets = kernel.shape[2], self.tap_offsets()
        span_height, span_width = self.spans
        batch, height, width = ops.shape(inputs)[0], ops.shape(inputs)[1], ops.shape(inputs)[2]
        all_taps = ops.reshape(ops.transpose(kernel, (2, 0, 1, 3)), (channels, -1))
        maps = ops.matmul(ops.reshape(inputs, (-1, channels)), all_taps)
        maps = ops.reshape(maps, (batch, height, width, len(offsets) * self.filters))
        if self.padding == "same":  # zero input rows and columns give zero maps
            maps = ops.pad(maps, self.same_padding())
        else:
            height, width = height - span_height + 1, width - span_width + 1
        outputs = None
        for tap, (row, column) in enumerate(offsets):
            shifted = ops.slice(
                maps, [0, row, column, tap * self.filters], [batch, height, width, self.filters]
            )
            outputs = shifted if outputs is None else outputs + shifted
        return outputs
