"""The inference copy of a model: batch normalization folded into the convolution before it,
dilated convolutions as TensorFlow runs them fastest.

In inference a batch normalization is an affine map per channel, `y = γ (x − μ) / √(σ² + ε) + β`;
after a convolution `x = W ∗ u + b` it is the same convolution with `W' = W · s` and
`b' = (b − μ) · s + β`, where `s = γ / √(σ² + ε)` scales each output channel. A bottleneck
ResNet-101 has 104 of them, each a pass over a full feature map that reads and writes it once more
than the convolution did; folded, they cost nothing. `inference_copy` copies a model with
every such pair merged; the in-process predictors and every export run the copy.

The same copy runs every stride-1 dilated `Conv2D` as `keras_fcn.layers.DilatedConv2D`, which
TensorFlow computes as one dilated convolution rather than Keras' `SpaceToBatchND`, convolution
and `BatchToSpaceND` (DeepLab's ASPP and dilated ResNets), and the convolutions from a wide input
to a narrower output as `keras_fcn.layers.TapSumConv2D`, one matrix product (DeepLab v2's ASPP-L,
the FCN heads of torchvision's nets); the weights are the same (`inference_convolution`). Where
TensorFlow runs a dilated ResNet stage faster on the phases of its maps, the copy runs it so
(`keras_fcn.inference.phase_layout`).

Keras has no graph rewriting (and TensorFlow's grappler folds batch normalization only into
constant weights, not into a model's variables): the copy is `keras.models.clone_model` with a
`call_function` that skips the folded layers.
"""

import keras
import numpy as np

from keras_fcn.inference.kernels import plain_stride_one_convolution, tensorflow_on_cpus
from keras_fcn.inference.phase_layout import PhaseLayout, phase_layers, runs_on_phases
from keras_fcn.layers.dilated_conv import DilatedConv2D
from keras_fcn.layers.phases import PhaseConv2D
from keras_fcn.layers.tap_sum_conv import TapSumConv2D

FOLDABLE_CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
"""The layers a batch normalization after them folds into (their exact classes, not
subclasses, whose call may do more than convolve)."""


TAP_SUM_INPUT_CHANNELS = 2048
"""The input width from which the inference copy runs a convolution as a `TapSumConv2D`."""


def inference_convolution(layer: keras.layers.Layer) -> type | None:
    """The class the inference copy runs `layer` as, or `None` for its own.

    Only a plain `Conv2D` (its exact class) of stride 1, one group and channels last is run
    otherwise, and only on TensorFlow, where these were measured (the other backends convolve
    with the rate directly): as a `TapSumConv2D` (one matrix product, then shifted sums) where
    its input is at least `TAP_SUM_INPUT_CHANNELS` wide, its kernel square and wider than 1, it
    is undilated or its taps' maps are narrower than its input, and TensorFlow runs on CPUs
    (the taps' maps take up to 2.25 times the input's memory); else as a `DilatedConv2D` (one
    dilated convolution) where it is dilated. On the 65 × 65 maps of a 513 × 513 image, 2 cores
    of an AMD EPYC (AVX-512), in shares of the float32 matmul ceiling: DeepLab v2's ASPP-L
    (3×3, 2,048 → 21, rates 6 to 24) 0.48–0.72 as convolutions, 0.77–0.79 as tap sums;
    torchvision's FCN head (3×3, 2,048 → 512) 0.70–0.83 against 0.94–0.97; DeepLab v3's ASPP
    (3×3, 2,048 → 256 at rate 12, whose taps beyond the map the dilated convolution skips) 1.15
    against 0.92, and the ResNets' 3×3 convolutions (256 → 256, 512 → 512) 0.86–1.0 against
    0.74–0.86, so these stay convolutions (those of a ResNet's third stage at dilation 2 run
    on phases instead: `keras_fcn.inference.phase_layout`). Whole nets at 513 × 513,
    interleaved with the same graph without tap sums (`python -m benchmarks.resnet_speed
    --models --tap-sums`): DeepLab v2 ResNet-101 1.01× faster, torchvision's FCN-ResNet50
    1.10×, PSPNet-50 (3×3, 4,096 → 512) 1.23×; GCN's 15×1 and 1×15 convolutions were no
    faster (0.98×) and stay convolutions.

    Example:

    >>> inference_convolution(keras.layers.Conv2D(4, 3, dilation_rate=12)).__name__
    'DilatedConv2D'
    """
    if keras.backend.backend() != "tensorflow" or not plain_stride_one_convolution(layer):
        return None
    dilated = max(layer.dilation_rate) > 1
    height, width = layer.kernel_size
    if layer.built and height == width > 1 and tensorflow_on_cpus():
        channels = layer.kernel.shape[2]
        taps_channels = np.prod(layer.kernel_size) * layer.filters
        if channels >= TAP_SUM_INPUT_CHANNELS and (not dilated or taps_channels <= channels):
            return TapSumConv2D
    return DilatedConv2D if dilated else None


def _consumers(model: keras.Model) -> dict[int, list]:
    """The operations that read each tensor of the model's graph, by the tensor's id."""
    consumers = {}
    # Keras has no public graph API: a functional model's nodes are its `_nodes_by_depth`.
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.input_tensors:
                consumers.setdefault(id(tensor), []).append(node.operation)
    return consumers


def foldable_pairs(model: keras.Model) -> dict[str, str]:
    """The batch normalizations of `model` that fold into the convolution before them.

    A pair folds when the convolution is a plain `Conv2D` or `DepthwiseConv2D` without an
    activation, called once, whose output only the batch normalization reads, and the batch
    normalization normalizes the last (channel) axis.

    Args:
        model: a functional model.

    Returns:
        The names of the batch normalizations, each mapped to the name of its convolution.

    Example:

    >>> images = keras.Input((None, None, 3))
    >>> features = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(images)
    >>> features = keras.layers.BatchNormalization(name="bn")(features)
    >>> foldable_pairs(keras.Model(images, keras.layers.ReLU()(features)))
    {'bn': 'conv'}
    """
    consumers = _consumers(model)
    pairs = {}
    for layer in model.layers:
        if type(layer) is not keras.layers.BatchNormalization or len(layer._inbound_nodes) != 1:
            continue
        if layer.axis not in (-1, len(layer.input.shape) - 1):
            continue
        (source,) = layer._inbound_nodes[0].input_tensors
        convolution = source._keras_history.operation
        if (
            type(convolution) in FOLDABLE_CONVOLUTIONS
            and convolution.activation is keras.activations.linear
            and len(convolution._inbound_nodes) == 1
            and len(consumers.get(id(source), ())) == 1
        ):
            pairs[layer.name] = convolution.name
    return pairs


def _folded_weights(
    convolution: keras.layers.Layer, normalization: keras.layers.BatchNormalization
) -> list[np.ndarray]:
    """The kernel and bias of `convolution` with `normalization` folded in, in float64 first."""
    channels = normalization.moving_mean.shape[0]
    ones, zeros = np.ones(channels), np.zeros(channels)

    def values(variable, default):
        return default if variable is None else keras.ops.convert_to_numpy(variable)

    gamma = values(normalization.gamma, ones)
    beta = values(normalization.beta, zeros)
    mean = values(normalization.moving_mean, zeros).astype("float64")
    variance = values(normalization.moving_variance, ones).astype("float64")
    scale = gamma / np.sqrt(variance + normalization.epsilon)
    kernel = keras.ops.convert_to_numpy(convolution.kernel).astype("float64")
    bias = values(convolution.bias if convolution.use_bias else None, zeros)
    if isinstance(convolution, keras.layers.DepthwiseConv2D):
        scale = scale.reshape(kernel.shape[-2:])  # (in, multiplier) writes channel c·m + j
    folded = kernel * scale
    dtype = keras.ops.convert_to_numpy(convolution.kernel).dtype
    return [folded.astype(dtype), ((bias - mean) * scale.reshape(-1) + beta).astype(dtype)]


def inference_copy(model: keras.Model, phases: bool = True) -> keras.Model:
    """The inference copy of a model: every foldable batch normalization merged into its
    convolution, convolutions run as TensorFlow runs them fastest.

    The copy computes what `model(images, training=False)` does, up to float rounding (the
    folded weights are computed in float64, then stored in the model's precision), with the
    same layer names but the folded batch normalizations, and the folded convolutions given a
    bias. Some of its convolutions run as `keras_fcn.layers.DilatedConv2D` or
    `keras_fcn.layers.TapSumConv2D` (`inference_convolution`), same weights, and the ResNet
    stages that TensorFlow runs faster on the phases of their maps run on them
    (`keras_fcn.inference.phase_layout.phase_layers`; their convolutions as
    `keras_fcn.layers.PhaseConv2D`). A model with none of these is returned as it is; the copy
    shares no variable with `model`, so copy it again after training it further.

    Args:
        model: a functional model (a model of `keras_fcn.registry`, a preset).
        phases: whether stages may run on phases: `False` for a graph that another runtime will
            run (the ONNX, OpenVINO and LiteRT exports) or that will compute in bfloat16, where
            phases were measured no faster.

    Returns:
        The inference copy, or `model` itself.

    Example:

    >>> images = keras.Input((None, None, 3), name="images")
    >>> features = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(images)
    >>> model = keras.Model(images, keras.layers.BatchNormalization(name="bn")(features))
    >>> folded = inference_copy(model)
    >>> [layer.name for layer in folded.layers], folded.get_layer("conv").use_bias
    (['images', 'conv'], True)
    >>> x = np.random.rand(1, 8, 8, 3).astype("float32")
    >>> np.allclose(folded(x), model(x, training=False), atol=1e-5)
    True
    """
    if not getattr(model, "_nodes_by_depth", None):
        return model
    pairs = foldable_pairs(model)
    on_phases = phase_layers(model) if phases else set()
    swapped = {layer.name: inference_convolution(layer) for layer in model.layers}
    swapped = {name: kind for name, kind in swapped.items() if kind is not None}
    swapped.update(
        {name: PhaseConv2D for name in on_phases if runs_on_phases(model.get_layer(name))}
    )
    if not pairs and not swapped:
        return model
    convolutions = set(pairs.values())

    def clone_layer(layer):
        config = layer.get_config()
        if layer.name in convolutions:
            config["use_bias"] = True
        return swapped.get(layer.name, layer.__class__).from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in pairs:
            return args[0]
        return layer(*args, **kwargs)

    if on_phases:
        call = PhaseLayout(on_phases, call)

    inputs = keras.tree.map_structure(
        lambda x: keras.Input(
            batch_shape=x.shape, dtype=x.dtype, name=x._keras_history.operation.name
        ),
        model.input,
    )
    copy = keras.models.clone_model(
        model, input_tensors=inputs, clone_function=clone_layer, call_function=call
    )
    _copy_weights(model, copy, pairs)
    return copy


def _copy_weights(model: keras.Model, copy: keras.Model, pairs: dict[str, str]) -> None:
    """Sets the weights of `copy` from `model`'s, those of each folded convolution folded with
    its batch normalization (`pairs`, as `foldable_pairs` returns them)."""
    normalization_of = {convolution: bn for bn, convolution in pairs.items()}
    for layer in copy.layers:
        if not layer.weights:
            continue
        source = model.get_layer(layer.name)
        if layer.name in normalization_of:
            bn = model.get_layer(normalization_of[layer.name])
            layer.set_weights(_folded_weights(source, bn))
        else:
            layer.set_weights(source.get_weights())
