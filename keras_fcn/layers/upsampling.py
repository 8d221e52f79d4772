"""Bilinear upsampling: the kernel of the original FCN's `upsample_filt` and the initializer that
sets transposed convolutions (FCN's `upscore` layers) to it; the corner-aligned zoom of
DeepLab's `Interp` layer and the Dilation front-end (`ZoomToReference`); the resize with pixel
centres aligned of torchvision's segmentation nets (`ResizeToReference`); and Caffe's `Interp`
itself, shrinking and zooming by factors or resizing to a reference (`CaffeInterp`), which
DeepLab v2's multi-scale test net runs on its inputs and scores; and MATLAB's bicubic and bilinear
`imresize` (`imresize_contributions`, `ImresizeToReference`), with which RefineNet's MatConvNet
release fuses its paths and upsamples its scores and PSPNet's evaluation resizes images and
scores."""

import functools
import math
import operator

import keras
import numpy as np

from keras_fcn.layers.config import ConstructorConfig


def _interpolate(features, axis: int, below, above, fraction):
    """Linear interpolation along `axis` (1 or 2) between the rows or columns `below` and
    `above` of `features`, `fraction` of the way: the one step every resize here shares."""
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    fraction = keras.ops.reshape(fraction, shape)
    return (1 - fraction) * keras.ops.take(features, below, axis=axis) + fraction * (
        keras.ops.take(features, above, axis=axis)
    )


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


class _ToReference(keras.layers.Layer):
    """Base of the layers called on `[features, reference]` whose output has the features' batch
    and channels and the reference's height and width: a subclass defines `_resize(features,
    axis, size)`, which resizes axis 1 (rows) or 2 (columns) to `size`, or its own `call`."""

    def _resize(self, features, axis: int, size):
        raise NotImplementedError(f"{type(self).__name__} must define _resize or call.")

    def call(self, inputs):
        features, reference = inputs
        reference_shape = keras.ops.shape(reference)
        features = self._resize(features, 1, reference_shape[1])
        return self._resize(features, 2, reference_shape[2])

    def compute_output_shape(self, input_shape):
        features_shape, reference_shape = input_shape
        return (features_shape[0], reference_shape[1], reference_shape[2], features_shape[3])


@keras.saving.register_keras_serializable(package="keras_fcn")
class ZoomToReference(ConstructorConfig, _ToReference):
    """Zooms feature maps bilinearly by an integer factor, to a reference tensor's height and width.

    Output pixel `(h, w)` is the bilinear interpolation of the input at `(h / factor,
    w / factor)`: input pixel `i` lands on output pixel `factor * i`, the first pixels of both
    coincide, and outputs past the last input row or column take its value. This is Caffe's
    `Interp` layer with `zoom_factor` as DeepLab uses it (align corners: `n` inputs become
    `factor * (n - 1) + 1` outputs, exactly `n - 1` steps of `1 / factor`), followed by the
    crop to the image that DeepLab's evaluation makes, and the `interp_map` that the Dilation
    front-end's `predict.py` applies to its scores (which reads past the last row instead of
    repeating it). `keras.layers.UpSampling2D(interpolation="bilinear")` and
    `keras.ops.image.resize` sample at half-pixel offsets, `(h + 0.5) / factor - 0.5`, and a
    bilinear `Conv2DTranspose` fades to zero past the last input: neither is this.

    Reference: DeepLab's Caffe fork, `src/caffe/layers/interp_layer.cpp` and
    `caffe_cpu_interp2` (`rheight = (height1 - 1) / (height2 - 1)`); Yu & Koltun,
    `fyu/dilation`, `util.py` (`interp_map`).

    Args:
        factor: the zoom factor (the model's output stride).

    Call arguments:
        inputs: a list `[features, reference]`; the output has the features' channels and the
            reference's height and width.

    Example:

    >>> zoom = ZoomToReference(4)
    >>> coarse = np.array([0.0, 4.0, 8.0], "float32").reshape(1, 3, 1, 1)
    >>> zoom([coarse, np.zeros((1, 10, 1, 1))])[0, :, 0, 0].numpy().tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 8.0]
    """

    def __init__(self, factor: int = 8, **kwargs):
        super().__init__(**kwargs)
        if factor < 1:
            raise ValueError(f"factor must be a positive integer, received {factor}.")
        self.factor = int(factor)

    def _resize(self, features, axis: int, size):
        coarse = keras.ops.shape(features)[axis]
        positions = keras.ops.arange(size)
        below = keras.ops.minimum(positions // self.factor, coarse - 1)
        above = keras.ops.minimum(below + 1, coarse - 1)
        # Past the last input (below == above) the output is that input exactly.
        steps = keras.ops.where(above > below, positions % self.factor, 0)
        fraction = keras.ops.cast(steps, self.compute_dtype) / self.factor
        return _interpolate(features, axis, below, above, fraction)


@keras.saving.register_keras_serializable(package="keras_fcn")
class ResizeToReference(_ToReference):
    """Resizes feature maps bilinearly to a reference tensor's height and width, pixel centres
    aligned.

    Output pixel `h` of `m` samples the input of `n` pixels at `(h + 0.5) · n / m − 0.5`,
    clamped at 0, and repeats the last input past it: torch's `F.interpolate(mode="bilinear",
    align_corners=False)` with a target size, which torchvision's segmentation nets apply to
    their logits and to DeepLab v3's image pooling, and `keras.ops.image.resize` (bilinear,
    without antialiasing) or `keras.layers.Resizing`. Those two take a size known when the graph
    is traced; this layer reads the reference's size at every call, so that a model takes images
    of any size and exports with dynamic sizes. A 1×1 input is broadcast.

    Reference: pytorch/pytorch `aten/src/ATen/native/UpSample.h`
    (`area_pixel_compute_source_index`); pytorch/vision `torchvision/models/segmentation/_utils.py`
    (`_SimpleSegmentationModel.forward`).

    Call arguments:
        inputs: a list `[features, reference]`; the output has the features' channels and the
            reference's height and width.

    Example:

    >>> resize = ResizeToReference()
    >>> coarse = np.array([0.0, 4.0], "float32").reshape(1, 2, 1, 1)
    >>> resize([coarse, np.zeros((1, 4, 1, 1))])[0, :, 0, 0].numpy().tolist()
    [0.0, 1.0, 3.0, 4.0]
    """

    def _resize(self, features, axis: int, size):
        coarse = keras.ops.shape(features)[axis]
        scale = keras.ops.cast(coarse, "float32") / keras.ops.cast(size, "float32")
        positions = (keras.ops.cast(keras.ops.arange(size), "float32") + 0.5) * scale - 0.5
        positions = keras.ops.maximum(positions, 0.0)
        below = keras.ops.minimum(keras.ops.cast(keras.ops.floor(positions), "int32"), coarse - 1)
        above = keras.ops.minimum(below + 1, coarse - 1)
        fraction = keras.ops.cast(positions - keras.ops.cast(below, "float32"), self.compute_dtype)
        return _interpolate(features, axis, below, above, fraction)


def interp_size(size: int, shrink_factor: int = 1, zoom_factor: int = 1) -> int:
    """The side Caffe's `Interp` gives a side of `size`: shrink, then zoom.

    Shrinking by `s` keeps every `s`-th sample of the corner-aligned grid, `(size - 1) // s + 1`;
    zooming by `z` puts `z - 1` samples between neighbours, `size + (size - 1) * (z - 1)`.

    Reference: DeepLab's Caffe fork, `src/caffe/layers/interp_layer.cpp` (`Reshape`).

    Example:

    >>> interp_size(513, shrink_factor=2), interp_size(513, shrink_factor=4, zoom_factor=3)
    (257, 385)
    >>> interp_size(49, shrink_factor=3, zoom_factor=4)
    65
    """
    size = (size - 1) // shrink_factor + 1
    return size + (size - 1) * (zoom_factor - 1)


@keras.saving.register_keras_serializable(package="keras_fcn")
class CaffeInterp(ConstructorConfig, keras.layers.Layer):
    """Caffe's `Interp`: bilinear resizing with the corners aligned, by factors or to a reference.

    Called on a tensor, the output's height and width are `interp_size` of the input's with
    `shrink_factor` and `zoom_factor` (shrink, then zoom, as Caffe's `Interp` with both factors
    set). Called on `[features, reference]`, they are the reference's. Either way the whole
    input is resampled once, corners aligned: output row `h` reads input row
    `h * (in - 1) / (out - 1)`, computed in float32 as `caffe_cpu_interp2` does, bilinear between
    its two neighbours (an output of one row reads row 0). Shrinking thus interpolates; it does
    not average.

    Reference: DeepLab's Caffe fork (deeplab-public-ver2), `src/caffe/layers/interp_layer.cpp`
    and `src/caffe/util/interp.cpp` (`caffe_cpu_interp2`); DeepLab v2's multi-scale test net
    (`data_res05`: `shrink_factor: 2`; `data_res075`: `shrink_factor: 4`, `zoom_factor: 3`).

    Args:
        shrink_factor: the shrink factor `s` (1: none).
        zoom_factor: the zoom factor `z` (1: none).

    Call arguments:
        inputs: the features, or `[features, reference]` to resize them to the reference's
            height and width (then both factors must be 1).

    Example:

    >>> shrink = CaffeInterp(shrink_factor=2)
    >>> ramp = np.arange(5, dtype="float32").reshape(1, 5, 1, 1)
    >>> shrink(ramp)[0, :, 0, 0].numpy().tolist()
    [0.0, 2.0, 4.0]
    >>> CaffeInterp()([ramp, np.zeros((1, 9, 1, 1))])[0, :3, 0, 0].numpy().tolist()
    [0.0, 0.5, 1.0]
    """

    def __init__(self, shrink_factor: int = 1, zoom_factor: int = 1, **kwargs):
        super().__init__(**kwargs)
        for name, factor in (("shrink_factor", shrink_factor), ("zoom_factor", zoom_factor)):
            if int(factor) != factor or factor < 1:
                raise ValueError(f"{name} must be a positive integer, received {factor}.")
        self.shrink_factor = int(shrink_factor)
        self.zoom_factor = int(zoom_factor)

    def _to_reference(self, to_reference: bool) -> bool:
        """Whether the layer resizes to a reference; refuses a reference with factors."""
        if to_reference and (self.shrink_factor, self.zoom_factor) != (1, 1):
            raise ValueError(
                f"CaffeInterp {self.name!r} resizes to a reference or by factors, not both: "
                f"received [features, reference] with shrink_factor={self.shrink_factor}, "
                f"zoom_factor={self.zoom_factor}."
            )
        return to_reference

    def _resize(self, features, axis: int, size):
        source = keras.ops.shape(features)[axis]
        ratio = keras.ops.cast(source - 1, "float32") / keras.ops.cast(
            keras.ops.maximum(size - 1, 1), "float32"
        )
        coordinates = keras.ops.cast(keras.ops.arange(size), "float32") * ratio
        below = keras.ops.minimum(keras.ops.cast(keras.ops.floor(coordinates), "int32"), source - 1)
        above = keras.ops.minimum(below + 1, source - 1)
        fraction = keras.ops.cast(coordinates - keras.ops.cast(below, "float32"), features.dtype)
        return _interpolate(features, axis, below, above, fraction)

    def call(self, inputs):
        if self._to_reference(isinstance(inputs, list | tuple)):
            features, reference = inputs
            height, width = keras.ops.shape(reference)[1:3]
        else:
            features = inputs
            height, width = (
                interp_size(side, self.shrink_factor, self.zoom_factor)
                for side in keras.ops.shape(features)[1:3]
            )
        return self._resize(self._resize(features, 1, height), 2, width)

    def compute_output_shape(self, input_shape):
        if self._to_reference(isinstance(input_shape[0], list | tuple)):
            features_shape, reference_shape = input_shape
            return (features_shape[0], *reference_shape[1:3], features_shape[3])
        batch, height, width, channels = input_shape
        height, width = (
            None if side is None else interp_size(side, self.shrink_factor, self.zoom_factor)
            for side in (height, width)
        )
        return (batch, height, width, channels)


IMRESIZE_BORDERS = ("replicate", "symmetric")
"""How MATLAB's `imresize` reads past the edges: repeating the edge sample (`imresize.m` up to
at least its 2013 version, the MATLAB of the RefineNet and PSPNet releases) or mirroring the
samples (later releases)."""


def _cubic(distance, ops):
    """Keys' cubic convolution kernel with a = −0.5, MATLAB's `cubic`: zero from |x| = 2 on."""
    magnitude = ops.abs(distance)
    near = 1.5 * magnitude**3 - 2.5 * magnitude**2 + 1
    far = -0.5 * magnitude**3 + 2.5 * magnitude**2 - 4 * magnitude + 2
    return ops.where(magnitude <= 1, near, ops.where(magnitude <= 2, far, 0.0))


def _triangle(distance, ops):
    """MATLAB's `triangle` ('bilinear'): 1 − |x|, zero from |x| = 1 on."""
    return ops.maximum(1 - ops.abs(distance), 0.0)


IMRESIZE_METHODS = {"bicubic": (_cubic, 4.0), "bilinear": (_triangle, 2.0)}
"""MATLAB's `imresize` methods here, with their kernel and its width (`getMethodInfo`)."""


def imresize_contributions(
    size_in,
    size_out,
    scale=None,
    *,
    method: str = "bicubic",
    antialias: bool = True,
    border: str = "replicate",
):
    """The input samples and weights of each output sample of MATLAB's `imresize` along an axis.

    MATLAB's `contributions`: output sample `i` (from 0) reads the input at `u = (i + 0.5) / s −
    0.5` (MATLAB's `u = x / s + 0.5 (1 − 1 / s)` from 1); when shrinking (s < 1) with
    `antialias`, the kernel `k` of width `w` (`"bicubic"`: Keys' cubic, a = −0.5, width 4;
    `"bilinear"`: the triangle 1 − |x|, width 2) becomes `s · k(s · x)` of width `w / s`. The
    `⌈w⌉ + 2` samples from `⌊u − w / 2⌋` on weigh `k(u − j)`, divided by their sum, and a sample
    outside the input is read as the edge sample (`border="replicate"`: `min(max(1, j), n)`) or
    mirrored (`"symmetric"`: `[1:n, n:-1:1]`).

    With Python numbers for the sizes and the scale (static sizes), this is computed with numpy
    in float64, as MATLAB computes it in double, and the window has MATLAB's `⌈w⌉ + 2` samples.
    With tensors (sizes known only when the graph runs) it is computed with `keras.ops` in
    float32, with a window of `w · n + 2` samples for `n` input samples, every extra sample
    weighing zero (`s ≥ 1 / n`).

    Reference: MATLAB Image Processing Toolbox `imresize.m` (`contributions`, `cubic`,
    `triangle`, `getMethodInfo`); R. Keys, IEEE Trans. ASSP 29(6), 1981.

    Args:
        size_in: the number of input samples `n`.
        size_out: the number of output samples `m`.
        scale: the scale `s`; `None` takes `m / n` (`imresize(x, [h w])`).
        method: a key of `IMRESIZE_METHODS`.
        antialias: whether shrinking widens the kernel (MATLAB's default).
        border: one of `IMRESIZE_BORDERS`.

    Returns:
        `(indices, weights)`, each `(m, taps)`: int32 input samples from 0 and their weights
        (numpy float64 for static sizes, float32 tensors otherwise).

    Example:

    >>> indices, weights = imresize_contributions(4, 2, method="bilinear")
    >>> indices[0].tolist(), weights[0].tolist()
    ([0, 0, 0, 1, 2, 3], [0.0, 0.125, 0.375, 0.375, 0.125, 0.0])
    """
    if method not in IMRESIZE_METHODS:
        raise ValueError(f"method must be one of {tuple(IMRESIZE_METHODS)}; received {method!r}.")
    if border not in IMRESIZE_BORDERS:
        raise ValueError(f"border must be one of {IMRESIZE_BORDERS}; received {border!r}.")
    kernel, width = IMRESIZE_METHODS[method]
    static = all(isinstance(value, int | float) for value in (size_in, size_out)) and (
        scale is None or isinstance(scale, int | float)
    )
    if static:
        ops = np
        scale = size_out / size_in if scale is None else scale
        kernel_scale = min(scale, 1.0) if antialias else 1.0
        outputs = np.arange(1, size_out + 1, dtype="float64")
        offsets = np.arange(math.ceil(width / kernel_scale) + 2)
    else:
        ops = keras.ops
        if scale is None:
            scale = ops.cast(size_out, "float32") / ops.cast(size_in, "float32")
        kernel_scale = ops.minimum(scale, 1.0) if antialias else 1.0
        outputs = ops.cast(ops.arange(size_out), "float32") + 1
        taps = int(width) * size_in + 2 if antialias else int(width) + 2
        offsets = ops.cast(ops.arange(taps), "float32")
    # MATLAB's arithmetic, from 1: u = x / s + 0.5 (1 − 1 / s), left = ⌊u − w / 2⌋.
    positions = outputs / scale + 0.5 * (1 - 1 / scale)
    samples = ops.floor(positions - width / kernel_scale / 2)[:, None] + offsets[None, :]
    weights = kernel_scale * kernel(kernel_scale * (positions[:, None] - samples), ops)
    if static:  # MATLAB's sum along the row, left to right
        weights = weights / functools.reduce(operator.add, weights.T)[:, None]
    else:
        weights = weights / ops.sum(weights, axis=1, keepdims=True)
    samples = samples.astype("int32") - 1 if static else ops.cast(samples, "int32") - 1
    if border == "replicate":
        indices = ops.clip(samples, 0, size_in - 1)
    else:
        folded = ops.mod(samples, 2 * size_in)
        indices = ops.where(folded < size_in, folded, 2 * size_in - 1 - folded)
    return indices, weights


def imresize_matrix(size_in, size_out, scale=None, **options):
    """MATLAB's `imresize` along an axis as an `(m, n)` matrix: `imresize_contributions`, the
    weights of the samples that read the same input sample added up.

    Example:

    >>> imresize_matrix(4, 2, method="bilinear").tolist()
    [[0.5, 0.375, 0.125, 0.0], [0.0, 0.125, 0.375, 0.5]]
    """
    indices, weights = imresize_contributions(size_in, size_out, scale, **options)
    if isinstance(indices, np.ndarray):
        matrix = np.zeros((size_out, size_in))
        np.add.at(matrix, (np.arange(size_out)[:, None], indices), weights)
        return matrix
    rows = keras.ops.arange(keras.ops.shape(indices)[0])[:, None]
    summed = keras.ops.segment_sum(
        keras.ops.reshape(weights, (-1,)),
        keras.ops.reshape(rows * size_in + indices, (-1,)),
        num_segments=size_out * size_in,
        sorted=False,
    )
    return keras.ops.reshape(summed, (size_out, size_in))


@keras.saving.register_keras_serializable(package="keras_fcn")
class ImresizeToReference(ConstructorConfig, _ToReference):
    """Resizes feature maps to a reference tensor's height and width as MATLAB's `imresize` does,
    bicubic or bilinear.

    Along each axis, `n` input samples become `m` output samples at the scale `s = m / n`
    (`imresize(x, [h w], method)`), or at one scale for both axes, `s = max(h / n_h,
    w / n_w)`, of which the first `h` rows and `w` columns are kept (`common_scale=True`:
    `imresize(x, s)` then a crop to `[h w]`, what RefineNet's `my_resize.m` computes on a GPU).
    The weights are MATLAB's `contributions` (`imresize_contributions`): output sample `i` (from
    0) reads the input at `u = (i + 0.5) / s − 0.5`, weighed by Keys' cubic kernel with a = −0.5
    (`"bicubic"`, support |u − k| < 2) or the triangle 1 − |u − k| (`"bilinear"`, support 1);
    when shrinking (s < 1) and with `antialias`, MATLAB's default, by the widened kernel
    `s · k(s · (u − k))` (support 2 / s or 1 / s). The weights of each output sample are divided
    by their sum, then every `k` outside the input is read as the edge sample
    (`border="replicate"`, `imresize.m` up to at least its 2013 version, the MATLAB of the
    RefineNet and PSPNet releases) or mirrored (`"symmetric"`, later MATLAB releases). Up to
    float32 rounding (MATLAB computes the weights in double), this is MATLAB's result on
    floating-point input; MATLAB also rounds integer images after each axis, which a caller does
    (`keras_fcn.inference`'s PSPNet protocols).

    `keras.layers.Resizing(interpolation="bicubic")` and `keras.ops.image.resize` take Keys'
    kernel with the same sample mapping but drop the taps outside the input and renormalise the
    others, which changes every border sample; this layer is written for that gap. Without
    antialiasing and when enlarging, MATLAB's `'bilinear'` is `ResizeToReference`.

    The resize along an axis is the matrix `W` (m × n) of these weights (`imresize_matrix`),
    built from the sizes at every call (so that a model takes images of any size) and applied by
    one `einsum` per axis; rows are resized before columns (MATLAB resizes the axis of the
    smaller scale first, which changes nothing but rounding).

    Reference: MATLAB Image Processing Toolbox `imresize.m` (`contributions`, `cubic`,
    `triangle`); R. Keys, "Cubic Convolution Interpolation for Digital Image Processing", IEEE
    Trans. ASSP 29(6), 1981; guosheng/refinenet `main/my_resize.m`, `main/My_sum_layer.m`;
    hszhao/PSPNet `evaluation/eval_sub.m`, `scale_process.m` (`imresize(…, 'bilinear')`).

    Args:
        common_scale: one scale for both axes, the larger of the two ratios, and a crop
            (RefineNet's GPU path), rather than one scale per axis.
        border: one of `IMRESIZE_BORDERS`.
        antialias: whether shrinking widens the kernel (MATLAB's `'Antialiasing'`, on by
            default); upsampling never does.
        method: `"bicubic"` (MATLAB's default) or `"bilinear"`, a key of `IMRESIZE_METHODS`.

    Call arguments:
        inputs: a list `[features, reference]`; the output has the features' channels and the
            reference's height and width.

    Example:

    >>> resize = ImresizeToReference()
    >>> ramp = np.array([0.0, 1.0, 2.0], "float32").reshape(1, 3, 1, 1)
    >>> values = resize([ramp, np.zeros((1, 6, 1, 1))])[0, :, 0, 0].numpy()
    >>> [round(float(value), 4) for value in values]
    [-0.0703, 0.1797, 0.7266, 1.2734, 1.8203, 2.0703]
    >>> bilinear = ImresizeToReference(method="bilinear")
    >>> bilinear([ramp, np.zeros((1, 6, 1, 1))])[0, :, 0, 0].numpy().tolist()
    [0.0, 0.25, 0.75, 1.25, 1.75, 2.0]
    """

    def __init__(
        self,
        common_scale: bool = False,
        border: str = "replicate",
        antialias: bool = True,
        method: str = "bicubic",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if border not in IMRESIZE_BORDERS:
            raise ValueError(f"border must be one of {IMRESIZE_BORDERS}; received {border!r}.")
        if method not in IMRESIZE_METHODS:
            raise ValueError(
                f"method must be one of {tuple(IMRESIZE_METHODS)}; received {method!r}."
            )
        self.common_scale = bool(common_scale)
        self.border = border
        self.antialias = bool(antialias)
        self.method = method

    def call(self, inputs):
        features, reference = inputs
        sizes_in = tuple(keras.ops.shape(features)[1:3])
        sizes_out = tuple(keras.ops.shape(reference)[1:3])
        if all(isinstance(size, int) for size in sizes_in + sizes_out):
            scales = [out / size for size, out in zip(sizes_in, sizes_out, strict=True)]
            if self.common_scale:
                scales = [max(scales)] * 2
        else:
            scales = [
                keras.ops.cast(out, "float32") / keras.ops.cast(size, "float32")
                for size, out in zip(sizes_in, sizes_out, strict=True)
            ]
            if self.common_scale:
                scales = [keras.ops.maximum(*scales)] * 2
        rows, columns = (
            keras.ops.cast(
                imresize_matrix(
                    size,
                    out,
                    scale,
                    method=self.method,
                    antialias=self.antialias,
                    border=self.border,
                ),
                self.compute_dtype,
            )
            for size, out, scale in zip(sizes_in, sizes_out, scales, strict=True)
        )
        features = keras.ops.einsum("oi,bijc->bojc", rows, features)
        return keras.ops.einsum("oj,bijc->bioc", columns, features)
