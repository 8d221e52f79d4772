"""Bilinear upsampling: the kernel of the original FCN's `upsample_filt`, and the initializer
that sets transposed convolutions (FCN's `upscore` layers) to it."""

import keras
import numpy as np


def bilinear_kernel(size: int) -> np.ndarray:
    """Returns the 2-D bilinear interpolation kernel of the original FCN (`upsample_filt`).

    A transposed convolution of stride `s` with this kernel of size `2 * s` interpolates
    bilinearly: `factor = (size + 1) // 2`, `center = factor - 1` for odd sizes and
    `factor - 0.5` for even ones, and `w(i, j) = (1 - |i - center| / factor) *
    (1 - |j - center| / factor)`.

    Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
    Segmentation", CVPR 2015, section 3.3 (`surgery.py`'s `upsample_filt`).

    Args:
        size: side of the square kernel, at least 1.

    Returns:
        A float32 array of shape `(size, size)`.

    Example:

    >>> bilinear_kernel(4)[0].tolist()
    [0.0625, 0.1875, 0.1875, 0.0625]
    """
    if size < 1:
        raise ValueError(f"The kernel size must be at least 1, received {size}.")
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    profile = 1 - np.abs(np.arange(size) - center) / factor
    return np.outer(profile, profile).astype("float32")


@keras.saving.register_keras_serializable(package="keras_fcn")
class BilinearUpsampling(keras.initializers.Initializer):
    """Initializes a `Conv2DTranspose` kernel to bilinear upsampling, channel by channel.

    Channel `i` of the output is the bilinear interpolation of input channel `i`; the kernel is
    zero between different channels. Use it with `strides=s`, `kernel_size=2 * s` and
    `use_bias=False`, as FCN's `upscore` layers do.

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 3.3.

    Example:

    >>> upsample = keras.layers.Conv2DTranspose(
    ...     21, kernel_size=4, strides=2, use_bias=False,
    ...     kernel_initializer=BilinearUpsampling())
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 4 or shape[0] != shape[1] or shape[2] != shape[3]:
            raise ValueError(
                "BilinearUpsampling expects a square Conv2DTranspose kernel with as many input "
                f"as output channels, shape (k, k, C, C); received {tuple(shape)}."
            )
        size, channels = shape[0], shape[2]
        kernel = np.zeros(shape, dtype="float32")
        kernel[:, :, np.arange(channels), np.arange(channels)] = bilinear_kernel(size)[..., None]
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")

    def get_config(self) -> dict:
        return {}
