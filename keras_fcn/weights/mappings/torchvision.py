"""torchvision's segmentation nets (`fcn_resnet*`, `deeplabv3_resnet*`) as keras_fcn models.

A `.pth` state dict (`keras_fcn.weights.formats.torch.read_pth`) names tensors by module path
and parameter (`backbone.layer3.22.conv2.weight`, `classifier.0.convs.1.1.running_var`);
`torchvision_layers` groups them into one stored layer per module: a convolution's weight and
bias, or a batch normalization's weight, bias, running mean and running variance (its
`num_batches_tracked` counter has no Keras counterpart and is dropped). `torchvision_name` maps
a keras_fcn layer to its module: the ResNet backbone keeps keras.applications' names
(`conv4_block23_2_conv` is `backbone.layer3.22.conv2`, `conv4_block1_0_conv` its
`downsample.0`), the heads keras_fcn's (`aspp_1_conv` is `classifier.0.convs.1.0`,
`aspp_pooling_conv` `classifier.0.convs.4.1`, `head_conv` DeepLabHead's `classifier.1` or
FCNHead's `classifier.0`, `logits` `classifier.4`, `aux_head_conv` `aux_classifier.0`).
Convolution kernels `(out, in, kh, kw)` become Keras' `(kh, kw, in, out)`; batch normalization
arrays keep their order (gamma, beta, moving mean, moving variance). The auxiliary head's
weights load when the model has it, and are otherwise skipped and reported, never refused.

Reference: pytorch/vision, `torchvision/models/resnet.py`, `models/segmentation/{fcn,deeplabv3,
_utils}.py`.
"""

import os
import re

import keras
import numpy as np

from keras_fcn.weights.formats.stored import StoredLayer
from keras_fcn.weights.formats.torch import read_pth
from keras_fcn.weights.loader import LoadReport, Target, load_stored_layers

_BLOCK = re.compile(r"conv(\d)_block(\d+)_(\d)_(conv|bn)")

_HEADS = {
    "aspp_pooling_conv": "classifier.0.convs.4.1",
    "aspp_pooling_bn": "classifier.0.convs.4.2",
    "aspp_projection_conv": "classifier.0.project.0",
    "aspp_projection_bn": "classifier.0.project.1",
    "logits": "classifier.4",
    "aux_head_conv": "aux_classifier.0",
    "aux_head_bn": "aux_classifier.1",
    "aux_logits": "aux_classifier.4",
}
"""The head layers whose module does not depend on the head."""

_BATCH_NORM_PARAMETERS = ("weight", "bias", "running_mean", "running_var")


def torchvision_name(keras_name: str, deeplab_head: bool = True) -> str:
    """The torchvision module of a layer of keras_fcn's torchvision nets.

    Args:
        keras_name: the Keras layer's name.
        deeplab_head: whether the net's head is DeepLabHead (its 3×3 is `classifier.1`) rather
            than FCNHead (`classifier.0`).

    Example:

    >>> torchvision_name("conv4_block23_2_conv"), torchvision_name("conv3_block1_0_bn")
    ('backbone.layer3.22.conv2', 'backbone.layer2.0.downsample.1')
    >>> torchvision_name("aspp_3_bn"), torchvision_name("head_conv", deeplab_head=False)
    ('classifier.0.convs.3.1', 'classifier.0')
    """
    if keras_name in ("conv1_conv", "conv1_bn"):
        return "backbone." + ("conv1" if keras_name.endswith("conv") else "bn1")
    if match := _BLOCK.fullmatch(keras_name):
        stage, block, index, kind = match.groups()
        prefix = f"backbone.layer{int(stage) - 1}.{int(block) - 1}"
        if index == "0":
            return f"{prefix}.downsample.{0 if kind == 'conv' else 1}"
        return f"{prefix}.{kind}{index}"
    if match := re.fullmatch(r"aspp_(\d)_(conv|bn)", keras_name):
        return f"classifier.0.convs.{match[1]}.{0 if match[2] == 'conv' else 1}"
    if keras_name in ("head_conv", "head_bn"):
        index = (1 if deeplab_head else 0) + (keras_name == "head_bn")
        return f"classifier.{index}"
    return _HEADS.get(keras_name, keras_name)


def torchvision_layers(tensors: dict[str, np.ndarray]) -> dict[str, StoredLayer]:
    """A state dict's tensors grouped by module: `"BatchNorm"` or `"Convolution"` layers.

    Example:

    >>> layers = torchvision_layers({"bn.weight": np.ones(2), "bn.bias": np.zeros(2),
    ...     "bn.running_mean": np.zeros(2), "bn.running_var": np.ones(2),
    ...     "bn.num_batches_tracked": np.array(3), "conv.weight": np.ones((2, 3, 1, 1))})
    >>> {name: (layer.type, layer.shapes) for name, layer in layers.items()}
    {'bn': ('BatchNorm', ((2,), (2,), (2,), (2,))), 'conv': ('Convolution', ((2, 3, 1, 1),))}
    """
    modules: dict[str, dict[str, np.ndarray]] = {}
    for key, array in tensors.items():
        module, _, parameter = key.rpartition(".")
        modules.setdefault(module, {})[parameter] = array
    layers = {}
    for module, parameters in modules.items():
        if "running_mean" in parameters:
            kind, names = "BatchNorm", _BATCH_NORM_PARAMETERS
        else:
            kind, names = "Convolution", ("weight", "bias")
        arrays = [parameters[name].astype(np.float32) for name in names if name in parameters]
        layers[module] = StoredLayer.in_memory(module, kind, arrays)
    return layers


def _kernel_to_keras(arrays: list[np.ndarray]) -> list[np.ndarray]:
    return [np.ascontiguousarray(arrays[0].transpose(2, 3, 1, 0)), *arrays[1:]]


def torchvision_targets(model: keras.Model, source: str = "the file") -> list[Target]:
    """Where each module of a torchvision state dict goes in `model`.

    Raises:
        ValueError: for a layer holding weights that is neither a convolution nor a batch
            normalization.
    """
    deeplab_head = any(layer.name == "aspp_0_conv" for layer in model.layers)
    targets = []
    for layer in model.layers:
        name = torchvision_name(layer.name, deeplab_head)
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = (layer.gamma.shape[0],)
            targets.append(Target(layer, name, "BatchNorm", (shape,) * 4, convert=list))
        elif isinstance(layer, keras.layers.Conv2D):
            kernel, *bias = (tuple(variable.shape) for variable in layer.weights)
            shapes = ((kernel[3], kernel[2], kernel[0], kernel[1]), *bias)
            targets.append(Target(layer, name, "Convolution", shapes, convert=_kernel_to_keras))
        elif layer.trainable_weights:
            raise ValueError(
                f"The model's layer {layer.name!r} ({type(layer).__name__}) holds weights that no "
                f"torchvision module this mapping knows stands for; {source} cannot fill it."
            )
    return targets


def torchvision_state_dict(model: keras.Model) -> dict[str, np.ndarray]:
    """The weights of keras_fcn's torchvision net as torchvision's state dict, in numpy.

    The inverse of `load_torchvision_weights`: `torch.save({name: torch.from_numpy(array) for
    name, array in torchvision_state_dict(model).items()}, path)` writes a file that
    torchvision's `fcn_resnet*` / `deeplabv3_resnet*` (and `from_preset`) load, so that a net
    fine-tuned in Keras runs in PyTorch. Batch normalizations' `num_batches_tracked`, which
    torchvision only counts, is not written.

    Example:

    >>> model = keras_fcn.registry.build("torchvision-fcn-resnet50", num_classes=2)
    >>> state = torchvision_state_dict(model)
    >>> state["backbone.conv1.weight"].shape, state["classifier.4.bias"].shape
    ((64, 3, 7, 7), (2,))
    """
    state = {}
    for target in torchvision_targets(model):
        arrays = [keras.ops.convert_to_numpy(variable) for variable in target.layer.weights]
        if target.type == "BatchNorm":
            names = _BATCH_NORM_PARAMETERS
        else:
            names = ("weight", "bias")
            arrays[0] = np.ascontiguousarray(arrays[0].transpose(3, 2, 0, 1))
        state.update(
            (f"{target.source}.{name}", array) for name, array in zip(names, arrays, strict=False)
        )
    return state


def load_torchvision_weights(
    model: keras.Model, path: str | os.PathLike, verbose: bool = False
) -> LoadReport:
    """Loads a torchvision segmentation net's `.pth` into keras_fcn's model of it.

    Every convolution and batch normalization of the model must find its module in the file
    with arrays of its shapes; the file's other modules make it another net's file, except the
    auxiliary head's when the model has none (skipped and reported). `verbose` shows the
    progress over the modules, with the time left.

    Returns:
        The `LoadReport`: the modules loaded, and those skipped with why.

    Raises:
        FileNotFoundError, ValueError: for a missing, unreadable or other net's file, naming
            the file and the module (see `read_pth` and `load_stored_layers`).
    """
    path = os.fspath(path)
    stored = torchvision_layers(read_pth(path))
    has_aux = any(layer.name == "aux_logits" for layer in model.layers)

    def skip(module: str) -> str | None:
        if module.startswith("aux_classifier.") and not has_aux:
            return "the auxiliary head is not built (aux=False)"
        return None

    return load_stored_layers(model, stored, torchvision_targets(model, path), path, skip, verbose)
