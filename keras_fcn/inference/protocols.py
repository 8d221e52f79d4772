"""Test-time protocols: the scales, flips and sliding windows with which the papers scored.

A `Protocol` is data: the scales of the image, whether each pass adds its mirror image, the
sliding window (size, stride, the value of the padding), the base size PSPNet scales from, how
the passes are merged, and a dense CRF after them. `PROTOCOLS` names the papers' own, each with
its source. `ProtocolPredictor` runs a model under one, on images of any size.

How a protocol runs, per image (PSPNet's `eval_sub.m` and `scale_process.m`, generalised):

1. For each scale, the image is resized to `round(side · scale)`, or, with `base_size`, to a
   long side of `base_size · scale + 1` and the other side in proportion (PSPNet's rule). How
   (`resize`): `"bilinear"` is Keras' bilinear resize, antialiased when it shrinks;
   `"imresize"` is MATLAB's `imresize(img, [h w], 'bilinear')` on a uint8 image, as PSPNet's
   `eval_sub.m` calls it: `keras_fcn.layers.imresize_contributions` (the triangle kernel,
   widened when shrinking, pixel centres aligned, edge pixels repeated), one axis after the
   other (the axis of the smaller scale first, rows on a tie, `imresize.m`'s `dimensionOrder`),
   the result rounded half away from zero to uint8 after each axis, as MATLAB's `imresizemex`
   returns an integer image's class.
2. Without a window, the model runs once on the scaled image. With one, the scaled image is
   padded at the bottom and right with `pad_value` up to the window where it is smaller, and
   windows are taken on a grid of `⌈(padded − window) / stride⌉ + 1` positions per axis, the
   last one moved back to end at the border; the windows' scores are added up and divided by
   the number of windows covering each pixel, then the padding is cropped off. Windows run in
   batches of `batch_size`.
3. The per-scale scores are resized back to the image (`"imresize"`: MATLAB's bilinear
   `imresize` on floats, `scale_process.m`) and merged (`merge`):
   - `"logits"` (PSPNet, `caffe_process.m`, `scale_process.m`): each window's score is the
     softmax of its logits plus its mirror image's logits mirrored back; windows average these
     probabilities; the scale's probabilities, resized back, are divided by their sum over the
     classes; the scales' probabilities are averaged.
   - `"probabilities"` (DeepLab v3, `predict_labels_multi_scale`): the image and its mirror
     are separate passes; each pass's logits (averaged over windows) are resized to the image,
     then turned into probabilities; every pass's probabilities are averaged.
   - `"max"` (DeepLab v2's MSC): the same passes; their logits resized to the image are merged
     by an elementwise maximum, and the softmax of the maximum is returned.
4. With `crf`, the merged probabilities go through `keras_fcn.dense_crf` with those settings.

The output is always class probabilities at the image's size, whose argmax is the prediction.

The model runs through `keras_fcn.inference.logits_function` and the scores are flipped,
resized and normalised with `keras.ops`, so every Keras backend runs a protocol; windows are cut
from, and scores accumulated into, numpy arrays.

Memory: one scale at a time. The largest buffers are the scaled, padded image, the sum of its
windows' scores at that scale (`padded height × padded width × classes` float32) with one count
per pixel, one batch of windows' scores (twice that with a fused flip), and two score maps at
the image's size (the scale's, resized, and the running merge). Windows are never all held at
once, and score maps are resized a few channels at a time. For Cityscapes at PSPNet's largest
scale (1.75 of a long side of 2048: 3585 × 1793, 19 classes), the sum is 488 MB, and the whole
six-scale protocol peaks at about 1 GB above the model with a small net
(`benchmarks/inference_protocols.py`).
"""

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from keras_fcn.inference.crf import CRF_SETTINGS, dense_crf
from keras_fcn.inference.resizing import resize_array

if TYPE_CHECKING:  # Keras is imported where a model runs: the protocols are data without it
    import keras

MERGES = ("logits", "probabilities", "max")
"""How a protocol merges its passes (see the module docstring)."""

RESIZES = ("bilinear", "imresize")
"""How a protocol resizes the image and the scores: Keras' antialiased bilinear resize, or
MATLAB's bilinear `imresize` with the image rounded to uint8 (see the module docstring)."""

PSPNET_MEAN = (123.68, 116.779, 103.939)
"""The RGB mean PSPNet pads its windows with, for every dataset (hszhao/PSPNet:evaluation/
eval_all.m): the padding is zero after the mean is subtracted."""

PSPNET_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
"""PSPNet's and DeepLab v3's multi-scale inference: 0.5 to 1.75 in steps of 0.25."""

PSPNET_SOURCE = "hszhao/PSPNet:evaluation/eval_all.m, eval_sub.m, scale_process.m, caffe_process.m"


def _pair(value, name: str) -> tuple[int, int] | None:
    """A `(height, width)` of positive integers from one integer or a pair, or `None`."""
    if value is None:
        return None
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(side, int) and side > 0 for side in pair):
        raise ValueError(
            f"{name} must be a positive integer or a (height, width) pair of them; received "
            f"{value!r}."
        )
    return pair


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How a model is run on an image to score it: scales, flip, windows, merge, CRF.

    The steps are in the module docstring. `PROTOCOLS` holds the papers' protocols by name;
    `dataclasses.replace(protocol, scales=(1.0,))` changes one setting.

    Args:
        name: what the protocol is called (`"custom"` for one's own).
        scales: factors of the image's size (or of `base_size`), one pass each.
        flip: whether each pass also runs on the image mirrored left to right.
        window: `(height, width)` (or one integer) of the sliding windows, or `None` for one
            pass over the whole scaled image.
        stride: `(height, width)` (or one integer) between windows; `None` takes PSPNet's
            `⌈2/3 · window⌉`. At most the window, so that every pixel is covered.
        pad_value: the value of the padding up to the window: a number, or one per RGB channel
            (a dataset's mean, which the model's preprocessing turns into zero).
        base_size: with it, a scale's long side is `base_size · scale + 1` (PSPNet's rule);
            without, each side is the image's times the scale.
        merge: `"logits"`, `"probabilities"` or `"max"` (see the module docstring).
        resize: `"bilinear"` or `"imresize"` (MATLAB's, PSPNet's; see the module docstring).
        crf: a name of `keras_fcn.inference.CRF_SETTINGS`, to refine the merged probabilities
            with `keras_fcn.dense_crf`, or `None`.
        source: where the settings come from.

    Example:

    >>> Protocol(window=473).window_stride
    (316, 316)
    """

    name: str = "custom"
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    window: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    pad_value: float | tuple[float, float, float] = 0.0
    base_size: int | None = None
    merge: str = "probabilities"
    resize: str = "bilinear"
    crf: str | None = None
    source: str = ""

    def __post_init__(self):
        scales = tuple(float(scale) for scale in np.atleast_1d(self.scales))
        if not scales or not all(scale > 0 for scale in scales):
            raise ValueError(f"scales must be positive numbers; received {self.scales!r}.")
        window, stride = _pair(self.window, "window"), _pair(self.stride, "stride")
        if stride is not None and window is None:
            raise ValueError(f"stride={self.stride!r} needs a window; pass window=(h, w) too.")
        if stride is not None and (stride[0] > window[0] or stride[1] > window[1]):
            raise ValueError(
                f"stride {stride} is larger than the window {window}: pixels between windows "
                "would be left out. Use a stride of at most the window."
            )
        pad_value = np.asarray(self.pad_value, dtype="float64")
        if pad_value.shape not in ((), (3,)):
            raise ValueError(
                f"pad_value must be a number or one per RGB channel; received {self.pad_value!r}."
            )
        pad_value = float(pad_value) if pad_value.ndim == 0 else tuple(pad_value.tolist())
        if self.base_size is not None and (
            not isinstance(self.base_size, int) or self.base_size < 1
        ):
            raise ValueError(f"base_size must be a positive integer, received {self.base_size!r}.")
        if self.merge not in MERGES:
            raise ValueError(f"merge must be one of {MERGES}; received {self.merge!r}.")
        if self.resize not in RESIZES:
            raise ValueError(f"resize must be one of {RESIZES}; received {self.resize!r}.")
        if self.crf is not None and self.crf not in CRF_SETTINGS:
            raise ValueError(
                f"crf must be None or one of {sorted(CRF_SETTINGS)}; received {self.crf!r}."
            )
        for field, value in (
            ("scales", scales),
            ("flip", bool(self.flip)),
            ("window", window),
            ("stride", stride),
            ("pad_value", pad_value),
        ):
            object.__setattr__(self, field, value)

    @property
    def window_stride(self) -> tuple[int, int] | None:
        """The stride between windows: `stride`, or PSPNet's `⌈2/3 · window⌉` per axis."""
        if self.window is None:
            return None
        if self.stride is not None:
            return self.stride
        return tuple(math.ceil(side * 2 / 3) for side in self.window)

    def describe(self) -> str:
        """The protocol in one line: its name and every setting that it uses.

        Example:

        >>> PROTOCOLS["deeplab-v2-msc"].describe()
        'deeplab-v2-msc: scales 1, 0.75, 0.5, merge max'
        """
        scales = ", ".join(f"{scale:g}" for scale in self.scales)
        parts = [
            f"scales {scales}"
            + (f" (long side {self.base_size}·scale + 1)" if self.base_size else "")
        ]
        if self.flip:
            parts.append("flip")
        if self.window is not None:
            height, width = self.window
            stride = self.window_stride
            pad = self.pad_value
            pad = ", ".join(f"{value:g}" for value in pad) if isinstance(pad, tuple) else f"{pad:g}"
            parts.append(
                f"windows {height}×{width} stride {stride[0]}×{stride[1]} padded with ({pad})"
            )
        if len(self.scales) > 1 or self.flip or self.window is not None:
            parts.append(f"merge {self.merge}")
        if self.resize != "bilinear":
            parts.append(f"resize {self.resize}")
        if self.crf is not None:
            parts.append(f"dense CRF {self.crf}")
        return f"{self.name}: " + ", ".join(parts)


def _pspnet(
    name: str, scales: tuple[float, ...], window: int, base_size: int, source: str
) -> Protocol:
    """A protocol of PSPNet's `eval_all.m`: the image and its mirror in square windows padded
    with the mean, scaled from a long side of `base_size`, logits merged, MATLAB's `imresize`."""
    return Protocol(
        name,
        scales=scales,
        flip=True,
        window=(window, window),
        pad_value=PSPNET_MEAN,
        base_size=base_size,
        merge="logits",
        resize="imresize",
        source=f"{source}: {PSPNET_SOURCE}",
    )


PROTOCOLS = {
    protocol.name: protocol
    for protocol in (
        Protocol(
            "single-scale",
            source="the model once at the image's own size: FCN (score.py), DeepLab v1/v2 "
            "without MSC, torchvision's references",
        ),
        _pspnet(
            "pspnet-ss",
            (1.0,),
            473,
            512,
            "PSPNet on VOC 2012 and ADE20K, single scale (its 'ss' scores include the flip)",
        ),
        _pspnet("pspnet-ms", PSPNET_SCALES, 473, 512, "PSPNet on VOC 2012 and ADE20K, multi-scale"),
        _pspnet("pspnet-cityscapes-ss", (1.0,), 713, 2048, "PSPNet on Cityscapes, single scale"),
        _pspnet(
            "pspnet-cityscapes-ms", PSPNET_SCALES, 713, 2048, "PSPNet on Cityscapes, multi-scale"
        ),
        Protocol(
            "deeplab-v3-ms",
            scales=PSPNET_SCALES,
            flip=True,
            merge="probabilities",
            source="DeepLab v3 (arXiv 1706.05587, table 6: +MS +flip): "
            "tensorflow/models:research/deeplab/model.py predict_labels_multi_scale "
            "(eval_scales, add_flipped_images)",
        ),
        Protocol(
            "deeplab-v2-msc",
            scales=(1.0, 0.75, 0.5),
            merge="max",
            source="DeepLab v2 MSC: nightrome/cocostuff10k:models/deeplab/cocostuff/config/"
            "deeplabv2_resnet101/test.prototxt (fc_fusion: Eltwise MAX)",
        ),
        Protocol(
            "deeplab-v2-msc-crf",
            scales=(1.0, 0.75, 0.5),
            merge="max",
            crf="deeplab-v2-voc",
            source="DeepLab v2 MSC then the dense CRF (PAMI 2017, table 4): test.prototxt as "
            "deeplab-v2-msc; CRF settings kazuto1011/deeplab-pytorch:configs/voc12.yaml",
        ),
    )
}
"""The papers' test-time protocols by name, each with its source (README, "Reproducing a
paper's number")."""


def get_protocol(protocol: str | Protocol) -> Protocol:
    """A `Protocol` given as itself or by its name in `PROTOCOLS`.

    Example:

    >>> get_protocol("pspnet-ms").scales
    (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
    """
    if isinstance(protocol, Protocol):
        return protocol
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"Unknown protocol {protocol!r}; expected one of {list(PROTOCOLS)} or a "
            "keras_fcn.inference.Protocol."
        )
    return PROTOCOLS[protocol]


def scaled_size(
    size: tuple[int, int], scale: float, base_size: int | None = None
) -> tuple[int, int]:
    """The `(height, width)` an image of `size` is resized to at `scale`.

    Without `base_size`, each side times the scale, rounded half up (at least 1). With it,
    PSPNet's rule (`eval_sub.m`): the long side becomes `long = base_size · scale + 1` (rounded
    up, as `imresize` does a size), the short side `round(long / single(original long) ·
    original short)`, computed in single precision as MATLAB does with a `single` operand, so
    that a product a float32 rounding away from a half rounds as PSPNet's.

    Example:

    A 375×500 VOC image at 0.75 of PSPNet's base size 512: the long side is 512 · 0.75 + 1 = 385
    and the short side round(385 / 500 · 375) = round(288.75) = 289. For a 95×190 image, 385 /
    190 · 95 is 192.5 in double but 192.49998 in single: 192.

    >>> scaled_size((375, 500), 0.75, base_size=512)
    (289, 385)
    >>> scaled_size((95, 190), 0.75, base_size=512)
    (192, 385)
    >>> scaled_size((375, 500), 0.75)
    (281, 375)
    """
    height, width = size
    if base_size is None:
        return tuple(max(1, math.floor(side * scale + 0.5)) for side in (height, width))
    long_side = base_size * scale + 1
    long_original, short_original = (height, width) if height > width else (width, height)
    short = np.float32(long_side) / np.float32(long_original) * np.float32(short_original)
    short = max(1, math.floor(float(short) + 0.5))
    long_side = math.ceil(long_side)
    return (long_side, short) if height > width else (short, long_side)


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Where the windows along one axis of `size` (at least `window`) start.

    PSPNet's grid (`scale_process.m`): `⌈(size − window) / stride⌉ + 1` windows, the i-th at
    `i · stride`, the last one moved back to end at the border.

    Example:

    13 columns, windows of 6 every 4: ⌈(13 − 6) / 4⌉ + 1 = 3 windows, at 0, 4 and 8 → 7.

    >>> window_starts(13, 6, 4)
    [0, 4, 7]
    """
    if size < window:
        raise ValueError(f"The axis ({size}) is smaller than the window ({window}); pad it.")
    count = math.ceil((size - window) / stride) + 1
    return [min(index * stride, size - window) for index in range(count)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))


class ProtocolPredictor:
    """A model run under a test-time protocol: images to class probabilities.

    The model is called through `keras_fcn.inference.logits_function` (one `tf.function` for
    every size on TensorFlow), on batches of `batch_size` windows (a window and its mirror
    count as two), one image at a time.

    Args:
        model: a model mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)` logits.
        protocol: a name of `PROTOCOLS` or a `Protocol`.
        batch_size: windows per model call.
        verbose: 1 shows a `keras.utils.Progbar` over each image's model calls (for large
            images at many scales), 0 nothing.

    Returns (when called on images `(B, H, W, 3)`, RGB in [0, 255]):
        float32 class probabilities `(B, H, W, num_classes)`, numpy.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> predictor = ProtocolPredictor(model, Protocol(scales=(0.5, 1.0), flip=True, window=8))
    >>> predictor(np.zeros((1, 13, 21, 3))).shape
    (1, 13, 21, 2)
    """

    def __init__(
        self,
        model: "keras.Model",
        protocol: str | Protocol = "single-scale",
        batch_size: int = 4,
        verbose: int = 0,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}.")
        self.protocol = get_protocol(protocol)
        self.batch_size = batch_size
        self.verbose = verbose
        from keras_fcn.inference.single_scale import logits_function

        self._logits = logits_function(model)
        # PSPNet's windows give probabilities, with the mirror image fused in (caffe_process.m).
        self._window_probabilities = self.protocol.merge == "logits"
        self._fuse_flip = self.protocol.flip and self._window_probabilities
        self._windows_per_call = max(1, batch_size // 2) if self._fuse_flip else batch_size

    def __call__(self, images) -> np.ndarray:
        images = np.asarray(images, dtype="float32")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"ProtocolPredictor expects a batch of RGB images (B, H, W, 3); received an "
                f"array of shape {images.shape}."
            )
        return np.stack([self.predict_image(image) for image in images])

    def predict_image(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities `(H, W, num_classes)` of one RGB image `(H, W, 3)`."""
        protocol = self.protocol
        image = np.asarray(image, dtype="float32")
        size = image.shape[:2]
        sizes = [scaled_size(size, scale, protocol.base_size) for scale in protocol.scales]
        mirrors = (False, True) if protocol.flip and not self._fuse_flip else (False,)
        progress = None
        if self.verbose:
            import keras

            calls = sum(self._calls(scaled) for scaled in sizes) * len(mirrors)
            progress = keras.utils.Progbar(calls, verbose=self.verbose, unit_name="call")
        merged, passes = None, 0
        for scaled_shape in sizes:
            scaled = self._resize(image, scaled_shape, integer=True)
            for mirrored in mirrors:
                scores = self._sweep(scaled[:, ::-1] if mirrored else scaled, progress)
                scores = self._resize(scores[:, ::-1] if mirrored else scores, size)
                if self._window_probabilities:
                    # scale_process.m: the resized probabilities divided by their sum.
                    scores /= scores.sum(axis=-1, keepdims=True)
                if protocol.merge == "probabilities":
                    scores = _softmax(scores)
                if merged is None:
                    merged = np.array(scores, dtype="float32")
                elif protocol.merge == "max":
                    np.maximum(merged, scores, out=merged)
                else:
                    merged += scores
                passes += 1
        merged = _softmax(merged) if protocol.merge == "max" else merged / passes
        if protocol.crf is not None:
            merged = dense_crf(image, merged, settings=protocol.crf)
        return merged

    def _resize(self, array: np.ndarray, size: tuple[int, int], integer: bool = False):
        """The image (`integer`) or scores resized as the protocol's `resize` says."""
        if tuple(array.shape[:2]) == tuple(size):
            return array
        return resize_array(array, size, self.protocol.resize, integer)

    def _grid(self, size: tuple[int, int]) -> tuple[tuple[int, int], list, list]:
        """The padded size of a scaled image and its windows' starts along each axis."""
        window = self.protocol.window or size
        stride = self.protocol.window_stride or size
        padded = tuple(
            max(side, side_window) for side, side_window in zip(size, window, strict=True)
        )
        rows, columns = (window_starts(padded[axis], window[axis], stride[axis]) for axis in (0, 1))
        return padded, rows, columns

    def _calls(self, size: tuple[int, int]) -> int:
        _, rows, columns = self._grid(size)
        return math.ceil(len(rows) * len(columns) / self._windows_per_call)

    def _sweep(self, image: np.ndarray, progress) -> np.ndarray:
        """The scores of one scaled image, its windows averaged by count: probabilities for
        `merge="logits"`, logits otherwise."""
        height, width = image.shape[:2]
        (padded_height, padded_width), rows, columns = self._grid((height, width))
        window_height, window_width = self.protocol.window or (height, width)
        if (padded_height, padded_width) != (height, width):
            padded = np.empty((padded_height, padded_width, 3), "float32")
            padded[...] = self.protocol.pad_value
            padded[:height, :width] = image
            image = padded
        starts = [(row, column) for row in rows for column in columns]
        total = counts = None
        for first in range(0, len(starts), self._windows_per_call):
            batch = starts[first : first + self._windows_per_call]
            windows = np.stack(
                [image[y : y + window_height, x : x + window_width] for y, x in batch]
            )
            scores = self._scores(windows)
            if progress is not None:
                progress.add(1)
            if len(starts) == 1:
                return scores[0, :height, :width]
            if total is None:
                total = np.zeros((padded_height, padded_width, scores.shape[-1]), "float32")
                counts = np.zeros((padded_height, padded_width, 1), "float32")
            for (y, x), score in zip(batch, scores, strict=True):
                total[y : y + window_height, x : x + window_width] += score
                counts[y : y + window_height, x : x + window_width] += 1
        np.divide(total, counts, out=total)
        return total[:height, :width]

    def _scores(self, windows: np.ndarray) -> np.ndarray:
        """The model's scores of a batch of windows: logits, or for `merge="logits"` the softmax
        of the logits plus (with `flip`) the mirror image's logits mirrored back (PSPNet's
        `caffe_process.m`)."""
        import keras

        if not self._window_probabilities:
            return keras.ops.convert_to_numpy(self._logits(windows))
        if not self._fuse_flip:
            return _softmax(self._logits(windows))
        count = windows.shape[0]
        logits = self._logits(np.concatenate([windows, windows[:, :, ::-1]]))
        return _softmax(logits[:count] + keras.ops.flip(logits[count:], axis=2))
