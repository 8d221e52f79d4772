"""The resizes of the test-time protocols, on numpy arrays: Keras' bilinear resize, or MATLAB's
bilinear `imresize` as PSPNet's evaluation calls it (`keras_fcn.inference.Protocol.resize`)."""

import numpy as np

RESIZE_CHANNELS = 8
"""Channels resized at a time: a backend tensor copies its numpy input, and the score map of a
large scale is hundreds of megabytes (`resize_array`)."""


def resize_array(
    array: np.ndarray, size: tuple[int, int], resize: str, integer: bool = False
) -> np.ndarray:
    """`(H, W, C)` resized to `size` as a protocol's `resize` says (an `integer` image rounded to
    uint8 by `"imresize"`), a few channels at a time.

    Example:

    >>> resize_array(np.ones((4, 6, 3), "float32"), (2, 3), "imresize").shape
    (2, 3, 3)
    """
    import keras

    shrinks = size[0] < array.shape[0] or size[1] < array.shape[1]
    resized = np.empty((*size, array.shape[-1]), "float32")
    for first in range(0, array.shape[-1], RESIZE_CHANNELS):
        channels = slice(first, first + RESIZE_CHANNELS)
        if resize == "imresize":
            resized[:, :, channels] = imresize_bilinear(array[:, :, channels], size, integer)
        else:
            part = keras.ops.image.resize(
                array[None, :, :, channels], size, interpolation="bilinear", antialias=shrinks
            )
            resized[:, :, channels] = keras.ops.convert_to_numpy(part)[0]
    return resized


def imresize_bilinear(
    array: np.ndarray, size: tuple[int, int], integer: bool = False
) -> np.ndarray:
    """MATLAB's `imresize(array, size, 'bilinear')` of an `(H, W, C)` array, as PSPNet's
    evaluation calls it.

    Each axis is resized with `keras_fcn.layers.imresize_contributions` (MATLAB's
    `contributions` with the triangle kernel: antialiased when shrinking, edge pixels
    repeated), the axis of the smaller scale first and rows on a tie (`imresize.m`'s
    `dimensionOrder`, a stable sort). With `integer`, the array stands for a uint8 image
    (`imread`'s, in `eval_sub.m`): after each axis the values are rounded half away from zero
    and saturated to [0, 255], as MATLAB's `imresizemex` returns its input's class. Without, the
    float result (the probabilities of `scale_process.m`). The weights are float64, as
    MATLAB's.

    Reference: MATLAB Image Processing Toolbox `imresize.m` (`contributions`, `triangle`,
    `dimensionOrder`, `resizeAlongDim`); hszhao/PSPNet `evaluation/eval_sub.m`
    (`img_scale = imresize(img,[new_rows new_cols],'bilinear')` of the uint8 image) and
    `evaluation/scale_process.m` (`data_output = imresize(score,[ori_rows ori_cols],'bilinear')`
    of the single-precision probabilities).

    Args:
        array: `(H, W, C)` values.
        size: the output's `(height, width)`.
        integer: whether to round to uint8 after each axis.

    Returns:
        float32 `(height, width, C)`.

    Example:

    Four pixels to two weigh them by (1/2, 3/8, 1/8, 0) and (0, 1/8, 3/8, 1/2): 2.5 and 3.5,
    which round up.

    >>> image = np.array([0.0, 4.0, 8.0, 0.0]).reshape(1, 4, 1)
    >>> imresize_bilinear(image, (1, 2))[0, :, 0].tolist()
    [2.5, 3.5]
    >>> imresize_bilinear(image, (1, 2), integer=True)[0, :, 0].tolist()
    [3.0, 4.0]
    """
    import keras

    from keras_fcn.layers.upsampling import imresize_contributions

    # The image in float64 with numpy (MATLAB's double decides its rounding); the scores in
    # float32 (MATLAB's single) with the backend's ops, on its device.
    ops = np if integer else keras.ops
    array = (
        np.asarray(array, "float64") if integer else keras.ops.convert_to_tensor(array, "float32")
    )
    shape_in = tuple(np.shape(array))
    scales = [out / side for out, side in zip(size, shape_in[:2], strict=True)]
    for axis in sorted((0, 1), key=lambda axis: scales[axis]):
        if shape_in[axis] == size[axis]:
            continue  # the identity: MATLAB copies (isPureNearestNeighborComputation)
        indices, weights = imresize_contributions(shape_in[axis], size[axis], method="bilinear")
        shape = [1, 1, 1]
        shape[axis] = -1
        resized = 0.0
        for tap in range(indices.shape[1]):  # imresizemex's sum, tap after tap
            weight = weights[:, tap].reshape(shape)
            if not integer:
                weight = keras.ops.convert_to_tensor(weight, "float32")
            resized = resized + weight * ops.take(array, indices[:, tap], axis=axis)
        array = np.clip(np.floor(resized + 0.5), 0, 255) if integer else resized
    return np.asarray(keras.ops.convert_to_numpy(array), "float32")
