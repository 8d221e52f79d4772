"""Which layers of a model's inference copy run on the phases of their maps
(`keras_fcn.layers.phases`), and the call that rewrites the copy's graph for them.

ResNet's third stage at output stride 8 (DeepLab v2, torchvision's nets, DeepLab v3 at output
stride 8) runs its 3×3 convolutions of 256 channels dilated by 2 on a 65 × 65 map (a 513 × 513
image). TensorFlow's CPU kernels (oneDNN) run that convolution at 0.81–0.85 of the float32
matmul ceiling dilated, and the same work at 0.94–0.98 as the undilated convolution of the
map's four 33 × 33 phases, validity mask included: 1.15–1.16 times faster, and 1.15–1.22 on
maps of 60 × 60 to 129 × 129 (`tf.nn.conv2d` alone, median CPU time of 11 calls, 2 cores of an
AMD EPYC with AVX-512). It is a trait of those widths: 384 channels gain 1.11, but 512 only
1.03 (0.95 at rate 4, 0.84 at rate 8), 128 and 64 lose (0.92, 0.88), and so do bfloat16 (0.89–
0.95) and a 33 × 33 map (0.90); so only that kind runs on phases (`runs_on_phases`).
Splitting and merging around each convolution, as TensorFlow's own dilated convolution does,
would cost more than it saves; between two such convolutions a ResNet stage has only layers
that act on each pixel alone (1×1 convolutions, activations, sums, batch normalizations), which
give the same values on the phases, so the stage runs on phases throughout, split once where it
begins and merged once where it ends (`phase_layers`). Whole nets: `python -m
benchmarks.resnet_speed --models --phases` (`benchmarks/README.md`).

Keras has no graph rewriting: the inference copy (`keras_fcn.inference.inference_copy`) is a
`keras.models.clone_model` whose `call_function` is a `PhaseLayout`.
"""

import keras

from keras_fcn.inference.kernels import plain_stride_one_convolution, tensorflow_on_cpus
from keras_fcn.layers.phases import PhaseConv2D, PhasesToSpace, PhaseValidity, SpaceToPhases

PHASE_RATE = 2
"""The dilation of the convolutions that run on phases (and so the phases' stride)."""

PHASE_INPUT_CHANNELS = range(256, 385)
"""The input widths of the convolutions that run on phases: narrower (64, 128) and wider (512)
ones were measured no faster."""

_PER_PIXEL_LAYERS = (
    keras.layers.Activation,
    keras.layers.Add,
    keras.layers.BatchNormalization,
    keras.layers.ReLU,
)
"""The layers (their exact classes) that act on each pixel alone, besides 1×1 convolutions."""


def runs_on_phases(layer: keras.layers.Layer) -> bool:
    """Whether the inference copy computes `layer` on the phases of its input: a built `Conv2D`
    (its exact class) of stride 1, 3×3, "same", dilated by `PHASE_RATE`, from a number of
    channels in `PHASE_INPUT_CHANNELS`, computing in float32, on TensorFlow on CPUs (the module
    gives the measurements).

    Example:

    >>> layer = keras.layers.Conv2D(256, 3, padding="same", dilation_rate=2)
    >>> layer.build((None, None, None, 256))
    >>> runs_on_phases(layer) == (keras.backend.backend() == "tensorflow")
    True
    """
    return (
        plain_stride_one_convolution(layer)
        and layer.built
        and layer.kernel_size == (3, 3)
        and layer.dilation_rate == (PHASE_RATE, PHASE_RATE)
        and layer.padding == "same"
        and layer.kernel.shape[2] in PHASE_INPUT_CHANNELS
        and layer.dtype_policy.compute_dtype == "float32"
        and tensorflow_on_cpus()
    )


def _acts_per_pixel(layer: keras.layers.Layer) -> bool:
    """Whether `layer` maps each pixel of its inputs to the same pixel of its output, its inputs
    of the output's size (a sum with a pooled `(B, 1, 1, C)` map broadcasts it: not on phases)."""
    node = layer._inbound_nodes[0]
    size = tuple(node.output_tensors[0].shape[1:3])
    if any(tuple(tensor.shape[1:3]) != size for tensor in node.input_tensors):
        return False
    if type(layer) is keras.layers.BatchNormalization:
        return layer.axis in (-1, len(layer.input.shape) - 1)
    return type(layer) in _PER_PIXEL_LAYERS or (
        plain_stride_one_convolution(layer) and layer.kernel_size == (1, 1)
    )


def phase_layers(model: keras.Model) -> set[str]:
    """The layers of `model` that its inference copy runs on phases.

    The layers on a path between two that `runs_on_phases` through layers that act on each
    pixel alone (1×1 convolutions, activations, sums, batch normalizations), those two included:
    with them a ResNet stage runs on phases from its first dilated convolution to its last. A
    convolution with no such path to another stays as it is (a split and a merge for it alone
    would cost more than it saves), and so does a layer called more than once, or whose output
    is one of the model's.

    Args:
        model: a functional model.

    Returns:
        The layers' names (empty where nothing runs on phases).

    Example:

    >>> images = keras.Input((None, None, 256))
    >>> def conv(size, name):
    ...     return keras.layers.Conv2D(256, size, padding="same", dilation_rate=2, name=name)
    >>> first = conv(3, "first")(images)
    >>> middle = conv(1, "middle")(keras.layers.ReLU(name="relu")(first))
    >>> last = conv(3, "last")(middle)
    >>> found = phase_layers(keras.Model(images, conv(1, "out")(last)))
    >>> on_tensorflow = keras.backend.backend() == "tensorflow"
    >>> sorted(found) == (["first", "last", "middle", "relu"] if on_tensorflow else [])
    True
    """
    if not getattr(model, "_nodes_by_depth", None):
        return set()
    outputs = {id(tensor) for tensor in model.outputs}
    candidates, seeds = {}, set()
    for layer in model.layers:
        if len(layer._inbound_nodes) != 1 or any(
            id(tensor) in outputs for tensor in layer._inbound_nodes[0].output_tensors
        ):
            continue
        if runs_on_phases(layer):
            seeds.add(layer.name)
        elif not _acts_per_pixel(layer):
            continue
        candidates[layer.name] = layer
    if not seeds:
        return set()
    after = {name: set() for name in candidates}
    for name, layer in candidates.items():
        for tensor in layer._inbound_nodes[0].input_tensors:
            source = tensor._keras_history.operation.name
            if source in candidates:
                after[source].add(name)
    before = {name: set() for name in candidates}
    for source, names in after.items():
        for name in names:
            before[name].add(source)
    later, earlier = _reachable(seeds, after), _reachable(seeds, before)
    return (later & earlier) | (seeds & (later | earlier))


def _reachable(starts: set[str], edges: dict[str, set[str]]) -> set[str]:
    """The names reachable from `starts` along `edges` in one step or more."""
    found, frontier = set(), list(starts)
    while frontier:
        for name in edges[frontier.pop()]:
            if name not in found:
                found.add(name)
                frontier.append(name)
    return found


class PhaseLayout:
    """The `call_function` of `keras.models.clone_model` that runs the layers `phase_layers`
    found on phases.

    Each such layer gets its inputs as phases: a map computed outside them is split
    (`SpaceToPhases`, once per map), and a `PhaseConv2D` gets the validity of the phases as well
    (`PhaseValidity`, once per map split). Any other layer gets plain maps: phases are merged back
    (`PhasesToSpace`, once per map) to the size of the map they were split from. The layers
    inserted are named after the layer whose map they split or merge.

    Args:
        layers: the names of the layers to run on phases.
        call: how each layer is called otherwise, `(layer, *args, **kwargs)`.
    """

    def __init__(self, layers: set[str], call):
        self.layers = layers
        self.call = call
        self._references = {}  # id(phases) → the plain map of their size
        self._phases = {}  # id(map) → its phases
        self._merged = {}  # id(phases) → the map
        self._validity = {}  # id(reference) → its phases' validity

    def __call__(self, layer: keras.layers.Layer, *args, **kwargs):
        if layer.name not in self.layers:
            args, kwargs = keras.tree.map_structure(self._to_space, (args, kwargs))
            return self.call(layer, *args, **kwargs)
        args, kwargs = keras.tree.map_structure(self._to_phases, (args, kwargs))
        phases = [x for x in keras.tree.flatten((args, kwargs)) if id(x) in self._references]
        reference = self._references[id(phases[0])]
        if isinstance(layer, PhaseConv2D):
            outputs = layer([args[0], self._validity_of(reference)], **kwargs)
        else:
            outputs = self.call(layer, *args, **kwargs)
        for output in keras.tree.flatten(outputs):
            self._references[id(output)] = reference
        return outputs

    def _to_phases(self, x):
        if not isinstance(x, keras.KerasTensor) or id(x) in self._references:
            return x
        if id(x) not in self._phases:
            name = f"{x._keras_history.operation.name}_phases"
            phases = SpaceToPhases(PHASE_RATE, name=name)(x)
            self._phases[id(x)] = phases
            self._references[id(phases)] = x
        return self._phases[id(x)]

    def _to_space(self, x):
        if not isinstance(x, keras.KerasTensor) or id(x) not in self._references:
            return x
        if id(x) not in self._merged:
            name = f"{x._keras_history.operation.name}_merged"
            merge = PhasesToSpace(PHASE_RATE, name=name)
            self._merged[id(x)] = merge([x, self._references[id(x)]])
        return self._merged[id(x)]

    def _validity_of(self, reference):
        if id(reference) not in self._validity:
            name = f"{reference._keras_history.operation.name}_validity"
            self._validity[id(reference)] = PhaseValidity(PHASE_RATE, name=name)(reference)
        return self._validity[id(reference)]
