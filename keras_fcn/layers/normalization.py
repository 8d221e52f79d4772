"""Local response normalisation across channels, as AlexNet and Caffe's `LRN` layer compute it.

Keras 3 has no LRN layer (`tf.nn.local_response_normalization` is TensorFlow's alone and
differs: it divides `alpha` by nothing and takes a half-width `depth_radius`), so it is written
here with `keras.ops`, for every backend.

Reference: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012, section 3.3; Caffe, `src/caffe/layers/lrn_layer.cpp`
(`ACROSS_CHANNELS`).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_fcn")
class LocalResponseNormalization(keras.layers.Layer):
    """Caffe's across-channel LRN: `x / (k + alpha / n * sum of x² over n channels) ** beta`.

    The sum runs over the `n = local_size` channels centred on each channel (`(n - 1) / 2` on
    each side), zero beyond the first and last channel; `alpha` is divided by `n`, as in Caffe
    (TensorFlow's `local_response_normalization` does not divide it). FCN-AlexNet applies it
    after pool1 and pool2 with `local_size=5`, `alpha=1e-4`, `beta=0.75`.

    Reference: Krizhevsky et al., NIPS 2012, section 3.3; Caffe's `LRNLayer`.

    Args:
        local_size: channels summed over, an odd number.
        alpha: scale of the sum (divided by `local_size`).
        beta: exponent.
        k: additive constant (Caffe's `k`, 1 by default).

    Example:

    >>> lrn = LocalResponseNormalization(local_size=3, alpha=3.0, beta=1.0)
    >>> # Channel 0 sees channels 0 and 1: 2 / (1 + 3 / 3 * (2² + 1²)) = 1/3.
    >>> round(float(lrn(np.array([[[[2.0, 1.0, 0.0]]]]))[0, 0, 0, 0]), 4)
    0.3333
    """

    def __init__(
        self, local_size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0, **kwargs
    ):
        super().__init__(**kwargs)
        if local_size < 1 or local_size % 2 == 0:
            raise ValueError(f"local_size must be a positive odd number, received {local_size}.")
        self.local_size, self.alpha, self.beta, self.k = (
            int(local_size),
            float(alpha),
            float(beta),
            float(k),
        )

    def call(self, inputs):
        channels = inputs.shape[-1]
        half = (self.local_size - 1) // 2
        squares = ops.pad(ops.square(inputs), [[0, 0], [0, 0], [0, 0], [half, half]])
        window_sum = squares[..., :channels]
        for shift in range(1, self.local_size):
            window_sum = window_sum + squares[..., shift : shift + channels]
        scale = self.k + (self.alpha / self.local_size) * window_sum
        return inputs * ops.power(scale, -self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "local_size": self.local_size,
            "alpha": self.alpha,
            "beta": self.beta,
            "k": self.k,
        }
