"""The Caffe nets of FCN, DeepLab (VGG16 and ResNet-101) and Dilation as keras_fcn models: names,
types, layouts.

Layers match by name, as Caffe's `Net::CopyTrainedLayersFrom` does (`caffe_layer_name`):
Caffe's `conv1_1` … `conv5_3` are keras.applications' `block1_conv1` … `block5_conv3`; MSRA's
ResNet names (DeepLab v2's ResNet-101) are keras.applications' ResNet names (`conv1` is
`conv1_conv`, `res4b22_branch2c` is `conv4_block23_3_conv`, `res2a_branch1` is
`conv2_block1_0_conv`); every other name is the same. Convolution blobs `(out, in / group, kh,
kw)` and deconvolution blobs `(in, out / group, kh, kw)` both become Keras kernels by
`transpose(2, 3, 1, 0)`, unflipped (Caffe's deconvolution is the transposed scatter of its
convolution, as `keras.layers.Conv2DTranspose`). A fixed `Rescaling` (the at-once FCN-8s's
`scale_pool4`) stands for a Caffe `Scale` whose blob must hold its constant.

A Keras `BatchNormalization` stands for two Caffe layers, as MSRA's ResNet writes every
normalization: `BatchNorm` (`bn_conv1`, `bn4b22_branch2c`), whose three blobs hold the moving
mean and variance each multiplied by the moving-average factor `s` and `s` itself, and the
`Scale` with bias after it (`scale_conv1`, …) holding γ and β. The moving mean and variance are
the first two blobs divided by `s`, and zero where `s` is zero, as Caffe's
`BatchNormLayer::Forward_cpu` computes them (`scale_factor = s == 0 ? 0 : 1 / s`); the epsilon
is the model's (Caffe's default 1e-5 in DeepLab v2's prototxt; the file does not hold it).

PSPNet's releases name their layers otherwise (`pspnet_caffe_name`): the deep stem
`conv1_1_3x3_s2`, `conv1_2_3x3`, `conv1_3_3x3`, and in each block `conv{s}_{b}_1x1_reduce`,
`_3x3`, `_1x1_increase` and `conv{s}_1_1x1_proj` for keras.applications' `_1`, `_2`, `_3` and `_0`
(`conv4_block3_2_conv` is `conv4_3_3x3`); each normalization is one layer of PSPNet's own type
`BN`, named after its convolution with `/bn` (`conv4_3_3x3/bn`; Keras' `_bn` elsewhere:
`conv5_4_bn` is `conv5_4/bn`), whose four blobs of shape (1, C, 1, 1) hold γ, β, the moving mean
and the moving variance (hszhao/PSPNet `src/caffe/layers/bn_layer.cpp`; epsilon 1e-5, the
model's). The released files also hold the auxiliary head of training (`PSPNET_AUX_LAYERS`):
loaded into a model built with it (`aux=True`), skipped and reported otherwise.

DeepLab v2's multi-scale (MSC) training net holds a copy of every layer for each smaller scale
(`conv1_res05`, `bn_conv1_res075`, `fc1_voc12_c0_res05`, …), with the same weights (the
prototxt shares them by `param` name). Those copies are checked equal to the layer they copy and
skipped, which the loader reports (`MSC_COPIES`); a copy that differs is a `ValueError` naming
it, since the net those weights make is not one net at three scales.

Loading is all or nothing (`keras_fcn.weights.loader`): a missing or extra layer, a blob of
another shape, a truncated or corrupt file raise a `ValueError` naming the file, the layer and
the shapes before any weight is set. Caffe itself ignores layers it does not know, but here an
extra layer means the file is another net's: an at-once FCN-8s file read as the staged FCN-8s
would otherwise load without its skip scales. The file is scanned once to check every layer,
then each layer is read again as it is set, so that besides the model's own weights memory holds
about two copies of its largest layer.

Reference: BVLC/caffe, `src/caffe/net.cpp` (`CopyTrainedLayersFrom`),
`src/caffe/layers/batch_norm_layer.cpp`; the releases' prototxts (`voc-fcn*/net.py`,
DeepLab-LargeFOV's and Dilation's `test.prototxt`, DeepLab v2's ResNet-101 prototxts as
DrSleep/tensorflow-deeplab-resnet `misc/deploy.prototxt` lists them);
KaimingHe/deep-residual-networks (MSRA's layer names); hszhao/PSPNet `evaluation/prototxt/`
(PSPNet's names), `src/caffe/proto/caffe.proto` (`BNParameter`); kazuto1011/pspnet-pytorch
`convert.py` (the auxiliary head's names in the released files).
"""

import os
import re
from collections.abc import Iterator

import keras
import numpy as np

from keras_fcn.backbones.resnet import RESNET_BLOCKS
from keras_fcn.backends import aligned_empty
from keras_fcn.weights.formats.caffe import open_caffemodel, write_caffemodel
from keras_fcn.weights.formats.stored import StoredLayer
from keras_fcn.weights.loader import LoadReport, Target, load_stored_layers

_KERAS_CONV_NAME = re.compile(r"block(\d)_conv(\d)(.*)")
_KERAS_RESNET_NAME = re.compile(r"conv(\d)_block(\d+)_(\d)_(conv|bn)")
_RESNET_BRANCHES = ("branch1", "branch2a", "branch2b", "branch2c")
"""MSRA's names of a block's convolutions `_0` (the projection), `_1`, `_2`, `_3`."""

MSC_COPIES = {"_res075": 0.75, "_res05": 0.5}
"""The suffixes of the layers' copies in DeepLab v2's multi-scale net, by scale."""


def _resnet_block(stage: int, block: int, depth: int) -> str:
    """MSRA's name of block `block` (1, 2, …) of stage `stage`: `a`, `b`, `c`, …; ResNet-101 and
    ResNet-152 number the blocks after `a` of their stages of more than three blocks (`res3b1`,
    `res4b22`), ResNet-50 letters them all (`res4f`)."""
    if block == 1:
        return "a"
    if depth > 50 and RESNET_BLOCKS[depth][stage - 2] > 3:
        return f"b{block - 1}"
    return chr(ord("a") + block - 1)


def caffe_layer_name(keras_name: str, depth: int = 101) -> str:
    """The Caffe name of a layer of a keras_fcn model.

    keras.applications' VGG16 names (`block4_conv2`, with a stream suffix `block1_conv1hha`)
    become Caffe's (`conv4_2`, `conv1_1hha`); keras.applications' ResNet names become MSRA's,
    for a ResNet of `depth` (50, 101 or 152): convolutions `conv1`, `res4b22_branch2c`, batch
    normalizations their Caffe `BatchNorm`'s name `bn_conv1`, `bn4b22_branch2c` (the `Scale`
    after it is `caffe_scale_name` of that). Every other layer already has its Caffe name.

    Example:

    >>> caffe_layer_name("block4_conv2"), caffe_layer_name("block1_conv1hha")
    ('conv4_2', 'conv1_1hha')
    >>> caffe_layer_name("conv4_block23_3_conv"), caffe_layer_name("conv3_block1_0_bn")
    ('res4b22_branch2c', 'bn3a_branch1')
    >>> caffe_layer_name("conv4_block6_2_conv", depth=50), caffe_layer_name("conv1_bn")
    ('res4f_branch2b', 'bn_conv1')
    >>> caffe_layer_name("score_pool4_sem")
    'score_pool4_sem'
    """
    if keras_name in ("conv1_conv", "conv1_bn"):
        return "conv1" if keras_name == "conv1_conv" else "bn_conv1"
    if match := _KERAS_RESNET_NAME.fullmatch(keras_name):
        stage, block, branch, kind = int(match[1]), int(match[2]), int(match[3]), match[4]
        name = f"{stage}{_resnet_block(stage, block, depth)}_{_RESNET_BRANCHES[branch]}"
        return f"res{name}" if kind == "conv" else f"bn{name}"
    match = _KERAS_CONV_NAME.fullmatch(keras_name)
    return f"conv{match[1]}_{match[2]}{match[3]}" if match else keras_name


PSPNET_BRANCHES = ("1x1_proj", "1x1_reduce", "3x3", "1x1_increase")
"""PSPNet's names of a block's convolutions `_0` (the projection), `_1`, `_2`, `_3`."""

PSPNET_STEM = {"conv1_1_3x3": "conv1_1_3x3_s2"}
"""The deep stem's layers whose Caffe name is not the model's."""

PSPNET_AUX_LAYERS = ("conv4_24", "conv4_24/bn", "conv6_1")
"""The auxiliary head's layers in PSPNet's released files (kazuto1011/pspnet-pytorch
`convert.py`): loaded into a model built with `aux=True`, skipped otherwise."""


def pspnet_caffe_name(keras_name: str) -> str:
    """The Caffe name of a layer of a PSPNet model (`keras_fcn.models.pspnet`).

    The backbone's keras.applications names become PSPNet's (`conv4_block3_2_conv` is
    `conv4_3_3x3`, `conv3_block1_0_bn` is `conv3_1_1x1_proj/bn`), the deep stem's its own
    (`conv1_1_3x3` is `conv1_1_3x3_s2`), and every batch normalization `X_bn` is the `BN` layer
    `X/bn` of its convolution `X`; the other layers have their Caffe names.

    Example:

    >>> pspnet_caffe_name("conv4_block3_2_bn"), pspnet_caffe_name("conv3_block1_0_conv")
    ('conv4_3_3x3/bn', 'conv3_1_1x1_proj')
    >>> pspnet_caffe_name("conv1_1_3x3_bn"), pspnet_caffe_name("conv5_3_pool6_conv_bn")
    ('conv1_1_3x3_s2/bn', 'conv5_3_pool6_conv/bn')
    >>> pspnet_caffe_name("conv6")
    'conv6'
    """
    if match := _KERAS_RESNET_NAME.fullmatch(keras_name):
        stage, block, branch, kind = match[1], match[2], int(match[3]), match[4]
        name = f"conv{stage}_{block}_{PSPNET_BRANCHES[branch]}"
        return name if kind == "conv" else f"{name}/bn"
    convolution = keras_name.removesuffix("_bn")
    caffe_name = PSPNET_STEM.get(convolution, convolution)
    return caffe_name if convolution == keras_name else f"{caffe_name}/bn"


def caffe_scale_name(batch_norm_name: str) -> str:
    """The name of the `Scale` after a Caffe `BatchNorm` in MSRA's nets.

    Example:

    >>> caffe_scale_name("bn_conv1"), caffe_scale_name("bn4b22_branch2c")
    ('scale_conv1', 'scale4b22_branch2c')
    """
    return "scale" + batch_norm_name.removeprefix("bn")


def _resnet_depth(model: keras.Model) -> int | None:
    """The depth of the ResNet in `model` (keras.applications' names, `conv1_conv` …) from its
    blocks, `None` for a model without one."""
    names = [layer.name for layer in model.layers]
    if "conv1_conv" not in names:
        return None
    blocks = {}
    for match in filter(None, map(_KERAS_RESNET_NAME.fullmatch, names)):
        blocks[int(match[1])] = max(blocks.get(int(match[1]), 0), int(match[2]))
    stages = tuple(blocks.get(stage, 0) for stage in (2, 3, 4, 5))
    return next((depth for depth, table in RESNET_BLOCKS.items() if table == stages), 101)


def _is_pspnet(model: keras.Model) -> bool:
    """Whether `model` is a PSPNet (`keras_fcn.models.pspnet`): its deep stem's first layer."""
    return any(layer.name in PSPNET_STEM for layer in model.layers)


def _caffe_type(layer: keras.layers.Layer, resnet: bool, pspnet: bool = False) -> str | None:
    """The Caffe type of a Keras layer that holds (or stands for) Caffe blobs, else `None`; a
    batch normalization of a ResNet (`resnet`) stands for MSRA's BatchNorm + Scale, of a
    PSPNet (`pspnet`) for PSPNet's `BN` (SegNet's Caffe `BN` is another layer)."""
    if isinstance(layer, keras.layers.BatchNormalization) and pspnet:
        return "BN"
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return "Deconvolution"
    if isinstance(layer, keras.layers.Conv2D):
        return "Convolution"
    if isinstance(layer, keras.layers.Rescaling):
        return "Scale"
    if isinstance(layer, keras.layers.BatchNormalization) and resnet:
        return "BatchNorm"
    return None


def _caffe_shapes(layer: keras.layers.Layer) -> tuple[tuple[int, ...], ...]:
    """The shapes of the Caffe blobs of a layer: kernels `(out, in, kh, kw)` (convolution) or
    `(in, out, kh, kw)` (deconvolution), biases `(out,)`; one scale per channel (Scale)."""
    if isinstance(layer, keras.layers.Rescaling):
        return ((layer.input.shape[-1],),)
    kernel, *bias = (tuple(variable.shape) for variable in layer.weights)
    return ((kernel[3], kernel[2], kernel[0], kernel[1]), *bias)


def _kernel_to_keras(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """(out, in, kh, kw) → (kh, kw, in, out); (in, out, kh, kw) → (kh, kw, out, in), into an
    aligned buffer the variable takes without a copy."""
    kernel = aligned_empty(tuple(arrays[0].shape[axis] for axis in (2, 3, 1, 0)))
    np.copyto(kernel, arrays[0].transpose(2, 3, 1, 0))
    return [kernel, *arrays[1:]]


def batch_norm_statistics(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """A Caffe `BatchNorm`'s blobs `[mean · s, variance · s, [s]]` → `[mean, variance]`.

    In float32 as Caffe computes them (`BatchNormLayer::Forward_cpu`, `use_global_stats`):
    both scaled by `1 / s`, or by 0 where `s` is 0 (a layer that never saw a batch).

    Example:

    >>> mean, variance = batch_norm_statistics([np.float32([2, 4]), np.float32([8, 6]), [2.0]])
    >>> mean.tolist(), variance.tolist()
    ([1.0, 2.0], [4.0, 3.0])
    >>> [a.tolist() for a in batch_norm_statistics([np.float32([2]), np.float32([8]), [0.0]])]
    [[0.0], [0.0]]
    """
    scaled_mean, scaled_variance, factor = (np.asarray(array, np.float32) for array in arrays)
    factor = factor.reshape(-1)[0]
    scale = np.float32(0) if factor == 0 else np.float32(1) / factor
    return [scaled_mean * scale, scaled_variance * scale]


def _batch_norm_targets(layer: keras.layers.BatchNormalization, name: str) -> list[Target]:
    """Caffe's `BatchNorm` (moving mean and variance) and the `Scale` after it (γ, β)."""
    channels = (layer.gamma.shape[0],)
    return [
        Target(
            layer,
            name,
            "BatchNorm",
            (channels, channels, (1,)),
            convert=batch_norm_statistics,
            variables=(layer.moving_mean, layer.moving_variance),
        ),
        Target(
            layer,
            caffe_scale_name(name),
            "Scale",
            (channels, channels),
            convert=list,
            variables=(layer.gamma, layer.beta),
        ),
    ]


def _pspnet_batch_norm_target(layer: keras.layers.BatchNormalization, name: str) -> Target:
    """PSPNet's `BN`: γ, β, moving mean, moving variance, each (1, C, 1, 1), in Keras' order."""
    shape = (1, layer.gamma.shape[0], 1, 1)
    return Target(
        layer, name, "BN", (shape,) * 4, convert=lambda arrays: [a.reshape(-1) for a in arrays]
    )


def _scale_check(layer: keras.layers.Rescaling):
    def check(arrays: list[np.ndarray]) -> str | None:
        values = np.unique(arrays[0])
        if values.tolist() == [np.float32(layer.scale)]:
            return None
        scales = ", ".join(f"{value:g}" for value in values[:4])
        return (
            f"scales by {scales}, not by {layer.scale:g} as the model's fixed {layer.name!r} does."
        )

    return check


def caffe_targets(model: keras.Model, source: str = "the file") -> list[Target]:
    """Where each blob-holding layer of a Caffe FCN, DeepLab or Dilation file goes in `model`.

    Args:
        model: a keras_fcn model of the VGG16 chapter, DeepLab v2's ResNet-101 or PSPNet.
        source: the file, named in the message of a layer no Caffe type stands for.

    Returns:
        One `Target` per convolution, deconvolution and fixed scale of the model, and two per
        batch normalization (`BatchNorm`, `Scale`), or one (PSPNet's `BN`), in its order.

    Raises:
        ValueError: for a layer holding weights that no Caffe layer type this mapping knows
            stands for.

    Example:

    >>> model = keras_fcn.FCN32s(num_classes=2, weights=None, fc_units=8)
    >>> targets = caffe_targets(model)
    >>> targets[0].source, targets[-1].type, targets[-1].shapes
    ('conv1_1', 'Deconvolution', ((2, 2, 64, 64),))
    """
    depth = _resnet_depth(model)
    pspnet = _is_pspnet(model)
    targets = []
    for layer in model.layers:
        caffe_type = _caffe_type(layer, depth is not None, pspnet)
        if caffe_type is None:
            if layer.weights:
                raise ValueError(
                    f"The model's layer {layer.name!r} ({type(layer).__name__}) holds weights "
                    f"that no Caffe layer type this reader knows stands for; {source} cannot "
                    "fill it."
                )
            continue
        if pspnet:
            name = pspnet_caffe_name(layer.name)
        else:  # the depth names ResNet layers only
            name = caffe_layer_name(layer.name, depth or 101)
        if caffe_type == "BN":
            targets.append(_pspnet_batch_norm_target(layer, name))
            continue
        if caffe_type == "BatchNorm":
            targets += _batch_norm_targets(layer, name)
            continue
        rescaling = isinstance(layer, keras.layers.Rescaling)
        targets.append(
            Target(
                layer,
                name,
                caffe_type,
                _caffe_shapes(layer),
                convert=None if rescaling else _kernel_to_keras,
                check=_scale_check(layer) if rescaling else None,
            )
        )
    return targets


def _msc_copies(stored: dict[str, StoredLayer], taken: set[str], path: str):
    """The loader's `skip`: a copy of a loaded layer in DeepLab v2's multi-scale net is skipped
    once its blobs are checked equal to the layer's; any other extra layer is not."""

    def skip(name: str) -> str | None:
        copied = [
            (name.removesuffix(suffix), scale)
            for suffix, scale in MSC_COPIES.items()
            if name.endswith(suffix) and name.removesuffix(suffix) in taken
        ]
        if not copied:
            return None
        ((original, scale),) = copied
        copy, layer = stored[name], stored[original]
        same = (copy.type, copy.shapes) == (layer.type, layer.shapes) and all(
            np.array_equal(a, b) for a, b in zip(copy.read(), layer.read(), strict=True)
        )
        if not same:
            raise ValueError(
                f"{path}: layer {name!r}, the copy of {original!r} for the scale {scale:g} of the "
                f"multi-scale (MSC) net, holds other blobs than {original!r}; the net shares "
                f"them between its scales, so the file is corrupt or not DeepLab's MSC net."
            )
        return f"the scale-{scale:g} copy of {original} (multi-scale net), equal to it"

    return skip


def _pspnet_auxiliary(name: str) -> str | None:
    """The loader's `skip` for a PSPNet built without the auxiliary head: its layers in the
    file are skipped, any other extra layer is not."""
    if name in PSPNET_AUX_LAYERS:
        return "PSPNet's auxiliary head of training (build the model with aux=True to load it)"
    return None


def load_caffemodel_report(
    model: keras.Model, path: str | os.PathLike, verbose: bool = False
) -> LoadReport:
    """Loads the weights of a `.caffemodel` into a keras_fcn model, matching layers by name.

    Every convolution (`Conv2D`, fc6's `MatmulConv2D`, the scores), deconvolution
    (`Conv2DTranspose`, the upsamplers), fixed scale (`Rescaling`, the at-once net's
    `scale_pool4`/`scale_pool3`) and batch normalization (a Caffe `BatchNorm` and `Scale`, or
    PSPNet's `BN`) of the model must have a layer of its Caffe name (`caffe_layer_name`,
    `pspnet_caffe_name`) and type in the file, with blobs of its shapes; every layer of the
    file holding blobs must have one in the model, but the copies of DeepLab v2's multi-scale
    net, checked equal to the layers they copy, and PSPNet's auxiliary head in a model built
    without it, which are skipped and reported. Nothing is set unless everything matches.

    Args:
        model: a model of keras_fcn, built with the architecture of the file's net (for the
            released nets, `keras_fcn.from_preset` builds it).
        path: the `.caffemodel` file.
        verbose: show the progress over the layers, with the time left.

    Returns:
        A `LoadReport`: the Caffe names of the layers loaded, in the model's order, and the
        layers skipped, each with why.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a truncated or corrupt file, a layer missing from the file or from the
            model, of another type, or with blobs of other shapes or number, or a
            multi-scale copy that differs from its layer; the message names the file, the
            layer and both shapes.

    Example:

    >>> model = keras_fcn.FCN32s(num_classes=2, weights=None, fc_units=8)
    >>> save_caffemodel(model, "fcn32s.caffemodel")
    >>> report = load_caffemodel_report(model, "fcn32s.caffemodel")
    >>> report.loaded[-1], dict(report.skipped)
    ('upscore', {})
    """
    path = os.fspath(path)
    targets = caffe_targets(model, path)
    stored = open_caffemodel(path)
    skip = _msc_copies(stored, {target.source for target in targets}, path)
    if _is_pspnet(model):
        skip = _pspnet_auxiliary
    return load_stored_layers(model, stored, targets, path, skip, verbose)


def load_caffemodel(
    model: keras.Model, path: str | os.PathLike, verbose: bool = False
) -> list[str]:
    """Loads the weights of a `.caffemodel` into a keras_fcn model, matching layers by name.

    `load_caffemodel_report`, returning the Caffe names of the layers loaded, in the model's
    order (a layer of the file and its `Scale` for a batch normalization).

    Example:

    >>> model = keras_fcn.FCN32s(num_classes=2, weights=None, fc_units=8)
    >>> save_caffemodel(model, "fcn32s.caffemodel")
    >>> loaded = load_caffemodel(keras_fcn.FCN32s(2, weights=None, fc_units=8), "fcn32s.caffemodel")
    >>> loaded[0], loaded[-1]
    ('conv1_1', 'upscore')
    """
    return list(load_caffemodel_report(model, path, verbose).loaded)


def _caffe_layers(model: keras.Model) -> Iterator[tuple[str, str, list[np.ndarray]]]:
    """The model's blob-holding layers as Caffe stores them: name, type, blobs."""
    for target in caffe_targets(model):
        if target.check is not None:
            (shape,) = target.shapes
            arrays = [np.full(shape, target.layer.scale, np.float32)]
        elif target.type == "BN":
            arrays = [
                weight.reshape(shape)
                for weight, shape in zip(target.layer.get_weights(), target.shapes, strict=True)
            ]
        elif target.variables is not None:
            arrays = [keras.ops.convert_to_numpy(variable) for variable in target.variables]
            if target.type == "BatchNorm":
                arrays.append(np.ones(1, np.float32))  # the moving-average factor s = 1
        else:
            kernel, *bias = target.layer.get_weights()
            arrays = [kernel.transpose(3, 2, 0, 1), *bias]
        yield target.source, target.type, arrays


def save_caffemodel(model: keras.Model, path: str | os.PathLike) -> None:
    """Writes the weights of a keras_fcn model as a `.caffemodel`, the inverse of loading it.

    Every convolution, deconvolution and fixed scale of the model becomes a `NetParameter.layer`
    of its Caffe name and type with its blobs in Caffe's layout (`(out, in, kh, kw)`,
    `(in, out, kh, kw)`, biases `(out,)`), every batch normalization a `BatchNorm` (moving
    mean and variance, factor 1) and a `Scale` (γ, β), or in a PSPNet a `BN`, so that Caffe
    (`Net::CopyFrom`), OpenCV's `dnn` module or `load_caffemodel` read it with the net's
    prototxt.

    Args:
        model: a model of keras_fcn.
        path: the file to write.

    Example:

    >>> from keras_fcn.weights import read_caffemodel
    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8)
    >>> save_caffemodel(model, "fcn8s.caffemodel")
    >>> layers = read_caffemodel("fcn8s.caffemodel")
    >>> layers["upscore8"].type, layers["upscore8"].blobs[0].shape  # (in, out, kh, kw)
    ('Deconvolution', (2, 2, 16, 16))
    """
    write_caffemodel(path, model.name, _caffe_layers(model))
