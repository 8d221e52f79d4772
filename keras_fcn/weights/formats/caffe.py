"""Caffe's `.caffemodel` files read and written without Caffe: a file is its layers' blobs by name.

A `.caffemodel` is a serialized `caffe.NetParameter` (protobuf, proto2). Its message classes are
built at run time from a descriptor of the few messages of BVLC/caffe's `caffe.proto` that hold
weights (`caffe_messages`), so neither Caffe nor a `protoc` step is needed; protobuf skips every
other field (`convolution_param`, ...) of a real file, and is imported only when a file is read
or written. Both formats Caffe has written are read: `NetParameter.layer` (field 100,
`LayerParameter`, since 2015) and the legacy `layers` (field 2, `V1LayerParameter`), blob shapes
as `BlobShape` or as the legacy num/channels/height/width (which win when set, as in
`Blob::FromProto`), values as `data` (float) or `double_data`.

The file is read one layer at a time (a 538 MB file is never in memory whole). `open_caffemodel`
scans it once for each layer's name, type, blob shapes and place in the file, and reads a
layer's blobs again only when asked, so that a loader can check a whole file against a model
before it reads any weight; `read_caffemodel` reads every blob at once. What the layers mean for
a model (names, layouts) is not this module's business: `keras_fcn.weights.mappings.caffe`.

Reference: BVLC/caffe, `src/caffe/proto/caffe.proto`, `src/caffe/blob.cpp` (`FromProto`,
`ShapeEquals`), `src/caffe/net.cpp` (`CopyTrainedLayersFrom`).
"""

import dataclasses
import functools
import os
import types
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from keras_fcn.weights.formats.stored import StoredLayer

# protobuf's FieldDescriptorProto types and labels, as numbered in descriptor.proto (the module is
# imported only when a file is read or written).
_DOUBLE, _FLOAT, _INT64, _INT32, _STRING, _MESSAGE = 1, 2, 3, 5, 9, 11
_OPTIONAL, _REPEATED = 1, 3

# (message, [(field, number, type, repeated, message type or None)]), from caffe.proto.
_CAFFE_MESSAGES = (
    ("BlobShape", [("dim", 1, _INT64, True, None)]),
    (
        "BlobProto",
        [
            ("shape", 7, _MESSAGE, False, "BlobShape"),
            ("data", 5, _FLOAT, True, None),
            ("double_data", 8, _DOUBLE, True, None),
            ("num", 1, _INT32, False, None),
            ("channels", 2, _INT32, False, None),
            ("height", 3, _INT32, False, None),
            ("width", 4, _INT32, False, None),
        ],
    ),
    (
        "LayerParameter",
        [
            ("name", 1, _STRING, False, None),
            ("type", 2, _STRING, False, None),
            ("blobs", 7, _MESSAGE, True, "BlobProto"),
        ],
    ),
    (
        "V1LayerParameter",
        [
            ("name", 4, _STRING, False, None),
            # An enum in caffe.proto; read as its integer, so that no value is ever dropped.
            ("type", 5, _INT32, False, None),
            ("blobs", 6, _MESSAGE, True, "BlobProto"),
        ],
    ),
    (
        "NetParameter",
        [
            ("name", 1, _STRING, False, None),
            ("layer", 100, _MESSAGE, True, "LayerParameter"),
            ("layers", 2, _MESSAGE, True, "V1LayerParameter"),
        ],
    ),
)

_NET_LAYER_FIELDS = {100: "LayerParameter", 2: "V1LayerParameter"}
"""NetParameter's fields holding layers: `layer` (current) and `layers` (legacy V1)."""

V1_LAYER_TYPES = {4: "Convolution", 39: "Deconvolution", 14: "InnerProduct", 18: "ReLU"}
"""The V1LayerParameter.LayerType values of the layers FCNs are made of, by their names."""


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
    from google.protobuf import descriptor_pb2, message_factory

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
                label=_REPEATED if repeated else _OPTIONAL,
            )
            if type_name:
                field.type_name = f".caffe.{type_name}"
            if repeated and field_type != _MESSAGE:
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


def _parse_layer(layer_class, data: bytes, path: str, label: str):
    """One layer message parsed; a `ValueError` naming the file if its bytes are corrupt."""
    from google.protobuf import message

    try:
        return layer_class.FromString(data)
    except message.DecodeError as error:
        raise ValueError(
            f"{path}: {label} is corrupt ({error}); the file is not a readable .caffemodel."
        ) from error


def _layer_messages(path: str) -> Iterator[tuple[int, int, int, object]]:
    """Parses the layers of a NetParameter file one at a time, skipping its other fields.

    Only NetParameter's own fields are walked here (a tag, then a varint, 8 or 4 bytes, or a
    length and that many bytes); each layer is parsed by its message class. Yields the layer's
    field number, the offset and length of its bytes, and the message, which is not kept here,
    so that it is freed as soon as the caller drops it.
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
                offset = file.tell()
                layer_class = getattr(messages, _NET_LAYER_FIELDS[number])
                yield (
                    number,
                    offset,
                    length,
                    _parse_layer(layer_class, file.read(length), path, f"layer #{index}"),
                )
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


def _layer_type(layer) -> str:
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


def _blob_arrays(layer, path: str) -> list[np.ndarray]:
    """A layer's blobs as float32 arrays of their stored shapes."""
    arrays = []
    for index, blob in enumerate(layer.blobs):
        shape, _ = _blob_shape(blob, path, layer.name, index)
        if len(blob.double_data):
            array = np.asarray(blob.double_data, np.float64).astype(np.float32)
        else:
            array = np.asarray(blob.data, np.float32)
        arrays.append(array.reshape(shape))
    return arrays


def _check_unique(seen: dict, name: str, path: str) -> None:
    if name in seen:
        raise ValueError(f"{path}: two layers are named {name!r}; the file is ambiguous.")


def open_caffemodel(path: str | os.PathLike) -> dict[str, StoredLayer]:
    """Scans a `.caffemodel` for its layers holding blobs; their blobs are read when asked.

    One pass over the file notes each layer's name, type, blob shapes and place; a layer's
    `read()` parses its bytes again and returns its blobs (float32, Caffe's layout). Memory
    holds one layer at a time.

    Args:
        path: the `.caffemodel` file.

    Returns:
        `{name: StoredLayer}` in the file's order; layers without blobs (ReLU, Pooling, ...)
        are left out.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a truncated or corrupt file, a file without layers, a blob whose values
            do not fill its shape, or two layers of one name; the message names the file and
            the layer.

    Example:

    >>> messages = caffe_messages()
    >>> net = messages.NetParameter(name="tiny")
    >>> layer = net.layer.add(name="score_fr", type="Convolution")
    >>> _ = layer.blobs.add(shape=messages.BlobShape(dim=[1, 2]), data=[0.5, -1.0])
    >>> with open("tiny.caffemodel", "wb") as file:
    ...     _ = file.write(net.SerializeToString())
    >>> stored = open_caffemodel("tiny.caffemodel")["score_fr"]
    >>> stored.type, stored.shapes, stored.read()[0].tolist()
    ('Convolution', ((1, 2),), [[0.5, -1.0]])
    """
    path = os.fspath(path)
    layers = {}
    for number, offset, length, layer in _layer_messages(path):
        if layer.blobs:
            _check_unique(layers, layer.name, path)
            shapes = [_blob_shape(blob, path, layer.name, i) for i, blob in enumerate(layer.blobs)]
            layers[layer.name] = StoredLayer(
                layer.name,
                _layer_type(layer),
                tuple(shape for shape, _ in shapes),
                tuple(legacy for _, legacy in shapes),
                functools.partial(_read_layer, path, number, offset, length, layer.name),
            )
        del layer  # the parsed message, as large as its blobs, before the next one is read
    return layers


def _read_layer(path: str, number: int, offset: int, length: int, name: str) -> list[np.ndarray]:
    """The blobs of the layer stored at `offset` (`open_caffemodel`'s `read`)."""
    layer_class = getattr(caffe_messages(), _NET_LAYER_FIELDS[number])
    with open(path, "rb") as file:
        file.seek(offset)
        data = file.read(length)
    if len(data) != length:
        raise ValueError(f"{path} changed while it was read: layer {name!r} is cut short.")
    return _blob_arrays(_parse_layer(layer_class, data, path, f"layer {name!r}"), path)


def read_caffemodel(path: str | os.PathLike) -> dict[str, CaffeLayer]:
    """Reads the layers holding blobs of a `.caffemodel` file, every blob at once.

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
    for _, _, _, layer in _layer_messages(path):
        if layer.blobs:
            _check_unique(layers, layer.name, path)
            layers[layer.name] = CaffeLayer(
                layer.name,
                _layer_type(layer),
                tuple(_blob_arrays(layer, path)),
                tuple(
                    _blob_shape(blob, path, layer.name, index)[1]
                    for index, blob in enumerate(layer.blobs)
                ),
            )
        del layer  # the parsed message, as large as its blobs, before the next one is read
    return layers


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


def write_caffemodel(
    path: str | os.PathLike,
    net_name: str,
    layers: Iterable[tuple[str, str, Sequence[np.ndarray]]],
) -> None:
    """Writes layers and their blobs as a `.caffemodel` (`NetParameter.layer`, float `data`).

    Blob values go in as packed floats written directly, since protobuf's Python containers
    take minutes to fill with a hundred million values. Only weights are written (no
    prototxt); Caffe (`Net::CopyFrom`) and OpenCV's `dnn` module read them with the net's one.

    Args:
        path: the file to write.
        net_name: `NetParameter.name`.
        layers: `(name, type, blobs)` in the net's order, blobs in Caffe's layout.

    Example:

    >>> write_caffemodel("net.caffemodel", "net", [("fc", "InnerProduct", [np.ones((2, 3))])])
    >>> read_caffemodel("net.caffemodel")["fc"].blobs[0].shape
    (2, 3)
    """
    messages = caffe_messages()
    with open(os.fspath(path), "wb") as file:
        file.write(messages.NetParameter(name=net_name).SerializeToString())
        for name, layer_type, arrays in layers:
            body = messages.LayerParameter(name=name, type=layer_type).SerializeToString()
            for array in arrays:
                blob = messages.BlobProto(shape=messages.BlobShape(dim=np.shape(array)))
                blob_bytes = blob.SerializeToString() + _packed_floats(5, array)
                body += _length_prefix(7, len(blob_bytes)) + blob_bytes
            file.write(_length_prefix(100, len(body)) + body)
