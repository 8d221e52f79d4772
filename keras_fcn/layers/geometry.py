"""Geometry layers: padding an input to a multiple of the network's stride, padding it by
reflection as the Dilation front-end does, and cropping a feature map to a reference tensor's
(dynamic) size from a fixed offset, as Caffe's `Crop` does."""

import keras
from keras import ops

from keras_fcn.layers.config import ConstructorConfig


def _checked_integer(name: str, value: int, minimum: int) -> int:
    """`value` as an `int`, or a `ValueError` naming the argument if it is below `minimum`
    (0 or 1)."""
    if value < minimum:
        expected = "a positive integer" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be {expected}, received {value}.")
    return int(value)


@keras.saving.register_keras_serializable(package="keras_fcn")
class PadToMultiple(ConstructorConfig, keras.layers.Layer):
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
        self.multiple = _checked_integer("multiple", multiple, minimum=1)

    def call(self, images):
        shape = ops.shape(images)
        # `(m - size % m) % m` rather than `(-size) % m`: the same for sizes >= 0, and it takes
        # no remainder of a negative number, which tf2onnx converts with truncating division
        # (an ONNX export then crops instead of padding).
        pad_height = (self.multiple - shape[1] % self.multiple) % self.multiple
        pad_width = (self.multiple - shape[2] % self.multiple) % self.multiple
        return ops.pad(images, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]])

    def compute_output_shape(self, input_shape):
        def padded(size):
            return None if size is None else -(-size // self.multiple) * self.multiple

        return (input_shape[0], padded(input_shape[1]), padded(input_shape[2]), input_shape[3])


@keras.saving.register_keras_serializable(package="keras_fcn")
class CropToReference(ConstructorConfig, keras.layers.Layer):
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
        self.offset = _checked_integer("offset", offset, minimum=0)

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


def _reflected(positions, size):
    """Maps positions onto `[0, size)` by reflection without repeating the edge (reflect-101),
    as often as needed: period `2 * (size - 1)`; a single row or column maps to itself."""
    period = ops.maximum(2 * (size - 1), 1)
    # `(x % p + p) % p` rather than `x % p`: the same for Python's floored remainder, and right
    # under tf2onnx's truncating one too, which leaves negative positions negative.
    positions = (positions % period + period) % period
    return ops.where(positions >= size, period - positions, positions)


@keras.saving.register_keras_serializable(package="keras_fcn")
class ReflectPadding2D(ConstructorConfig, keras.layers.Layer):
    """Pads images by reflection without repeating the edge (OpenCV's `BORDER_REFLECT_101`).

    Every side gets `padding` rows or columns. Then the bottom and right grow until the image
    part (height and width less `2 * padding`) is a multiple of `multiple`, plus `extend` more,
    again by reflecting the padded image at its last row and column. This is what the Dilation
    front-end's `predict.py` feeds its unpadded network: the image reflected by 186 pixels
    (`label_margin`), then each tile reflected up to the network's input size, of which the
    rows up to one output stride past the image reach the scores it reads. Reflections repeat
    where the padding exceeds the image, as OpenCV's do, so any image size works (Keras'
    `ops.pad(mode="reflect")` needs a padding smaller than the image).

    Reference: Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR
    2016; `fyu/dilation`, `predict.py` (`cv2.copyMakeBorder(..., cv2.BORDER_REFLECT_101)`).

    Args:
        padding: rows and columns reflected onto every side.
        multiple: the image part of the output is a multiple of this, plus `extend`.
        extend: rows and columns added at the bottom and right beyond the multiple.

    Example:

    >>> row = np.arange(5, dtype="float32").reshape(1, 1, 5, 1)
    >>> ReflectPadding2D(2)(row)[0, 2, :, 0].numpy().tolist()
    [2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]
    >>> ReflectPadding2D(2, multiple=4)(row).shape  # 1 → 4 high, 5 → 8 wide, plus 2 × 2
    TensorShape([1, 8, 12, 1])
    """

    def __init__(self, padding: int, multiple: int = 1, extend: int = 0, **kwargs):
        super().__init__(**kwargs)
        if padding < 0 or multiple < 1 or extend < 0:
            raise ValueError(
                f"padding and extend must be non-negative and multiple positive, received "
                f"padding={padding}, multiple={multiple}, extend={extend}."
            )
        self.padding, self.multiple, self.extend = int(padding), int(multiple), int(extend)

    def _pad(self, images, axis: int):
        size = ops.shape(images)[axis]
        rows = _reflected(ops.arange(-self.padding, size + self.padding), size)
        padded = size + 2 * self.padding
        # No remainder of a negative number (see `PadToMultiple`).
        extended = ops.arange(
            padded + (self.multiple - size % self.multiple) % self.multiple + self.extend
        )
        return ops.take(images, ops.take(rows, _reflected(extended, padded)), axis=axis)

    def call(self, images):
        return self._pad(self._pad(images, 1), 2)

    def compute_output_shape(self, input_shape):
        def padded(size):
            if size is None:
                return None
            return size + 2 * self.padding + (-size) % self.multiple + self.extend

        return (input_shape[0], padded(input_shape[1]), padded(input_shape[2]), input_shape[3])
