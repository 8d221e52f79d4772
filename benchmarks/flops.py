"""FLOPs of a model, counted from its convolution layers, on any Keras backend.

Shapes come from the functional graph (`compute_output_spec`, no computation), so counting
needs neither TensorFlow nor a device: `benchmarks.accelerator` counts on JAX and PyTorch, the
other benchmarks on TensorFlow.
"""

import dataclasses
from collections.abc import Sequence

import keras
import numpy as np

BACKWARD_FACTOR = 3
"""A training step's FLOPs over the forward pass's: forward + 2 gradients per convolution (a
nominal count: the frozen upsamplers need no weight gradient, conv1_1 no input gradient)."""


@dataclasses.dataclass(frozen=True)
class LayerFlops:
    """Multiply-accumulates of one convolution layer for one input shape."""

    name: str
    kind: str
    input_shape: tuple
    output_shape: tuple
    macs: int

    @property
    def flops(self) -> int:
        return 2 * self.macs


def conv_flops(model: keras.Model, input_shape: Sequence[int]) -> list[LayerFlops]:
    """Counts the multiply-accumulates of every Conv2D and Conv2DTranspose of a model.

    Shapes come from the functional graph for the given input (no computation): a Conv2D
    with kernel `(kh, kw, c_in, c_out)` costs `prod(output shape) · kh · kw · c_in` MACs, and a
    Conv2DTranspose with kernel `(kh, kw, c_out, c_in)` costs `prod(input shape) · kh · kw ·
    c_out` (each input value is scattered through the whole kernel). Zero padding counts, as the
    kernels compute it, and so do the phases' padding (`keras_fcn.layers.PhaseConv2D`, whose
    input is the phases of a map). Pooling, ReLU, additions and crops are left out (well under
    1%).

    Args:
        model: a functional `keras.Model` with one image input.
        input_shape: `(batch, height, width, channels)`.

    Returns:
        One `LayerFlops` per convolution, in graph order.

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> conv_flops(model, (1, 8, 8, 3))[0].macs  # 6·6·4 outputs · 3·3·3
    3888
    """
    convs = [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
    ]
    if not convs:
        raise ValueError(f"Model {model.name!r} has no Conv2D or Conv2DTranspose layer.")
    probe = keras.Model(model.inputs, [[layer.input, layer.output] for layer in convs])
    specs = probe.compute_output_spec(keras.KerasTensor(tuple(input_shape)))
    counts = []
    for layer, (inputs, outputs) in zip(convs, specs, strict=True):
        if isinstance(inputs, list | tuple):  # `PhaseConv2D`'s phases and their validity
            inputs = inputs[0]
        kernel_height, kernel_width, kernel_in, _ = layer.kernel.shape
        transposed = isinstance(layer, keras.layers.Conv2DTranspose)
        positions = int(np.prod(inputs.shape if transposed else outputs.shape))
        counts.append(
            LayerFlops(
                name=layer.name,
                kind=type(layer).__name__,
                input_shape=tuple(inputs.shape),
                output_shape=tuple(outputs.shape),
                macs=positions * kernel_height * kernel_width * kernel_in,
            )
        )
    return counts


def total_flops(model: keras.Model, input_shape: Sequence[int]) -> int:
    """`2 · MACs` of all convolutions of `model` for one input shape (see `conv_flops`)."""
    return sum(layer.flops for layer in conv_flops(model, input_shape))
