"""Small serializable layers that the FCN graph is built from: padding to a
multiple of the network's stride, cropping to a reference tensor's (dynamic) size, and a
convolution computed as one matrix product (fc6)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_fcn")
class PadToMultiple(keras.layers.Layer):
    """Zero-pads the bottom and right of images so height and width are multiples of `multiple`.

    The `padding="aligned"` FCN pads its (mean-subtracted) input to a multiple of its output
    stride, 32, so that every pooling halves the size exactly; the output is cropped back.

    Args:
        multiple: the height and width are padded up to a multiple of this.

    Example:

    >>> PadToMultiple(32)(np.zeros((1, 37, 53, 3))).shape
    TensorShape([1, 64, 64, 3])
    """

    def __init__(self, multiple: int = 32, **kwargs):
        super().__init__(**kwargs)
        if multiple < 1:
            raise ValueError(f"multiple must be a positive integer, received {multiple}.")
        self.multiple = int(multiple)

    def call(self, images):
        shape = ops.shape(images)
        pad_height = (-shape[1]) % self.multiple
        pad_width = (-shape[2]) % self.multiple
        return ops.pad(images, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]])

    def compute_output_shape(self, input_shape):
        def padded(size):
            return None if size is None else -(-size // self.multiple) * self.multiple

        return (input_shape[0], padded(input_shape[1]), padded(input_shape[2]), input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="keras_fcn")
class CropToReference(keras.layers.Layer):
    """Crops a feature map to the height and width of a reference tensor, from a fixed offset.

    This is Caffe's `Crop` layer as FCN uses it: `outputs = inputs[:, offset:offset + h,
    offset:offset + w]` where `h, w` are the reference's (possibly dynamic) height and width.
    `keras.layers.Cropping2D` cannot express it, since it crops fixed amounts.

    Args:
        offset: rows and columns skipped at the top and left.

    Call arguments:
        inputs: a list `[features, reference]`.

    Example:

    >>> crop = CropToReference(offset=5)
    >>> crop([np.zeros((1, 20, 20, 4)), np.zeros((1, 8, 9, 1))]).shape
    TensorShape([1, 8, 9, 4])
    """

    def __init__(self, offset: int = 0, **kwargs):
        super().__init__(**kwargs)
        if offset < 0:
            raise ValueError(f"offset must be non-negative, received {offset}.")
        self.offset = int(offset)

    def call(self, inputs):
        features, reference = inputs
        features_shape, reference_shape = ops.shape(features), ops.shape(reference)
        return ops.slice(
            features,
            [0, self.offset, self.offset, 0],
            [features_shape[0], reference_shape[1], reference_shape[2], features_shape[3]],
        )

    def compute_output_shape(self, input_shape):
        features_shape, reference_shape = input_shape
        return (features_shape[0], reference_shape[1], reference_shape[2], features_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "offset": self.offset}


@keras.saving.register_keras_serializable(package="keras_fcn")
class MatmulConv2D(keras.layers.Conv2D):
    """A stride-1 `Conv2D` computed as one matrix product over the gathered patches (im2col).

    Same weights, configuration and results (up to float rounding) as `keras.layers.Conv2D`, but
    the kernel runs as a single dense matrix product: the `kh·kw` shifted views of the input are
    concatenated along the channels, so that the `(kh, kw, c_in, c_out)` kernel, read row-major
    as a `(kh·kw·c_in, c_out)` matrix, multiplies them at once. FCN's fc6 (7×7, 512 → 4096 on a
    16×16 map at 500×500) runs about 3× faster this way on CPUs, where the library's convolution
    kernels handle large kernels on small maps poorly; the gathered patches take `kh·kw` times the
    input's memory.

    Args:
        filters, kernel_size, padding, activation, ...: as `keras.layers.Conv2D`; `strides` and
            `dilation_rate` must be 1, `groups` 1 and `data_format` `"channels_last"`.

    Example:

    >>> layer = MatmulConv2D(8, 7, padding="same")
    >>> layer(np.zeros((1, 16, 16, 4))).shape
    TensorShape([1, 16, 16, 8])
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if (
            self.strides != (1, 1)
            or self.dilation_rate != (1, 1)
            or self.groups != 1
            or self.data_format != "channels_last"
        ):
            raise ValueError(
                f"MatmulConv2D supports strides=1, dilation_rate=1, groups=1 and "
                f"data_format='channels_last' only; received strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}, groups={self.groups}, "
                f"data_format={self.data_format!r}. Use keras.layers.Conv2D otherwise."
            )

    def convolution_op(self, inputs, kernel):
        kernel_height, kernel_width = self.kernel_size
        if self.padding == "same":
            inputs = ops.pad(
                inputs,
                [
                    [0, 0],
                    [(kernel_height - 1) // 2, kernel_height // 2],
                    [(kernel_width - 1) // 2, kernel_width // 2],
                    [0, 0],
                ],
            )
        batch, height, width, channels = ops.shape(inputs)
        height, width = height - kernel_height + 1, width - kernel_width + 1
        patches = ops.concatenate(
            [
                ops.slice(inputs, [0, row, column, 0], [batch, height, width, channels])
                for row in range(kernel_height)
                for column in range(kernel_width)
            ],
            axis=-1,
        )
        kernel = ops.reshape(kernel, (-1, self.filters))
        outputs = ops.matmul(ops.reshape(patches, (-1, kernel.shape[0])), kernel)
        return ops.reshape(outputs, (batch, height, width, self.filters))
