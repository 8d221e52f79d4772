"""The base of the convolutions that replace a stride-1 `keras.layers.Conv2D` by another
computation of the same result."""

import keras


class StrideOneConv2D(keras.layers.Conv2D):
    """A `keras.layers.Conv2D` restricted to stride 1, one group and channels last.

    Same weights and configuration as `keras.layers.Conv2D`; a subclass overrides
    `convolution_op` with another computation of the same result (up to float rounding).

    Args:
        filters, kernel_size, padding, dilation_rate, activation, ...: as `keras.layers.Conv2D`;
            `strides` must be 1, `groups` 1 and `data_format` `"channels_last"`.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if self.strides != (1, 1) or self.groups != 1 or self.data_format != "channels_last":
            name = type(self).__name__
            raise ValueError(
                f"{name} supports strides=1, groups=1 and data_format='channels_last' "
                f"only; received strides={self.strides}, groups={self.groups}, "
                f"data_format={self.data_format!r}. Use keras.layers.Conv2D otherwise."
            )

    @property
    def spans(self) -> tuple[int, int]:
        """The rows and columns one output reads: `(k − 1)·rate + 1` per axis."""
        sizes = zip(self.kernel_size, self.dilation_rate, strict=True)
        return tuple((size - 1) * rate + 1 for size, rate in sizes)

    def same_padding(self) -> list[list[int]]:
        """The `(4, 2)` padding of a channels-last batch that "same" pads with, TensorFlow's and
        Keras' split (the smaller half before)."""
        return [[0, 0], *([(span - 1) // 2, span // 2] for span in self.spans), [0, 0]]

    def tap_offsets(self) -> list[tuple[int, int]]:
        """Each tap's `(row, column)` offset in the (padded) input, row-major, as the kernel
        lists its taps: `(i · rate, j · rate)` for tap `(i, j)`."""
        (height, width), (row_rate, column_rate) = self.kernel_size, self.dilation_rate
        return [(i * row_rate, j * column_rate) for i in range(height) for j in range(width)]
