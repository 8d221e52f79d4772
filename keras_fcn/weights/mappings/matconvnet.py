"""RefineNet's released MatConvNet files (`refinenet_res{101,152}_*.mat`) as keras_fcn models.

A file's parameters (`keras_fcn.weights.formats.matconvnet.read_matconvnet`) are grouped into
one stored layer per MatConvNet layer, as the release names them: a convolution `X` holds
`X_filter` (`[H W Cin Cout]`, Keras' own kernel layout) and, where it has one, `X_bias`; a batch
normalization `bn…` holds `_mult`, `_bias` and `_moments`; the classifier is the loss group's
SimpleNN convolution (`filters`, `biases`). The model's layers carry the release's names
(`keras_fcn.models.refinenet`), so a head layer is filled by the stored layer of its name; the
files of the release's first code (the VOC and Cityscapes models) call the adaptation RCUs
`adapt_stage{n}` where the current code says `adapt_input_path{n}`, and both are read. The
ResNet keeps keras.applications' names, mapped to MSRA's (`keras_fcn.weights.mappings.caffe.
caffe_layer_name`: `conv4_block23_3_conv` is `res4b22_branch2c`, `conv4_block23_3_bn` is
`bn4b22_branch2c`).

MatConvNet normalizes with `mult · (x − μ) / σ + bias`, its `_moments` holding μ and σ =
sqrt(variance + ε); Keras' batch normalization takes `moving_variance = σ² − ε` with its own ε
(computed in float64). conv1's bias, which MatConvNet's import of MSRA's net keeps, is taken into
`conv1_bn`'s moving mean (BN(x + b) with mean μ is BN(x) with mean μ − b).

To be verified on a real file, besides what `keras_fcn.weights.formats.matconvnet` lists: that
conv1 keeps its bias (MatConvNet's import of MSRA's net does; a file without `conv1_bias` is
refused, naming `conv1`), that the released VOC and Cityscapes files use the `adapt_stage` names
of `net_graphs/part2_cascaed_refinenet.pdf` or the current ones (both are read), and the number
of classifier channels (`keras_fcn.presets` expects the release's `void` channel).

Reference: guosheng/refinenet `main/My_net_util.m` (`add_conv_layer_dagnn`: `_filter`, `_bias`),
`main/gen_network_pool_block.m`, `main/gen_network_loss_group.m`, `net_graphs/*.pdf`; MatConvNet
`utils/import-caffe.py` (`CaffeBatchNorm`: `_mult`, `_bias`, `_moments` = [mean, sqrt(var + eps)]).
"""

import os
import re

import keras
import numpy as np

from keras_fcn.weights.formats.matconvnet import read_matconvnet
from keras_fcn.weights.formats.stored import StoredLayer
from keras_fcn.weights.loader import LoadReport, Target, load_stored_layers
from keras_fcn.weights.mappings.caffe import _resnet_depth, caffe_layer_name

CLASSIFIER = "score"
"""The Keras name of the classifier, the release's only SimpleNN convolution."""

LEGACY_ADAPT = re.compile(r"^adapt_stage(\d)_")
"""The adaptation RCUs' prefix in the files of the release's first code."""

_ORDERS = {
    "BatchNorm": ("mult", "bn_bias", "moments"),
    "Convolution": ("filter", "bias"),
    "SimpleNN": ("filters", "biases"),
}
"""The parameters of each kind of stored layer, in the order of the Keras weights."""

_VECTORS = ("bias", "bn_bias", "mult", "biases")


def _kind(members: dict) -> str:
    if "moments" in members or "mult" in members:
        return "BatchNorm"
    return "SimpleNN" if "filters" in members else "Convolution"


def matconvnet_layers(params: dict[str, StoredLayer]) -> dict[str, StoredLayer]:
    """A file's parameters grouped into one stored layer per MatConvNet layer.

    `X_filter` and `X_bias` make the convolution `X`; `X_mult`, `X_bias` (without an
    `X_filter`) and `X_moments` the batch normalization `X`; `N.filters` and `N.biases` the
    SimpleNN convolution `N`. Vectors are 1-D whatever their orientation in the file; the legacy
    prefix `adapt_stage{n}` becomes `adapt_input_path{n}`.

    Example:

    >>> shapes = {"conv1_filter": (7, 7, 3, 64), "conv1_bias": (1, 64), "bn_conv1_mult": (64, 1),
    ...     "bn_conv1_bias": (64, 1), "bn_conv1_moments": (64, 2),
    ...     "adapt_stage1_b1_conv_filter": (3, 3, 8, 8), "adapt_stage1_b1_conv_bias": (1, 8)}
    >>> params = {name: StoredLayer.in_memory(name, "param", [np.zeros(shape)])
    ...     for name, shape in shapes.items()}
    >>> for name, layer in matconvnet_layers(params).items():
    ...     print(name, layer.type, layer.shapes)
    conv1 Convolution ((7, 7, 3, 64), (64,))
    bn_conv1 BatchNorm ((64,), (64,), (64, 2))
    adapt_input_path1_b1_conv Convolution ((3, 3, 8, 8), (8,))
    """
    layers: dict[str, dict[str, StoredLayer]] = {}
    for name, param in params.items():
        layer, _, kind = name.rpartition("." if "." in name else "_")
        if kind == "bias" and f"{layer}_filter" not in params:
            kind = "bn_bias"
        layers.setdefault(LEGACY_ADAPT.sub(r"adapt_input_path\1_", layer), {})[kind] = param
    grouped = {}
    for layer, members in layers.items():
        kind = _kind(members)
        order = _ORDERS[kind]
        keys = [key for key in order if key in members]
        unknown = sorted(set(members) - set(order))
        if unknown:
            kind = f"{kind} with the unknown parameters {', '.join(unknown)}"
        shapes = tuple(
            (int(np.prod(members[key].shapes[0])),) if key in _VECTORS else members[key].shapes[0]
            for key in keys
        )
        parts = [members[key] for key in keys]
        grouped[layer] = StoredLayer(
            layer,
            kind,
            shapes,
            (False,) * len(parts),
            lambda parts=parts: [part.read()[0] for part in parts],
        )
    return grouped


def _kernel(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """`[H W Cin Cout]` is Keras' layout already; vectors become 1-D."""
    return [arrays[0], *(array.reshape(-1) for array in arrays[1:])]


def _batch_norm(layer: keras.layers.BatchNormalization, conv1: StoredLayer | None):
    """`[mult, bias, moments]` → γ, β, μ (less conv1's bias for `bn_conv1`), σ² − ε."""

    def convert(arrays: list[np.ndarray]) -> list[np.ndarray]:
        mult, bias, moments = arrays
        mean = moments[:, 0].astype(np.float64)
        if conv1 is not None:
            mean = mean - conv1.read()[1].reshape(-1)
        variance = moments[:, 1].astype(np.float64) ** 2 - layer.epsilon
        return [
            mult.reshape(-1),
            bias.reshape(-1),
            *(a.astype(np.float32) for a in (mean, variance)),
        ]

    return convert


def matconvnet_targets(
    model: keras.Model, layers: dict[str, StoredLayer], source: str = "the file"
) -> list[Target]:
    """Where each MatConvNet layer of a RefineNet file (`matconvnet_layers`) goes in `model`.

    Raises:
        ValueError: for a file of several SimpleNN convolutions (which one is the classifier?)
            or a model layer holding weights that no MatConvNet layer stands for.
    """
    depth = _resnet_depth(model)
    simplenn = [name for name, layer in layers.items() if layer.type.startswith("SimpleNN")]
    if len(simplenn) > 1:
        raise ValueError(
            f"{source} holds the SimpleNN convolutions {', '.join(simplenn)}; RefineNet's files "
            "hold one, the classifier."
        )
    targets = []
    for layer in model.layers:
        name = caffe_layer_name(layer.name, depth or 101)
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = (layer.gamma.shape[0],)
            conv1 = layers.get("conv1") if name == "bn_conv1" else None
            shapes = (channels, channels, (channels[0], 2))
            targets.append(Target(layer, name, "BatchNorm", shapes, _batch_norm(layer, conv1)))
        elif isinstance(layer, keras.layers.Conv2D):
            shapes = tuple(tuple(variable.shape) for variable in layer.weights)
            if layer.name == CLASSIFIER:
                name = simplenn[0] if simplenn else "simplenn1"
                targets.append(Target(layer, name, "SimpleNN", shapes, _kernel))
            elif layer.name == "conv1_conv":  # MatConvNet keeps conv1's bias: into conv1_bn
                shapes = (*shapes, (shapes[0][3],))
                targets.append(
                    Target(
                        layer,
                        name,
                        "Convolution",
                        shapes,
                        lambda arrays: [arrays[0]],
                        variables=(layer.kernel,),
                    )
                )
            else:
                targets.append(Target(layer, name, "Convolution", shapes, _kernel))
        elif layer.weights:
            raise ValueError(
                f"The model's layer {layer.name!r} ({type(layer).__name__}) holds weights that no "
                f"MatConvNet layer of RefineNet stands for; {source} cannot fill it."
            )
    return targets


def _pooling(names) -> str | None:
    """The residual pooling of a file's layers: "improved" (`…_pb{n}`), "original", or `None`."""
    if any(re.search(r"_pb\d$", name) for name in names):
        return "improved"
    if any(re.search(r"_pool\d_outvar_dimred$", name) for name in names):
        return "original"
    return None


def load_matconvnet_weights(
    model: keras.Model, path: str | os.PathLike, verbose: bool = False
) -> LoadReport:
    """Loads a released RefineNet `.mat` into keras_fcn's `RefineNet` of the same depth, pooling
    and classes (`keras_fcn.presets` builds the right one).

    Every convolution and batch normalization of the model must find its MatConvNet layer in the
    file with parameters of its shapes, and the file must hold no other; nothing is set
    otherwise.

    Returns:
        The `LoadReport`.

    Raises:
        FileNotFoundError, ValueError: for a missing, unreadable or other net's file, naming the
            file and the layer (`read_matconvnet`, `keras_fcn.weights.loader`), or a file whose
            residual pooling is not the model's.

    Example:

    >>> model = keras_fcn.RefineNet(22, kernel_initializer="zeros")  # doctest: +SKIP
    >>> load_matconvnet_weights(model, "refinenet_res101_voc2012.mat").loaded[:2]  # doctest: +SKIP
    ('conv1', 'bn_conv1')
    """
    path = os.fspath(path)
    layers = matconvnet_layers(read_matconvnet(path))
    names = [layer.name for layer in model.layers]
    stored, built = _pooling(layers), _pooling(names)
    if stored and built and stored != built:
        raise ValueError(
            f"{path} holds a RefineNet with {stored!r} residual pooling, but the model "
            f"{model.name!r} was built with {built!r}: build it with pooling={stored!r}."
        )
    targets = matconvnet_targets(model, layers, path)
    return load_stored_layers(model, layers, targets, path, verbose=verbose)
