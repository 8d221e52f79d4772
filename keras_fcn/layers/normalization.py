"""Local response normalisation across channels, as Caffe's `LRN` layer computes it.

Keras 3 has no LRN layer. Caffe's `ACROSS_CHANNELS` mode divides each value by a power of the
sum of squares of `local_size` neighbouring channels (centred, zero beyond the first and last
channel):

    y_c = x_c / (k + alpha / local_size · Σ_{c' = c - r … c + r} x_c'²) ** beta

with `r = (local_size - 1) / 2`. Note that `alpha` is divided by `local_size` (TensorFlow's
`tf.nn.local_response_normalization` takes `alpha / local_size` as its `alpha` and `r` as its
`depth_radius`). The window sum is one matrix product of the squared input with a banded 0/1
matrix of the channels, so the layer is written with `keras.ops` only.

Reference: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012, section 3.3; Caffe, `src/caffe/layers/lrn_layer.cpp`
(`CrossChannelForward_cpu`).
"""

import keras
import numpy as np
from keras import ops

from keras_fcn.layers.config import ConstructorConfig


def channel_window(channels: int, local_size: int) -> np.ndarray:
    """The `(channels, channels)` 0/1 matrix summing each channel's `local_size` neighbours.

    Entry `[i, j]` is 1 when input channel `i` lies in the window centred on output channel `j`.

    Example:

    >>> channel_window(4, 3).astype(int).tolist()
    [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]
    """
    radius = (local_size - 1) // 2
    index = np.arange(channels)
    return (np.abs(index[:, None] - index[None, :]) <= radius).astype("float32")


@keras.saving.register_keras_serializable(package="keras_fcn")
class LocalResponseNormalization(ConstructorConfig, keras.layers.Layer):
    """Caffe's local response normalisation across channels (`norm_region: ACROSS_CHANNELS`).

    See the module docstring for the formula. The arguments are Caffe's `lrn_param` fields with
    Caffe's defaults. Inputs of pixel scale make large sums of squares (3·255² for an RGB
    image): give the layer `dtype="float32"` under a float16 policy.

    Reference: Caffe's `LRNLayer`; Krizhevsky et al., NIPS 2012, section 3.3.

    Args:
        local_size: the number of channels summed, odd (Caffe's `local_size`).
        alpha: the scale of the sum of squares, divided by `local_size` (Caffe's `alpha`).
        beta: the exponent (Caffe's `beta`).
        k: the constant added to the scaled sum (Caffe's `k`).

    Example:

    >>> lrn = LocalResponseNormalization(local_size=5, alpha=1e-4, beta=0.75)
    >>> x = np.full((1, 1, 1, 3), 100.0, "float32")
    >>> round(float(lrn(x)[0, 0, 0, 0]), 3)  # 100 / (1 + 1e-4 / 5 · 3 · 100²) ** 0.75
    70.293
    """

    def __init__(
        self,
        local_size: int = 5,
        alpha: float = 1.0,
        beta: float = 0.75,
        k: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if local_size < 1 or local_size % 2 == 0:
            raise ValueError(
                f"LocalResponseNormalization needs an odd local_size, as Caffe does; received "
                f"{local_size}."
            )
        if k <= 0 and alpha <= 0:
            raise ValueError(
                f"LocalResponseNormalization needs k > 0 or alpha > 0 so that the divisor is "
                f"positive; received k={k}, alpha={alpha}."
            )
        self.local_size, self.alpha, self.beta, self.k = (
            int(local_size),
            float(alpha),
            float(beta),
            float(k),
        )
        self._window = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"LocalResponseNormalization {self.name!r} needs a known number of channels; "
                f"received input shape {tuple(input_shape)}."
            )
        self._window = channel_window(channels, self.local_size)

    def call(self, inputs):
        window = ops.convert_to_tensor(self._window, dtype=inputs.dtype)
        sums = ops.matmul(ops.square(inputs), window)
        return inputs * ops.power(self.k + self.alpha / self.local_size * sums, -self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape
