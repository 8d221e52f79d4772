"""A feature map split into its phases: the layout in which a dilated convolution is an
undilated one.

The `rate × rate` phases of a map are its sub-maps of every `rate`-th row and column, one per
offset `(p, q)`: phase `(p, q)` holds the pixels `(rate·m + p, rate·n + q)`. A 3×3 convolution
dilated by `rate` reads, for each pixel, the pixels `rate` rows and columns away, all in the
pixel's own phase, where they are neighbours: it is the undilated 3×3 convolution of each phase.
TensorFlow's `tf.nn.convolution` runs every dilated convolution this way, splitting the map
before it and merging it after (`SpaceToBatchND`, `BatchToSpaceND`). Here the phases are kept
across a whole stage: the layers between its dilated convolutions act on each pixel alone (1×1
convolutions, activations, sums), so they give the same values on the phases, and the map is
split once before the stage and merged once after it (`keras_fcn.inference.phase_layout` picks
the stages).

The phases stack on the batch axis, phase-major (`(p·rate + q)·batch + b`), each
`ceil(height / rate) × ceil(width / rate)`: a size that is not a multiple of the rate is padded
at the bottom and right first. A "same" convolution on the whole map reads zeros beyond its
edge, so `PhaseConv2D` zeroes those padded pixels (`PhaseValidity`) before it convolves: the
layers before it may have written anything there.
"""

import keras
from keras import ops

from keras_fcn.layers.config import ConstructorConfig
from keras_fcn.layers.stride_one_conv import StrideOneConv2D


def _split(maps, rate: int):
    """`maps` `(B, H, W, C)` as its phases `(rate²·B, ceil(H / rate), ceil(W / rate), C)`."""
    batch, height, width, channels = ops.shape(maps)
    rows, columns = -(-height // rate), -(-width // rate)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # TensorFlow's own op, the same layout: a 65 × 65 × 1,024 map splits in 2.1 ms against
        # 3.8 ms as a pad, reshape and transpose.
        padding = [[0, rows * rate - height], [0, columns * rate - width]]
        return tf.space_to_batch(maps, [rate, rate], padding)
    padding = [[0, 0], [0, rows * rate - height], [0, columns * rate - width], [0, 0]]
    maps = ops.reshape(ops.pad(maps, padding), (batch, rows, rate, columns, rate, channels))
    maps = ops.transpose(maps, (2, 4, 0, 1, 3, 5))
    return ops.reshape(maps, (rate * rate * batch, rows, columns, channels))


def _merge(phases, rate: int, height, width):
    """`_split`'s inverse: the `(B, height, width, C)` map of `phases`."""
    _, rows, columns, channels = ops.shape(phases)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # TensorFlow's own op (1.9 ms against 2.7 ms on a 65 × 65 × 1,024 map).
        crops = [[0, rows * rate - height], [0, columns * rate - width]]
        return tf.batch_to_space(phases, [rate, rate], crops)
    maps = ops.reshape(phases, (rate, rate, -1, rows, columns, channels))
    maps = ops.transpose(maps, (2, 3, 0, 4, 1, 5))
    maps = ops.reshape(maps, (-1, rows * rate, columns * rate, channels))
    return maps[:, :height, :width, :]


def _phase_rate(rate) -> int:
    rate = int(rate)
    if rate < 2:
        raise ValueError(f"A map splits into phases at a rate of 2 or more, received {rate}.")
    return rate


@keras.saving.register_keras_serializable(package="keras_fcn")
class SpaceToPhases(ConstructorConfig, keras.layers.Layer):
    """Splits a `(B, H, W, C)` map into its `rate × rate` phases, stacked on the batch axis.

    Args:
        rate: the phases' stride, the dilation of the convolutions they serve.

    Example:

    >>> maps = np.arange(25.0).reshape(1, 5, 5, 1)
    >>> phases = SpaceToPhases(2)(maps)
    >>> tuple(phases.shape), keras.ops.convert_to_numpy(phases[1, :, :, 0]).tolist()
    ((4, 3, 3, 1), [[1.0, 3.0, 0.0], [11.0, 13.0, 0.0], [21.0, 23.0, 0.0]])
    """

    def __init__(self, rate: int, **kwargs):
        super().__init__(**kwargs)
        self.rate = _phase_rate(rate)

    def call(self, maps):
        return _split(maps, self.rate)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape

        def divided(size):
            return None if size is None else -(-size // self.rate)

        batch = None if batch is None else batch * self.rate**2
        return (batch, divided(height), divided(width), channels)


@keras.saving.register_keras_serializable(package="keras_fcn")
class PhaseValidity(ConstructorConfig, keras.layers.Layer):
    """Ones where the phases of a map hold its pixels, zeros on the padding `SpaceToPhases` adds:
    `(rate²·B, ceil(H / rate), ceil(W / rate), 1)` from the `(B, H, W, C)` map itself.

    Args:
        rate: the phases' stride.

    Example:

    >>> validity = PhaseValidity(2)(np.zeros((1, 3, 4, 8)))
    >>> tuple(validity.shape), keras.ops.convert_to_numpy(validity).sum(axis=(1, 2, 3)).tolist()
    ((4, 2, 2, 1), [4.0, 4.0, 2.0, 2.0])
    """

    def __init__(self, rate: int, **kwargs):
        super().__init__(**kwargs)
        self.rate = _phase_rate(rate)

    def call(self, maps):
        return _split(ops.ones_like(maps[..., :1]), self.rate)

    def compute_output_shape(self, input_shape):
        return SpaceToPhases(self.rate).compute_output_shape((*input_shape[:3], 1))


@keras.saving.register_keras_serializable(package="keras_fcn")
class PhasesToSpace(ConstructorConfig, keras.layers.Layer):
    """Merges the phases of a map back into the map, cropped to the size of a reference map
    (`SpaceToPhases`' inverse): called on `[phases, reference]`.

    Args:
        rate: the phases' stride.

    Example:

    >>> maps = np.random.rand(2, 5, 7, 3).astype("float32")
    >>> merged = PhasesToSpace(2)([SpaceToPhases(2)(maps), maps])
    >>> np.array_equal(keras.ops.convert_to_numpy(merged), maps)
    True
    """

    def __init__(self, rate: int, **kwargs):
        super().__init__(**kwargs)
        self.rate = _phase_rate(rate)

    def call(self, inputs):
        phases, reference = inputs
        height, width = ops.shape(reference)[1], ops.shape(reference)[2]
        return _merge(phases, self.rate, height, width)

    def compute_output_shape(self, input_shape):
        phases_shape, reference_shape = input_shape
        return (*reference_shape[:3], phases_shape[-1])


@keras.saving.register_keras_serializable(package="keras_fcn")
class PhaseConv2D(StrideOneConv2D):
    """A stride-1 "same" `Conv2D` dilated by `rate`, computed on the map's `rate × rate` phases
    (`SpaceToPhases`) as the undilated convolution: called on `[phases, validity]`
    (`PhaseValidity`), it returns the phases of the convolution's output.

    Same weights and configuration as `keras.layers.Conv2D` (its `dilation_rate` is the phases'
    rate), the same results up to float rounding, in the phase layout. On TensorFlow's CPU
    kernels (oneDNN), the 3×3 convolutions of ResNet's third stage at dilation 2 (256 → 256
    channels on the 65 × 65 map of a 513 × 513 image) run faster as undilated convolutions of
    the phases than as dilated ones; `keras_fcn.inference.phase_layout` has the measurements.

    Args:
        filters, kernel_size, dilation_rate, ...: as `keras.layers.Conv2D`, with an odd square
            kernel, the same rate along both axes (at least 2) and "same" padding.

    Example:

    >>> maps = np.random.rand(1, 9, 7, 4).astype("float32")
    >>> layer = PhaseConv2D(2, 3, padding="same", dilation_rate=2)
    >>> phases = layer([SpaceToPhases(2)(maps), PhaseValidity(2)(maps)])
    >>> dilated = keras.layers.Conv2D(2, 3, padding="same", dilation_rate=2)
    >>> dilated.build(maps.shape)
    >>> dilated.set_weights(layer.get_weights())
    >>> merged = PhasesToSpace(2)([phases, maps])
    >>> np.allclose(merged, dilated(maps), atol=1e-5)
    True
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        height, width = self.kernel_size
        row_rate, column_rate = self.dilation_rate
        if not (
            height == width
            and height % 2 == 1
            and row_rate == column_rate >= 2
            and self.padding == "same"
        ):
            raise ValueError(
                "PhaseConv2D computes a 'same' convolution with an odd square kernel and one "
                f"rate of at least 2 along both axes; received kernel_size={self.kernel_size}, "
                f"dilation_rate={self.dilation_rate}, padding={self.padding!r}."
            )
        self.input_spec = [keras.layers.InputSpec(ndim=4), keras.layers.InputSpec(ndim=4)]

    def build(self, input_shape):
        phases_shape, _ = input_shape
        super().build(phases_shape)
        self.input_spec = [self.input_spec, keras.layers.InputSpec(ndim=4)]

    def call(self, inputs):
        phases, validity = inputs
        return super().call(phases * ops.cast(validity, phases.dtype))

    def convolution_op(self, inputs, kernel):
        return ops.conv(inputs, kernel, strides=1, padding="same", data_format="channels_last")

    def compute_output_shape(self, input_shape):
        # `Conv2D.build` asks with the phases' shape alone, a call with both inputs' shapes.
        phases_shape = input_shape[0] if isinstance(input_shape[0], list | tuple) else input_shape
        return (*phases_shape[:3], self.filters)
