"""Geometry layers: padding an input to a multiple of the network's stride, and cropping a
feature map to a reference tensor's (dynamic) size from a fixed offset, as Caffe's `Crop` does."""

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
