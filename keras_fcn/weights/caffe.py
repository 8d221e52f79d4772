"""Caffe's `.caffemodel` files read (and written) without Caffe, and loaded into Keras models.

A `.caffemodel` is a serialized `caffe.NetParameter` (protobuf, proto2). Its message classes are
built at run time from a descriptor of the few messages of BVLC/caffe's `caffe.proto` that hold
weights (`caffe_messages`), so neither Caffe nor a `protoc` step is needed; protobuf skips every
other field (`convolution_param`, ...) of a real file. Both formats Caffe has written are read:
`NetParameter.layer` (field 100, `LayerParameter`, since 2015) and the legacy `layers` (field 2,
`V1LayerParameter`), blob shapes as `BlobShape` or as the legacy num/channels/height/width
(which win when set, as in `Blob::FromProto`), values as `data` (float) or `double_data`.

The file is read one layer at a time (a 538 MB file is never in memory whole), and layers are
matched to a model's by name, as Caffe's `Net::CopyTrainedLayersFrom` does: Caffe's `conv1_1` …
`conv5_3` are keras.applications' `block1_conv1` … `block5_conv3` (`caffe_layer_name`), every
other name is the same. Convolution blobs `(out, in / group, kh, kw)` and deconvolution blobs
`(in, out / group, kh, kw)` both become Keras kernels by `transpose(2, 3, 1, 0)`, unflipped
(Caffe's deconvolution is the transposed scatter of its convolution, as
`keras.layers.Conv2DTranspose`). Loading is all or nothing: a
missing or extra layer, a blob of another shape, a truncated or corrupt file raise a
`ValueError` naming the file, the layer and the shapes before any weight is set: loading reads
the file twice, once to check every layer and once to set each layer's weights as it is read,
so that besides the model's own weights memory holds about two copies of its largest layer.

Reference: BVLC/caffe, `src/caffe/proto/caffe.proto`, `src/caffe/blob.cpp` (`FromProto`,
`ShapeEquals`), `src/caffe/net.cpp` (`CopyTrainedLayersFrom`).
"""

import dataclasses
import functools
import os
import re
import types
from collections.abc import Iterator

import keras
import numpy as np
from google.protobuf import descriptor_pb2, message, message_factory

from keras_fcn.backends import aligned_empty, assign_array

_FIELD = descriptor_pb2.FieldDescriptorProto

# (message, [(field, number, type, repeated, message type or None)]), from caffe.proto.
_CAFFE_MESSAGES = (
    ("BlobShape", [("dim", 1, _FIELD.TYPE_INT64, True, None)]),
    (
        "BlobProto",
        [
            ("shape", 7, _FIELD.TYPE_MESSAGE, False, "BlobShape"),
            ("data", 5, _FIELD.TYPE_FLOAT, True, None),
            ("double_data", 8, _FIELD.TYPE_DOUBLE, True, None),
            ("num", 1, _FIELD.TYPE_INT32, False, None),
            ("channels", 2, _FIELD.TYPE_INT32, False, None),
            ("height", 3, _FIELD.TYPE_INT32, False, None),
            ("width", 4, _FIELD.TYPE_INT32, False, None),
        ],
    ),
    (
        "LayerParameter",
        [
            ("name", 1, _FIELD.TYPE_STRING, False, None),
            ("type", 2, _FIELD.TYPE_STRING, False, None),
            ("blobs", 7, _FIELD.TYPE_MESSAGE, True, "BlobProto"),
        ],
    ),
    (
        "V1LayerParameter",
        [
            ("name", 4, _FIELD.TYPE_STRING, False, None),
            # An enum in caffe.proto; read as its integer, so that no value is ever dropped.
            ("type", 5, _FIELD.TYPE_INT32, False, None),
            ("blobs", 6, _FIELD.TYPE_MESSAGE, True, "BlobProto"),
        ],
    ),
    (
        "NetParameter",
        [
            ("name", 1, _FIELD.TYPE_STRING, False, None),
            ("layer", 100, _FIELD.TYPE_MESSAGE, True, "LayerParameter"),
            ("layers", 2, _FIELD.TYPE_MESSAGE, True, "V1LayerParameter"),
        ],
    ),
)

_NET_LAYER_FIELDS = {100: "LayerParameter", 2: "V1LayerParameter"}
"""NetParameter's fields holding layers: `layer` (current) and `layers` (legacy V1)."""

V1_LAYER_TYPES = {4: "Convolution", 39: "Deconvolution", 14: "InnerProduct", 18: "ReLU"}
"""The V1LayerParameter.LayerType values of the layers FCNs are made of, by their names."""

_KERAS_CONV_NAME = re.compile(r"block(\d)_conv(\d)(.*)")


@functools.cache
def caffe_messages() -> types.SimpleNamespace:
    """The protobuf message classes of the weight-holding part of `caffe.proto`.

    Built once from a `FileDescriptorProto` written in code (package `caffe`, proto2, with
    `dim`, `data` and `double_data` packed as in caffe.proto), in a pool of their own.

    Returns:
        A namespace with `NetParameter`, `LayerParameter`, `V1LayerParameter`, `BlobProto` and
        `BlobShape`.

    Example:

    >>> messages = caffe_messages()
    >>> net = messages.NetParameter(name="tiny")
    >>> layer = net.layer.add(name="score_fr", type="Convolution")
    >>> _ = layer.blobs.add(shape=messages.BlobShape(dim=[2]), data=[0.5, -1.0])
    >>> messages.NetParameter.FromString(net.SerializeToString()).layer[0].blobs[0].data[1]
    -1.0
    """
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="keras_fcn/caffe_weights.proto", package="caffe", syntax="proto2"
    )
    for message_name, fields in _CAFFE_MESSAGES:
        message_proto = file_proto.message_type.add(name=message_name)
        for field_name, number, field_type, repeated, type_name in fields:
            field = message_proto.field.add(
                name=field_name,
                number=number,
                type=field_type,
                label=_FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL,
            )
            if type_name:
                field.type_name = f".caffe.{type_name}"
            if repeated and field_type != _FIELD.TYPE_MESSAGE:
                field.options.packed = True
    classes = message_factory.GetMessages([file_proto])
    return types.SimpleNamespace(**{name: classes[f"caffe.{name}"] for name, _ in _CAFFE_MESSAGES})


@dataclasses.dataclass(frozen=True)
class CaffeLayer:
    """One layer of a `.caffemodel` that holds blobs, as stored.

    Args:
        name: the layer's name.
        type: its type (`"Convolution"`, `"Deconvolution"`, `"Scale"`, ...; a V1 layer's
            enum is given its name where `V1_LAYER_TYPES` knows it).
        blobs: its blobs as float32 arrays in Caffe's layout and shape.
        legacy_shapes: for each blob, whether its shape came from the legacy 4-D fields, which
            Caffe compares to a layer's shape aligned to the right (a bias `(1, 1, 1, N)`
            fits `(N,)`).
    """

    name: str
    type: str
    blobs: tuple[np.ndarray, ...]
    legacy_shapes: tuple[bool, ...]


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


def _read_varint(file, path: str) -> int | None:
    """Reads one varint; `None` at a clean end of file."""
    value, shift = 0, 0
    while True:
        byte = file.read(1)
        if not byte:
            if shift == 0:
                return None
            raise ValueError(f"{path}: the file is truncated (it ends inside a field header).")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise ValueError(f"{path}: the file is corrupt (a varint runs over 10 bytes).")


def _layer_messages(path: str) -> Iterator[message.Message]:
    """Parses the layers of a NetParameter file one at a time, skipping its other fields.

    Only NetParameter's own fields are walked here (a tag, then a varint, 8 or 4 bytes, or a
    length and that many bytes); each layer is parsed by its message class. A message is yielded
    without being kept here, so that it is freed as soon as the caller drops it.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No .caffemodel file at {path!r}.")
    messages = caffe_messages()
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        index = 0
        while (tag := _read_varint(file, path)) is not None:
            number, wire_type = tag >> 3, tag & 7
            if wire_type == 0:
                _read_varint(file, path)
            elif wire_type in (1, 5):
                file.seek(8 if wire_type == 1 else 4, os.SEEK_CUR)
            elif wire_type == 2:
                length = _read_varint(file, path)
                if length is None or file.tell() + length > size:
                    raise ValueError(
                        f"{path}: the file is truncated: field {number} at byte "
                        f"{file.tell()} announces {length} bytes, {size - file.tell()} remain."
                    )
                if number not in _NET_LAYER_FIELDS:
                    file.seek(length, os.SEEK_CUR)
                    continue
                layer_class = getattr(messages, _NET_LAYER_FIELDS[number])
                try:
                    yield layer_class.FromString(file.read(length))
                except message.DecodeError as error:
                    raise ValueError(
                        f"{path}: layer #{index} is corrupt ({error}); the file is not a "
                        "readable .caffemodel."
                    ) from error
                index += 1
            else:
                raise ValueError(
                    f"{path}: the file is corrupt or not a .caffemodel (wire type {wire_type} "
                    f"of field {number} before byte {file.tell()})."
                )
        if file.tell() > size:
            raise ValueError(f"{path}: the file is truncated (its last field ends past its end).")
        if not index:
            raise ValueError(f"{path}: the file holds no layers; it is not a .caffemodel.")


def _layer_type(layer: message.Message) -> str:
    """A layer's type: LayerParameter's string, or the name of a V1 layer's enum value."""
    if isinstance(layer.type, int):
        return V1_LAYER_TYPES.get(layer.type, f"V1 type {layer.type}")
    return layer.type


def _blob_shape(blob, path: str, layer_name: str, index: int) -> tuple[tuple[int, ...], bool]:
    """A BlobProto's shape and whether it is legacy; checks that its values fill it."""
    legacy = any(blob.HasField(field) for field in ("num", "channels", "height", "width"))
    shape = (blob.num, blob.channels, blob.height, blob.width) if legacy else tuple(blob.shape.dim)
    size = len(blob.double_data) or len(blob.data)
    if size != int(np.prod(shape)):
        raise ValueError(
            f"{path}: blob {index} of layer {layer_name!r} holds {size} values, but its "
            f"shape {shape} needs {int(np.prod(shape))}; the file is corrupt."
        )
    return shape, legacy


def _blob_array(blob, path: str, layer_name: str, index: int) -> np.ndarray:
    """A BlobProto's values as a float32 array of its stored shape."""
    shape, _ = _blob_shape(blob, path, layer_name, index)
    if len(blob.double_data):
        return np.asarray(blob.double_data, np.float64).astype(np.float32).reshape(shape)
    return np.asarray(blob.data, np.float32).reshape(shape)


def _check_unique(seen: dict, name: str, path: str) -> None:
    if name in seen:
        raise ValueError(f"{path}: two layers are named {name!r}; the file is ambiguous.")


def read_caffemodel(path: str | os.PathLike) -> dict[str, CaffeLayer]:
    """Reads the layers holding blobs of a `.caffemodel` file.

    Layers without blobs (ReLU, Pooling, Crop, ...) are skipped. The file is read one layer at
    a time, in either of Caffe's formats (see the module docstring).

    Args:
        path: the `.caffemodel` file.

    Returns:
        `{name: CaffeLayer}` in the file's order, blobs in Caffe's layout as float32.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a truncated or corrupt file, a file without layers, a blob whose
            values do not fill its shape, or two layers of one name; the message names the
            file and the layer.

    Example:

    >>> messages = caffe_messages()
    >>> net = messages.NetParameter(name="tiny")
    >>> blob = net.layer.add(name="score_fr", type="Convolution").blobs.add(num=1, channels=1)
    >>> blob.height, blob.width = 1, 2
    >>> blob.data.extend([0.5, -1.0])
    >>> with open("tiny.caffemodel", "wb") as file:
    ...     _ = file.write(net.SerializeToString())
    >>> read_caffemodel("tiny.caffemodel")["score_fr"].blobs[0].tolist()
    [[[[0.5, -1.0]]]]
    """
    path = os.fspath(path)
    layers = {}
    for layer in _layer_messages(path):
        if layer.blobs:
            _check_unique(layers, layer.name, path)
            blobs = list(enumerate(layer.blobs))
            layers[layer.name] = CaffeLayer(
                layer.name,
                _layer_type(layer),
                tuple(_blob_array(blob, path, layer.name, index) for index, blob in blobs),
                tuple(_blob_shape(blob, path, layer.name, index)[1] for index, blob in blobs),
            )
            del blobs
        del layer  # the parsed message, as large as its blobs, before the next one is read
    return layers


def _caffe_type(layer: keras.layers.Layer) -> str | None:
    """The Caffe type of a Keras layer that holds (or stands for) Caffe blobs, else `None`."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return "Deconvolution"
    if isinstance(layer, keras.layers.Conv2D):
        return "Convolution"
    if isinstance(layer, keras.layers.Rescaling):
        return "Scale"
    return None


def _caffe_shapes(layer: keras.layers.Layer) -> list[tuple[int, ...]]:
    """The shapes of the Caffe blobs of a layer: kernels `(out, in, kh, kw)` (convolution) or
    `(in, out, kh, kw)` (deconvolution), biases `(out,)`; one scale per channel (Scale)."""
    if isinstance(layer, keras.layers.Rescaling):
        return [(layer.input.shape[-1],)]
    kernel, *bias = (tuple(variable.shape) for variable in layer.weights)
    return [(kernel[3], kernel[2], kernel[0], kernel[1]), *bias]


def _fits(stored: tuple, legacy: bool, expected: tuple) -> bool:
    """Whether a stored blob shape is the expected one (legacy 4-D shapes aligned right)."""
    if not legacy:
        return stored == expected
    return len(expected) <= 4 and stored == (1,) * (4 - len(expected)) + expected


def load_caffemodel(model: keras.Model, path: str | os.PathLike) -> list[str]:
    """Loads the weights of a `.caffemodel` into a keras_fcn model, matching layers by name.

    Every convolution (`Conv2D`, fc6's `MatmulConv2D`, the scores), deconvolution
    (`Conv2DTranspose`, the upsamplers) and fixed scale (`Rescaling`, the at-once net's
    `scale_pool4`/`scale_pool3`) of the model must have a layer of its Caffe name
    (`caffe_layer_name`) and type in the file, with blobs of its shapes; every layer of the file
    holding blobs must have one in the model. Caffe itself ignores layers it does not know, but
    here an extra layer means the file is another net's: an at-once FCN-8s file read as the
    staged FCN-8s would otherwise load without its skip scales. Kernels are transposed
    `(2, 3, 1, 0)` into Keras' layout; a Scale blob is checked to hold the layer's constant.
    Nothing is set unless everything matches.

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
    # First pass: every layer's type, blob shapes and a Scale's values, to check the whole file
    # against the model before any weight is set; no blob is kept.
    stored = {}
    for layer in _layer_messages(path):
        if layer.blobs:
            _check_unique(stored, layer.name, path)
            shapes = [_blob_shape(blob, path, layer.name, i) for i, blob in enumerate(layer.blobs)]
            stored[layer.name] = (
                _layer_type(layer),
                [shape for shape, _ in shapes],
                [legacy for _, legacy in shapes],
                _blob_array(layer.blobs[0], path, layer.name, 0)
                if _layer_type(layer) == "Scale"
                else None,
            )
        del layer
    plan = {}
    for layer in model.layers:
        caffe_type = _caffe_type(layer)
        if caffe_type is None:
            if layer.weights:
                raise ValueError(
                    f"The model's layer {layer.name!r} ({type(layer).__name__}) holds weights "
                    f"that no Caffe layer type this reader knows stands for; {path} cannot fill it."
                )
            continue
        name = caffe_layer_name(layer.name)
        if name not in stored:
            continue  # reported below with every other missing layer
        stored_type, shapes, legacy_shapes, scales = stored[name]
        if stored_type != caffe_type:
            raise ValueError(
                f"{path}: layer {name!r} is a {stored_type} in the file but a {caffe_type} "
                f"({type(layer).__name__}) in the model."
            )
        expected = _caffe_shapes(layer)
        if len(shapes) != len(expected) or not all(
            _fits(shape, legacy, want)
            for shape, legacy, want in zip(shapes, legacy_shapes, expected, strict=False)
        ):
            raise ValueError(
                f"{path}: layer {name!r} holds blobs of shapes {shapes} (Caffe's layout), but the "
                f"model's layer {layer.name!r} takes {expected}. Is the file another net's, or "
                "the model built with other num_classes or fc_units?"
            )
        if isinstance(layer, keras.layers.Rescaling):
            values = np.unique(scales)
            if values.tolist() != [np.float32(layer.scale)]:
                scales = ", ".join(f"{value:g}" for value in values[:4])
                raise ValueError(
                    f"{path}: layer {name!r} scales by {scales}, not by {layer.scale:g} as the "
                    f"model's fixed {layer.name!r} does."
                )
        plan[name] = (layer, expected)

    missing = [
        caffe_layer_name(layer.name)
        for layer in model.layers
        if _caffe_type(layer) and caffe_layer_name(layer.name) not in stored
    ]
    extra = [name for name in stored if name not in plan]
    if missing or extra:
        raise ValueError(
            f"{path} is not the file of the model {model.name!r}: "
            + (f"it has no layer {', '.join(missing)}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"it holds layers the model lacks: {', '.join(extra)}" if extra else "")
            + f". The file's layers with weights are {', '.join(stored)}."
        )

    # Second pass: set each layer's weights as it is read. Besides the model's own weights,
    # memory holds at most two copies of one layer's blobs: the parsed message and its arrays,
    # or the arrays and the kernel transposed, which the variable takes without a copy.
    loaded = set()
    for source in _layer_messages(path):
        layer, expected = plan.get(source.name, (None, None))
        if layer is None or not source.blobs or isinstance(layer, keras.layers.Rescaling):
            del source
            continue  # no blobs, or a constant checked above
        loaded.add(source.name)
        arrays = [
            _blob_array(blob, path, source.name, index).reshape(shape)
            for index, (blob, shape) in enumerate(zip(source.blobs, expected, strict=True))
        ]
        del source
        # (out, in, kh, kw) → (kh, kw, in, out); (in, out, kh, kw) → (kh, kw, out, in).
        kernel = aligned_empty(tuple(arrays[0].shape[axis] for axis in (2, 3, 1, 0)))
        np.copyto(kernel, arrays[0].transpose(2, 3, 1, 0))
        values = [kernel, *arrays[1:]]
        del arrays, kernel
        for variable, value in zip(layer.weights, values, strict=True):
            assign_array(variable, value)
        del values
    unread = [name for name, (layer, _) in plan.items() if name not in loaded and layer.weights]
    if unread:
        raise ValueError(f"{path} changed while it was read: its layers {unread} are gone.")
    return list(plan)


def _packed_floats(number: int, values: np.ndarray) -> bytes:
    """A packed `repeated float` field: tag, byte length, little-endian float32 values."""
    payload = np.ascontiguousarray(values, "<f4").tobytes()
    return _length_prefix(number, len(payload)) + payload


def _length_prefix(number: int, length: int) -> bytes:
    """The tag of a length-delimited field and its length, as varints."""
    out = bytearray()
    for value in ((number << 3) | 2, length):
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                break
    return bytes(out)


def save_caffemodel(model: keras.Model, path: str | os.PathLike) -> None:
    """Writes the weights of a keras_fcn model as a `.caffemodel`, the inverse of loading it.

    Every convolution, deconvolution and fixed scale of the model becomes a `NetParameter.layer`
    of its Caffe name and type with its blobs in Caffe's layout (`(out, in, kh, kw)`,
    `(in, out, kh, kw)`, biases `(out,)`), so that Caffe (`Net::CopyFrom`), OpenCV's `dnn`
    module or `load_caffemodel` read it with the net's prototxt. Only weights are written (no
    prototxt). Blob values go in as packed floats written directly, since protobuf's Python
    containers take minutes to fill with a hundred million values.

    Args:
        model: a model of keras_fcn.
        path: the file to write.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8)
    >>> save_caffemodel(model, "fcn8s.caffemodel")
    >>> layers = read_caffemodel("fcn8s.caffemodel")
    >>> layers["upscore8"].type, layers["upscore8"].blobs[0].shape  # (in, out, kh, kw)
    ('Deconvolution', (2, 2, 16, 16))
    """
    messages = caffe_messages()
    with open(os.fspath(path), "wb") as file:
        file.write(messages.NetParameter(name=model.name).SerializeToString())
        for layer in model.layers:
            caffe_type = _caffe_type(layer)
            if caffe_type is None:
                continue
            if caffe_type == "Scale":
                (shape,) = _caffe_shapes(layer)
                arrays = [np.full(shape, layer.scale, np.float32)]
            else:
                kernel, *bias = layer.get_weights()
                arrays = [kernel.transpose(3, 2, 0, 1), *bias]
            body = messages.LayerParameter(
                name=caffe_layer_name(layer.name), type=caffe_type
            ).SerializeToString()
            for array in arrays:
                blob = messages.BlobProto(shape=messages.BlobShape(dim=array.shape))
                blob_bytes = blob.SerializeToString() + _packed_floats(5, array)
                body += _length_prefix(7, len(blob_bytes)) + blob_bytes
            file.write(_length_prefix(100, len(body)) + body)
