"""The Caffe nets of FCN, DeepLab and Dilation as keras_fcn models: names, types, layouts.

Layers match by name, as Caffe's `Net::CopyTrainedLayersFrom` does: Caffe's `conv1_1` …
`conv5_3` are keras.applications' `block1_conv1` … `block5_conv3` (`caffe_layer_name`), every
other name is the same. Convolution blobs `(out, in / group, kh, kw)` and deconvolution blobs
`(in, out / group, kh, kw)` both become Keras kernels by `transpose(2, 3, 1, 0)`, unflipped
(Caffe's deconvolution is the transposed scatter of its convolution, as
`keras.layers.Conv2DTranspose`). A fixed `Rescaling` (the at-once FCN-8s's `scale_pool4`) stands
for a Caffe `Scale` whose blob must hold its constant.

Loading is all or nothing (`keras_fcn.weights.loader`): a missing or extra layer, a blob of
another shape, a truncated or corrupt file raise a `ValueError` naming the file, the layer and
the shapes before any weight is set. Caffe itself ignores layers it does not know, but here an
extra layer means the file is another net's: an at-once FCN-8s file read as the staged FCN-8s
would otherwise load without its skip scales. The file is scanned once to check every layer,
then each layer is read again as it is set, so that besides the model's own weights memory holds
about two copies of its largest layer.

Reference: BVLC/caffe, `src/caffe/net.cpp` (`CopyTrainedLayersFrom`); the releases'
prototxts (`voc-fcn*/net.py`, DeepLab-LargeFOV's and Dilation's `test.prototxt`).
"""

import os
import re
from collections.abc import Iterator

import keras
import numpy as np

from keras_fcn.backends import aligned_empty
from keras_fcn.weights.formats.caffe import open_caffemodel, write_caffemodel
from keras_fcn.weights.loader import Target, load_stored_layers

_KERAS_CONV_NAME = re.compile(r"block(\d)_conv(\d)(.*)")


def caffe_layer_name(keras_name: str) -> str:
    """The Caffe name of a layer of a keras_fcn model.

    keras.applications' VGG16 names (`block4_conv2`, with a stream suffix `block1_conv1hha`)
    become Caffe's (`conv4_2`, `conv1_1hha`); every other layer already has its Caffe name.

    Example:

    >>> caffe_layer_name("block4_conv2"), caffe_layer_name("block1_conv1hha")
    ('conv4_2', 'conv1_1hha')
    >>> caffe_layer_name("score_pool4_sem")
    'score_pool4_sem'
    """
    match = _KERAS_CONV_NAME.fullmatch(keras_name)
    return f"conv{match[1]}_{match[2]}{match[3]}" if match else keras_name


def _caffe_type(layer: keras.layers.Layer) -> str | None:
    """The Caffe type of a Keras layer that holds (or stands for) Caffe blobs, else `None`."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return "Deconvolution"
    if isinstance(layer, keras.layers.Conv2D):
        return "Convolution"
    if isinstance(layer, keras.layers.Rescaling):
        return "Scale"
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
        model: a keras_fcn model of the VGG16 chapter.
        source: the file, named in the message of a layer no Caffe type stands for.

    Returns:
        One `Target` per convolution, deconvolution and fixed scale of the model, in its order.

    Raises:
        ValueError: for a layer holding weights that no Caffe layer type this mapping knows
            stands for.

    Example:

    >>> model = keras_fcn.FCN32s(num_classes=2, weights=None, fc_units=8)
    >>> targets = caffe_targets(model)
    >>> targets[0].source, targets[-1].type, targets[-1].shapes
    ('conv1_1', 'Deconvolution', ((2, 2, 64, 64),))
    """
    targets = []
    for layer in model.layers:
        caffe_type = _caffe_type(layer)
        if caffe_type is None:
            if layer.weights:
                raise ValueError(
                    f"The model's layer {layer.name!r} ({type(layer).__name__}) holds weights "
                    f"that no Caffe layer type this reader knows stands for; {source} cannot "
                    "fill it."
                )
            continue
        rescaling = isinstance(layer, keras.layers.Rescaling)
        targets.append(
            Target(
                layer,
                caffe_layer_name(layer.name),
                caffe_type,
                _caffe_shapes(layer),
                convert=None if rescaling else _kernel_to_keras,
                check=_scale_check(layer) if rescaling else None,
            )
        )
    return targets


def load_caffemodel(model: keras.Model, path: str | os.PathLike) -> list[str]:
    """Loads the weights of a `.caffemodel` into a keras_fcn model, matching layers by name.

    Every convolution (`Conv2D`, fc6's `MatmulConv2D`, the scores), deconvolution
    (`Conv2DTranspose`, the upsamplers) and fixed scale (`Rescaling`, the at-once net's
    `scale_pool4`/`scale_pool3`) of the model must have a layer of its Caffe name
    (`caffe_layer_name`) and type in the file, with blobs of its shapes; every layer of the file
    holding blobs must have one in the model. Nothing is set unless everything matches.

    Args:
        model: a model of keras_fcn, built with the architecture of the file's net (for the
            released nets, `keras_fcn.from_preset` builds it).
        path: the `.caffemodel` file.

    Returns:
        The Caffe names of the layers loaded, in the model's order.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a truncated or corrupt file, a layer missing from the file or from the
            model, of another type, or with blobs of other shapes or number; the message
            names the file, the layer and both shapes.

    Example:

    >>> model = keras_fcn.FCN32s(num_classes=2, weights=None, fc_units=8)
    >>> save_caffemodel(model, "fcn32s.caffemodel")
    >>> loaded = load_caffemodel(keras_fcn.FCN32s(2, weights=None, fc_units=8), "fcn32s.caffemodel")
    >>> loaded[0], loaded[-1]
    ('conv1_1', 'upscore')
    """
    path = os.fspath(path)
    targets = caffe_targets(model, path)
    return list(load_stored_layers(model, open_caffemodel(path), targets, path).loaded)


def _caffe_layers(model: keras.Model) -> Iterator[tuple[str, str, list[np.ndarray]]]:
    """The model's blob-holding layers as Caffe stores them: name, type, blobs."""
    for target in caffe_targets(model):
        if target.check is not None:
            (shape,) = target.shapes
            arrays = [np.full(shape, target.layer.scale, np.float32)]
        else:
            kernel, *bias = target.layer.get_weights()
            arrays = [kernel.transpose(3, 2, 0, 1), *bias]
        yield target.source, target.type, arrays


def save_caffemodel(model: keras.Model, path: str | os.PathLike) -> None:
    """Writes the weights of a keras_fcn model as a `.caffemodel`, the inverse of loading it.

    Every convolution, deconvolution and fixed scale of the model becomes a `NetParameter.layer`
    of its Caffe name and type with its blobs in Caffe's layout (`(out, in, kh, kw)`,
    `(in, out, kh, kw)`, biases `(out,)`), so that Caffe (`Net::CopyFrom`), OpenCV's `dnn`
    module or `load_caffemodel` read it with the net's prototxt.

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
