"""Max pooling that remembers where each maximum was, and unpooling that puts values back there.

SegNet's decoder upsamples with the pooling indices of the matching encoder stage instead of
learned deconvolutions: Caffe's `Pooling` layer (`pool: MAX`) outputs a second top, the mask
of the argmax positions, and SegNet's `Upsample` layer writes each value back at its position in
a map of the encoder's size, zeros elsewhere. Keras has neither (TensorFlow's
`tf.nn.max_pool_with_argmax` is TensorFlow's only, and TensorFlow Addons' `MaxUnpooling2D` went
with Addons), so both are written here with `keras.ops`, for every backend and for XLA.

The indices are the position of the maximum **within its 2×2 window**: 0 top left, 1 top right,
2 bottom left, 3 bottom right (an int32 tensor of the pooled shape). With static window offsets
the unpooling needs no scatter and no dynamic shapes: it places each value into the four window
positions selected by its index and interleaves them into the 2× map. The pooling follows
Caffe's rules:

- ties go to the first maximum in the window, in row-major order (Caffe updates the maximum on
  a strict `>`); after a ReLU whole windows are zero, and their value goes to the top left;
- odd heights and widths round up, as Caffe's pooling does (360×480 → 180×240 → 90×120 →
  45×60 → 23×30 → 12×15): the last row or column is a window of its own, padded with
  `PAD_VALUE` (−3·10³⁸, below any activation) so that the maximum (and its index) is always a
  real pixel; the unpooling is then cropped to the encoder's size, which it takes from a
  reference tensor (Caffe's `upsample_h`/`upsample_w`);
- the gradient of a pooled value goes to its argmax only (TensorFlow's `reduce_max` would
  share it between tied maxima), and the unpooling's gradient is read back at the stored
  positions only.

Reference: Badrinarayanan, Kendall & Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder
Architecture for Image Segmentation", PAMI 2017, section 3 and figure 3; Caffe's
`PoolingLayer` (`pooling_layer.cpp`, `MAX` with a `mask` top) and caffe-segnet's
`UpsampleLayer` (`upsample_layer.cpp`).
"""

import keras
from keras import ops

WINDOW = 2
"""Side of the pooling window, and the stride: SegNet's 2×2, stride-2 poolings."""

INDICES_DTYPE = "int32"
"""Dtype of the indices, 0–3 for the four positions of a 2×2 window."""

PAD_VALUE = -3.0e38
"""What odd sizes are padded with before pooling: below any activation, and finite. Not −∞:
tf2onnx 1.17 converts `where` to `cond · x + (1 − cond) · y`, where −∞ · 0 is NaN, which made
the ONNX and OpenVINO exports of SegNet wrong at odd sizes; −3·10³⁸ is finite in float32 and
bfloat16 alike."""


def _pooled(size):
    """Number of 2×2 windows along an axis of `size` pixels, rounding up (static or dynamic)."""
    if size is None:
        return None
    return (size + WINDOW - 1) // WINDOW


def _check_rank(tensor, layer: keras.layers.Layer, what: str) -> None:
    if len(tensor.shape) != 4:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r}: {what} must be a (batch, height, width, "
            f"channels) tensor, received shape {tuple(tensor.shape)}."
        )


@keras.saving.register_keras_serializable(package="keras_fcn")
class MaxPoolingWithIndices(keras.layers.Layer):
    """2×2 max pooling of stride 2 that also returns the position of each maximum.

    Returns `(pooled, indices)`: `pooled` is Caffe's max pooling (sizes rounded up), `indices`
    the int32 position of each maximum inside its window, 0–3 in row-major order (see the
    module docstring for the conventions: first maximum on ties, `PAD_VALUE` padding at odd sizes,
    gradient to the argmax only). `MaxUnpooling` takes both back.

    Reference: Caffe's `PoolingLayer` (`pool: MAX`, `kernel_size: 2`, `stride: 2`, with the
    `mask` top); SegNet, PAMI 2017, section 3.

    Example:

    >>> x = np.array([[1, 5, 2], [3, 0, 2], [7, 7, 0]], "float32")[None, :, :, None]
    >>> pooled, indices = MaxPoolingWithIndices()(x)
    >>> pooled[0, :, :, 0].numpy().tolist()
    [[5.0, 2.0], [7.0, 0.0]]
    >>> indices[0, :, :, 0].numpy().tolist()  # 5 top right; 2 and 7 tied: the first wins
    [[1, 0], [0, 0]]
    """

    def call(self, inputs):
        _check_rank(inputs, self, "the input")
        shape = ops.shape(inputs)
        padded = ops.pad(
            inputs,
            [[0, 0], [0, shape[1] % WINDOW], [0, shape[2] % WINDOW], [0, 0]],
            constant_values=PAD_VALUE,
        )
        # (B, H, W, C) → (B, H/2, 2, W/2, 2, C) → the four window positions, row-major.
        padded_shape = ops.shape(padded)
        windows = ops.reshape(
            padded,
            (
                padded_shape[0],
                padded_shape[1] // WINDOW,
                WINDOW,
                padded_shape[2] // WINDOW,
                WINDOW,
                padded_shape[3],
            ),
        )
        positions = [
            column
            for row in ops.unstack(windows, WINDOW, axis=2)
            for column in ops.unstack(row, WINDOW, axis=3)
        ]
        maximum = positions[0]
        for position in positions[1:]:
            maximum = ops.maximum(maximum, position)
        # The first position holding the maximum: later ones are checked first and overwritten.
        indices = ops.full_like(maximum, len(positions) - 1, dtype=INDICES_DTYPE)
        for index in range(len(positions) - 2, -1, -1):
            indices = ops.where(ops.equal(positions[index], maximum), index, indices)
        # Select the value by its index, so that its gradient reaches that position only.
        pooled = positions[-1]
        for index in range(len(positions) - 2, -1, -1):
            pooled = ops.where(ops.equal(indices, index), positions[index], pooled)
        return pooled, ops.cast(indices, INDICES_DTYPE)

    def compute_output_spec(self, inputs):
        _check_rank(inputs, self, "the input")
        batch, height, width, channels = inputs.shape
        shape = (batch, _pooled(height), _pooled(width), channels)
        return (
            keras.KerasTensor(shape, dtype=inputs.dtype),
            keras.KerasTensor(shape, dtype=INDICES_DTYPE),
        )


@keras.saving.register_keras_serializable(package="keras_fcn")
class MaxUnpooling(keras.layers.Layer):
    """Puts each value back at the position of its window's maximum; zeros elsewhere.

    SegNet's `Upsample` layer: the output has the height and width of `reference` (the encoder
    feature map that was pooled, so that odd sizes come back exactly) and the channels of
    `inputs`; each value of `inputs` lands at the position `indices` (from
    `MaxPoolingWithIndices`) names inside its 2×2 window. The gradient with respect to `inputs`
    is the output gradient read at those positions.

    Reference: caffe-segnet's `UpsampleLayer` (`upsample_layer.cpp`); SegNet, PAMI 2017,
    figure 3.

    Call arguments:
        inputs: the values, `(batch, h, w, channels)`: the pooled map or the decoder's features.
        indices: the window positions of the same shape, from `MaxPoolingWithIndices`.
        reference: the tensor that was pooled (only its height and width are read), of height
            `2h` or `2h - 1` and width `2w` or `2w - 1`.

    Example:

    >>> encoder = np.array([[1, 5, 2], [3, 0, 2], [7, 7, 0]], "float32")[None, :, :, None]
    >>> pooled, indices = MaxPoolingWithIndices()(encoder)
    >>> MaxUnpooling()(pooled, indices, encoder)[0, :, :, 0].numpy().tolist()
    [[0.0, 5.0, 2.0], [0.0, 0.0, 0.0], [7.0, 0.0, 0.0]]
    """

    def call(self, inputs, indices, reference):
        _check_rank(inputs, self, "the input")
        shape = ops.shape(inputs)
        if len(indices.shape) != 4 or tuple(indices.shape[-1:]) != tuple(inputs.shape[-1:]):
            raise ValueError(
                f"MaxUnpooling {self.name!r}: the indices must have the input's shape "
                f"{tuple(inputs.shape)}, received {tuple(indices.shape)}."
            )
        indices = ops.cast(indices, INDICES_DTYPE)
        zeros = ops.zeros_like(inputs)
        positions = [ops.where(ops.equal(indices, index), inputs, zeros) for index in range(4)]
        # Row-major window positions back into (B, h, 2, w, 2, C), then (B, 2h, 2w, C).
        rows = [ops.stack(positions[row * WINDOW : (row + 1) * WINDOW], axis=3) for row in (0, 1)]
        unpooled = ops.reshape(
            ops.stack(rows, axis=2),
            (shape[0], shape[1] * WINDOW, shape[2] * WINDOW, shape[3]),
        )
        reference_shape = ops.shape(reference)
        return ops.slice(
            unpooled, [0, 0, 0, 0], [shape[0], reference_shape[1], reference_shape[2], shape[3]]
        )

    def compute_output_spec(self, inputs, indices, reference):
        _check_rank(inputs, self, "the input")
        _check_rank(reference, self, "the reference")
        batch, height, width, channels = inputs.shape
        for axis, (pooled, full) in enumerate(
            zip((height, width), reference.shape[1:3], strict=True), start=1
        ):
            if pooled is not None and full is not None and _pooled(full) != pooled:
                raise ValueError(
                    f"MaxUnpooling {self.name!r}: the reference's axis {axis} ({full}) does not "
                    f"pool to the input's ({pooled}); pass the tensor that was pooled."
                )
        return keras.KerasTensor(
            (batch, reference.shape[1], reference.shape[2], channels), dtype=inputs.dtype
        )
