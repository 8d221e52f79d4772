"""Which graph each runtime gets: fc6 as a matrix product or as a plain convolution.

`keras_fcn.layers.MatmulConv2D` computes a large kernel over a small map (FCN's 7×7 fc6, DeepLab's
and Dilation's dilated fc6) as one matrix product over gathered patches, because TensorFlow's
CPU convolution (oneDNN through TensorFlow's kernels) handles that shape poorly. Another runtime
has convolution kernels of its own, and the gather that helps TensorFlow is a cost there: each
format's graph writes `MatmulConv2D` either as it is or as the plain `Conv2D` with the same
weights (`plain_convolutions`), whichever that runtime runs faster (`MATMUL_CONVOLUTIONS`).

Measured with `python -m benchmarks.deploy --graphs --repeats 7` (FCN-8s, aligned geometry,
512×512, batch 1, fc6/fc7 of 4096 units, class ids out; the calls of a row interleaved in one
process, median wall-clock seconds of 7 each), twice, on a 2-core AMD EPYC of family 26 (Zen 5:
AVX512_BF16 and VNNI, no AMX) shared with other work (load average 6–9), on 2026-12-07:

| runtime | fc6 as matmul (s) | fc6 as 7×7 convolution (s) | convolution / matmul | exported |
| --- | --- | --- | --- | --- |
| TensorFlow 2.21 (Keras, SavedModel), float32 | 1.94, 3.49 | 3.01, 7.68 | 1.55, 2.20 | matmul |
| ONNX Runtime 1.32, float32 | 2.60, 2.66 | 2.64, 2.82 | 1.02, 1.06 | matmul |
| OpenVINO 2026.4, f32 hint | 2.57, 2.63 | 2.47, 2.53 | 0.96, 0.96 | convolution |
| OpenVINO 2026.4, bf16 hint | 1.59, 1.29 | 1.52, 1.28 | 0.96, 0.99 | convolution |
| LiteRT (XNNPACK), float32 | 2.85, 0.90 | 3.09, 1.13 | 1.09, 1.26 | matmul |

(A third comparison, ONNX Runtime alone with 9 interleaved calls each: 1.01.) OpenVINO runs the
convolution faster; its per-layer profile (bf16 hint) shows fc6 as one 325 ms convolution,
against a 399 ms `FullyConnected` plus the gather's `Slice`s, `Concat` and reorders.
TensorFlow, LiteRT and ONNX Runtime run the matrix product as fast or faster. These are one
CPU family's numbers: on Intel CPUs with AMX, oneDNN (in OpenVINO and TensorFlow) picks other
kernels; the AMX measurements of issue #32 were not made on this machine, and the choice
should be measured there again.

What else the ONNX graph holds, and what was tried (same machine, per-node profiles of
OpenVINO (bf16 hint) and ONNX Runtime (float32), milliseconds per call):

- Padding: with fc6 a convolution (OpenVINO's graph), no `Pad` is left before a convolution:
  tf2onnx writes a "same" convolution's padding into its `Conv` node, where the matrix
  product's gather needs a `Pad` first and two `Transpose`s around its 49 `Slice`s. Two kinds
  remain, neither before a convolution: the aligned geometry's padding of the input to a
  multiple of 32 (`PadToMultiple`, the model's own, 5–7 ms, nothing at 512×512 but a copy),
  and the zero-amount `Pad` tf2onnx writes after each deconvolution's crop (1–12 ms).
- Layout: tf2onnx runs the convolutions in ONNX's NCHW and transposes twice: the input, once,
  at the entry (5 ms), and the scores before the arg-max over the classes (7–20 ms). Taking
  the arg-max over the channels of the NCHW scores instead (no transpose) was measured slower
  in both runtimes (ONNX Runtime: 48 ms against 12 + 7; OpenVINO: 62 ms against 9 + 20 and
  its reorders), as is the PyTorch peer's NCHW arg-max (39 and 51 ms), so it was not adopted.
  tf2onnx's `inputs_as_nchw` would only move the entry transpose to the caller, whose images
  are NHWC: not adopted either.
"""

import keras

from keras_fcn.layers import DilatedConv2D, MatmulConv2D, TapSumConv2D

MATRIX_PRODUCT_CONVOLUTIONS = (MatmulConv2D, TapSumConv2D)
"""The layers that compute a convolution as a matrix product for TensorFlow's sake
(`TapSumConv2D` comes from `keras_fcn.inference.inference_copy`): kept or written as the plain
convolution together."""

MATMUL_CONVOLUTIONS = {
    "saved_model": True,
    "onnx": True,
    "openvino": False,
    "litert": True,
}
"""Whether each format's graph keeps `MatmulConv2D` (`True`) or writes it as a plain
`Conv2D` (`False`): the faster in that format's runtime, measured (see the module).
`TapSumConv2D` goes with it, measured in TensorFlow only."""


def _has_matmul_convolutions(model: keras.Model) -> bool:
    return any(isinstance(layer, MATRIX_PRODUCT_CONVOLUTIONS) for layer in model._flatten_layers())


def plain_convolution_class(layer: keras.layers.Conv2D) -> type:
    """The class that computes `layer`'s convolution as one convolution operation:
    `keras_fcn.layers.DilatedConv2D` where it is dilated, else `keras.layers.Conv2D`.

    Example:

    >>> plain_convolution_class(TapSumConv2D(4, 3, dilation_rate=6)).__name__
    'DilatedConv2D'
    """
    return DilatedConv2D if max(layer.dilation_rate) > 1 else keras.layers.Conv2D


def plain_convolutions(model: keras.Model) -> keras.Model:
    """Copies a functional model with every `MatmulConv2D` and `TapSumConv2D` written as the plain
    convolution (`plain_convolution_class`).

    They compute the same convolution from the same weights (the `Conv2D` configuration is
    `MatmulConv2D`'s); only the way each runtime executes it differs. A dilated one becomes one
    dilated convolution in the exported graph: as Keras' `Conv2D` it would be TensorFlow's
    `SpaceToBatchND`, convolution and `BatchToSpaceND`, which OpenVINO runs as written: with
    them, DeepLab v2's export (ASPP-L's four dilated convolutions) took 0.61 s on a 513 × 513
    image against 0.45 s for OpenVINO on PyTorch's ONNX of the same net, and takes 0.45 s
    without (`benchmarks/README.md`). The other layers are shared with `model`, not copied (no
    weight is duplicated but the convolutions').

    Args:
        model: a functional model, such as `keras_fcn.FCN8s`.

    Returns:
        The copy, or `model` itself when it has neither.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> type(plain_convolutions(model).get_layer("fc6")).__name__
    'Conv2D'
    """
    if not _has_matmul_convolutions(model):
        return model

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, MATRIX_PRODUCT_CONVOLUTIONS):
            plain = plain_convolution_class(layer).from_config(layer.get_config())
            plain.build((None, None, None, layer.kernel.shape[2]))
            plain.set_weights(layer.get_weights())
            return plain
        if isinstance(layer, keras.Model) and _has_matmul_convolutions(layer):
            return plain_convolutions(layer)
        return layer

    return keras.models.clone_model(model, clone_function=clone_layer)
