"""The training loss on labels subsampled by the output stride, as DeepLab and Dilation train.

DeepLab compares its 1/8 scores with the labels shrunk 8× (`label_shrink`, Caffe's `Interp`
with `shrink_factor: 8`, which on 8k + 1 sized crops such as 321 picks rows and columns 0, 8,
16, ...), and the Dilation front-end with the labels sliced every 8 pixels (`label_slice`,
`stride: 8`); neither upsamples before the loss. The models here return logits zoomed to the
input with the corners aligned (`keras_fcn.layers.ZoomToReference`), whose every 8th row and
column is the 1/8 score map itself, so comparing every 8th pixel of logits and labels is the
original loss, with the model unchanged.

Reference: DeepLab-LargeFOV's and DeepLab v2's `train.prototxt` (`label_shrink`); Yu & Koltun,
`fyu/dilation`, `network.py` (`make_image_label_data`, `label_slice`).
"""

import keras


@keras.saving.register_keras_serializable(package="keras_fcn")
class SubsampledSparseCategoricalCrossentropy(keras.losses.SparseCategoricalCrossentropy):
    """Sparse categorical cross-entropy on every `stride`-th row and column, from the first.

    Labels `(B, H, W)` and logits `(B, H, W, C)` are both sliced `[:, ::stride, ::stride]`
    before `keras.losses.SparseCategoricalCrossentropy`, with its arguments unchanged
    (`ignore_class` leaves void pixels out of the sum and the mean).

    Args:
        stride: keep every `stride`-th pixel (the model's output stride); 1 keeps all.
        from_logits, ignore_class, reduction, ...: as
            `keras.losses.SparseCategoricalCrossentropy`.

    Example:

    >>> loss = SubsampledSparseCategoricalCrossentropy(8, from_logits=True, ignore_class=255)
    >>> labels = np.full((1, 9, 9), 255)
    >>> labels[0, 0, 8] = 1  # the one labelled pixel on the 8-pixel grid
    >>> logits = np.zeros((1, 9, 9, 2), "float32")
    >>> round(float(loss(labels, logits)), 4)  # -log(1/2)
    0.6931
    """

    def __init__(self, stride: int = 8, **kwargs):
        super().__init__(**kwargs)
        if stride < 1:
            raise ValueError(f"stride must be a positive integer, received {stride}.")
        self.stride = int(stride)

    def call(self, y_true, y_pred):
        y_true = y_true[:, :: self.stride, :: self.stride]
        y_pred = y_pred[:, :: self.stride, :: self.stride]
        return super().call(y_true, y_pred)

    def get_config(self) -> dict:
        return {**super().get_config(), "stride": self.stride}
