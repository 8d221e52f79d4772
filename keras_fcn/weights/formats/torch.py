"""PyTorch's `.pth` / `.pt` state-dict files read without torch, and without running their code.

`torch.save` has written two formats. Since torch 1.6 a file is a zip archive: under one top
folder (any name), `data.pkl` pickles the object, `data/<key>` holds the raw bytes of each
storage the pickle refers to, and `byteorder` says `little` or `big` (a file without it is
little-endian, as torch reads it). Before 1.6 (and with `_use_new_zipfile_serialization=False`)
a file is a run of pickles: torch's magic number, the protocol version 1001, a system-info dict,
the object, the list of storage keys, then for each key in that order the storage's element
count (8 bytes, little-endian) and its bytes (little-endian). In both, the pickle refers to a
storage by a persistent id, `('storage', storage type, key, location, numel)` (the legacy one
adds a view of a part of the storage, `(view key, offset, size)` or `None`), and rebuilds each
tensor as a strided view of a storage: `torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks[, metadata])`, or `_rebuild_tensor_v3`, whose storage is untyped
bytes and whose dtype follows, for the dtypes without a storage class of their own (`uint16`,
...); parameters wrap their tensor in `_rebuild_parameter`. (The still older tar archives
that `torch.load` also reads are not read here.)

Unpickling a downloaded file must never run its code, so the pickle is read by an unpickler
that resolves only an allow-list of globals: `collections.OrderedDict`, and stand-ins defined
here for those rebuild functions, torch's storage classes (`torch.FloatStorage`, ...,
`torch.cuda.FloatStorage`, ..., `torch.storage.UntypedStorage`) and dtypes (`torch.float32`,
...). Any other global (a pickled `nn.Module`, a checkpoint's `argparse.Namespace`,
`os.system`) is refused.
A tensor is read as a record of its storage, offset, shape and strides; only the state dict's
tensors are then built, each storage read once and freed after its last tensor, so that memory
holds about one copy of the weights besides the largest storage.

Reference: pytorch/pytorch, `torch/serialization.py` (`_save`, `_load`, `_legacy_save`,
`_legacy_load`), `torch/_utils.py` (`_rebuild_tensor_v2`, `_rebuild_tensor_v3`,
`_rebuild_parameter`), `torch/_tensor.py` (`Tensor._reduce_ex_internal`),
`torch/csrc/serialization.cpp` (`THPStorage_writeFileRaw`).
"""

import collections
import io
import os
import pickle
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_LEGACY_HEADS = tuple(
    pickle.dumps(_LEGACY_MAGIC, protocol=protocol)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
)
"""How a legacy file begins: its magic number pickled with any protocol `torch.save` may use."""

_DTYPES = {
    "float64": "<f8",
    "float32": "<f4",
    "float16": "<f2",
    "bfloat16": "<u2",
    "int64": "<i8",
    "int32": "<i4",
    "int16": "<i2",
    "int8": "i1",
    "uint8": "u1",
    "bool": "?",
    "uint16": "<u2",
    "uint32": "<u4",
    "uint64": "<u8",
}
"""The torch dtypes read, by name, with the numpy dtype of their bytes (bfloat16: its 16 bits)."""

_STORAGE_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}
"""torch's storage classes, by name, with the dtype of their elements (untyped: bytes)."""

_STORAGE_MODULES = ("torch", "torch.cuda", "torch.storage")
"""The modules a storage class is pickled from (`torch.cuda` by files of older torch)."""

_CHECKPOINT_KEYS = ("model", "state_dict", "model_state")
"""The keys under which a checkpoint dict holds its model's state dict."""


class _StorageType(NamedTuple):
    """The stand-in of a torch storage class: the dtype of its elements."""

    dtype: str


class _DType(NamedTuple):
    """The stand-in of a torch dtype (`torch.float32`, ...)."""

    name: str


class _StorageRef(NamedTuple):
    """A part of a stored storage: `numel` elements of `dtype` from element `offset` of `key`."""

    key: str
    dtype: str
    offset: int
    numel: int


class _TensorRef(NamedTuple):
    """A tensor as pickled: a strided view of a storage, in elements of its `dtype`.

    `flags` names the bits of torch's tensor metadata that are set (`neg` for a negative view).
    """

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str
    flags: tuple[str, ...]


class _RefusalError(Exception):
    """What the unpickler refuses or cannot make sense of; the reader adds the file's name."""


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and value >= 0


def _tensor_ref(
    storage: Any, offset: Any, size: Any, stride: Any, dtype: str, metadata: Any
) -> _TensorRef:
    """Checks a pickled tensor's arguments (any values, in a crafted file) and records them."""
    if not (
        isinstance(storage, _StorageRef)
        and _is_count(offset)
        and isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride)
        and all(_is_count(value) for value in size + stride)
        and isinstance(metadata, dict | None)
    ):
        raise _RefusalError(
            "a tensor is pickled with arguments other than torch's (a storage, an offset, a "
            "size and a stride of non-negative integers, and a dict of metadata); the file is "
            "corrupt or was not written by torch.save."
        )
    flags = tuple(str(name) for name, value in (metadata or {}).items() if value)
    return _TensorRef(storage, offset, size, stride, dtype, flags)


class _Unpickler(pickle.Unpickler):
    """Unpickles torch's records into stand-ins, resolving no global outside the allow-list.

    The rebuild functions given to the pickle are this unpickler's bound methods, whose
    attributes cannot be set: a pickle could reset a plain function's `__defaults__` (by BUILD)
    and so change how the files read after it are read. `storages` records each stored storage
    met, by key: the dtype of its elements and their number.
    """

    def __init__(self, file: io.IOBase):
        super().__init__(file)
        self.storages: dict[str, tuple[str, int]] = {}
        self._globals: dict[tuple[str, str], Any] = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor_v3"): self._rebuild_tensor_v3,
            ("torch._utils", "_rebuild_parameter"): self._rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self._rebuild_parameter,
        }
        for module in _STORAGE_MODULES:
            for name, dtype in _STORAGE_DTYPES.items():
                self._globals[module, name] = _StorageType(dtype)
        for name in _DTYPES:
            self._globals["torch", name] = _DType(name)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._globals[module, name]
        except KeyError:
            raise _RefusalError(
                f"refuses the global {module}.{name}: only collections.OrderedDict, torch's "
                "dense tensors and parameters, and the storages and dtypes of "
                f"{', '.join(_DTYPES)} are read, as unpickling anything else could run code. "
                "If you trust the file, load it with torch, convert its tensors to one of those "
                "dtypes and save its state dict alone: torch.save(model.state_dict(), path)."
            ) from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise _RefusalError(
                f"unexpected persistent id {pid!r:.80}: expected ('storage', storage type, key, "
                "location, numel); the file is corrupt or was not written by torch.save."
            )
        _, storage_type, key, _, numel = pid
        return self._storage(storage_type, key, numel, 0, numel)

    def _storage(
        self, storage_type: Any, key: Any, numel: Any, offset: Any, size: Any
    ) -> _StorageRef:
        """Records a stored storage of `numel` elements and refers to `size` of them."""
        if not (
            isinstance(storage_type, _StorageType)
            and isinstance(key, str)
            and all(_is_count(value) for value in (numel, offset, size))
        ):
            raise _RefusalError(
                f"storage {key!r:.80} is referred to by a storage type {storage_type!r:.80} and "
                f"sizes {numel!r:.20}, {offset!r:.20}, {size!r:.20}, where torch writes a "
                "storage class, a string key and element counts; the file is corrupt."
            )
        self.storages.setdefault(key, (storage_type.dtype, numel))
        return _StorageRef(key, storage_type.dtype, offset, size)

    # As torch._utils._rebuild_tensor_v2; the gradient flags and hooks are not weights.
    def _rebuild_tensor_v2(self, storage, offset, size, stride, _grad, _hooks, metadata=None):
        dtype = storage.dtype if isinstance(storage, _StorageRef) else ""
        return _tensor_ref(storage, offset, size, stride, dtype, metadata)

    def _rebuild_tensor_v3(
        self,
        storage: Any,
        offset: Any,
        size: Any,
        stride: Any,
        requires_grad: Any,
        hooks: Any,
        dtype: Any,
        metadata: Any = None,
    ) -> _TensorRef:
        if not isinstance(dtype, _DType):
            raise _RefusalError(
                f"a tensor's dtype is pickled as {dtype!r:.80}, where torch writes a torch "
                "dtype; the file is corrupt."
            )
        return _tensor_ref(storage, offset, size, stride, dtype.name, metadata)

    def _rebuild_parameter(self, data: Any, *_: Any) -> _TensorRef:
        """A parameter is its tensor (its `requires_grad`, hooks and attributes are dropped)."""
        if not isinstance(data, _TensorRef):
            raise _RefusalError(
                f"a parameter wraps {type(data).__name__} where torch writes a tensor; the "
                "file is corrupt."
            )
        return data


class _LegacyUnpickler(_Unpickler):
    """The unpickler of legacy files, whose persistent ids add a storage view."""

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] in ("storage", b"storage")):
            raise _RefusalError(
                f"unexpected persistent id {pid!r:.80}: expected ('storage', storage type, key, "
                "location, numel, view); the file is corrupt or was not written by torch.save."
            )
        _, storage_type, key, _, numel, view = pid
        if view is None:
            return self._storage(storage_type, key, numel, 0, numel)
        if not (isinstance(view, tuple) and len(view) == 3):
            raise _RefusalError(
                f"storage {key!r:.80} has the view {view!r:.80}, where torch writes None or "
                "(view key, offset, size); the file is corrupt."
            )
        _, offset, size = view
        return self._storage(storage_type, key, numel, offset, size)


def _unpickle(unpickler: _Unpickler, path: str, what: str) -> Any:
    """Unpickles one object, raising a `ValueError` naming the file for any failure."""
    try:
        return unpickler.load()
    except _RefusalError as refusal:
        raise ValueError(f"{path}: {refusal}") from None
    # A truncated or corrupt pickle fails with any of a dozen exception types.
    except Exception as error:
        raise ValueError(
            f"{path}: {what} is truncated or corrupt ({type(error).__name__}: {error}); "
            "download or save the file again."
        ) from error


def _is_state_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(tensor, _TensorRef) for key, tensor in value.items()
    )


def _state_dict(loaded: Any, path: str) -> dict[str, _TensorRef]:
    """The state dict of the file's object: the object itself, or a checkpoint's model."""
    if _is_state_dict(loaded):
        return loaded
    if isinstance(loaded, dict):
        found = [loaded[key] for key in _CHECKPOINT_KEYS if _is_state_dict(loaded.get(key))]
        if len(found) == 1:
            return found[0]
        keys = ", ".join(repr(key) for key in list(loaded)[:10])
        got = f"a dict with the keys {keys}{', ...' if len(loaded) > 10 else ''}"
    else:
        got = f"a {type(loaded).__name__}"
    raise ValueError(
        f"{path}: holds {got}, not a state dict: expected a dict of tensors by name, or a "
        f"checkpoint dict holding one under exactly one of the keys {', '.join(_CHECKPOINT_KEYS)}. "
        "Save the model's state dict alone with torch: torch.save(model.state_dict(), path)."
    )


def _tensor_array(ref: _TensorRef, name: str, raw: bytes, byteorder: str, path: str) -> np.ndarray:
    """Copies a tensor out of its storage's bytes into a native array of its shape."""
    unsupported = [flag for flag in ref.flags if flag != "neg"]
    if unsupported:
        raise ValueError(
            f"{path}: tensor {name!r} is a view with the flags {', '.join(unsupported)}, where "
            "this reader applies only neg; resolve it with torch (t.resolve_conj()) and save "
            "the state dict again."
        )
    storage = ref.storage
    element = np.dtype(_DTYPES[storage.dtype]).itemsize
    start = storage.offset * element
    available = max(0, min(len(raw), start + storage.numel * element) - start)
    dtype = np.dtype(_DTYPES[ref.dtype]).newbyteorder(byteorder)
    needed = 0
    if 0 not in ref.shape:
        last = ref.offset + sum(
            (size - 1) * step for size, step in zip(ref.shape, ref.stride, strict=True)
        )
        needed = (last + 1) * dtype.itemsize
    if needed > available:
        raise ValueError(
            f"{path}: tensor {name!r} needs {needed} bytes of storage {storage.key!r}, which "
            f"holds {available}; the file is truncated or corrupt, download or save it again."
        )
    if needed:
        values = np.frombuffer(raw, dtype, count=available // dtype.itemsize, offset=start)
        strides = [step * dtype.itemsize for step in ref.stride]
        view = np.lib.stride_tricks.as_strided(values[ref.offset :], ref.shape, strides)
        array = view.astype(dtype.newbyteorder("="), order="C")
    else:
        array = np.zeros(ref.shape, dtype.newbyteorder("="))
    if ref.dtype == "bfloat16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return -array if "neg" in ref.flags else array


def _arrays(
    state: dict[str, _TensorRef],
    read_storage: Callable[[str, str], bytes],
    byteorder: str,
    path: str,
) -> dict[str, np.ndarray]:
    """Builds the state dict's arrays, reading each storage once and freeing it after use."""
    uses = collections.Counter(ref.storage.key for ref in state.values())
    storages: dict[str, bytes] = {}
    arrays = {}
    for name, ref in state.items():
        key = ref.storage.key
        if key not in storages:
            storages[key] = read_storage(key, name)
        arrays[name] = _tensor_array(ref, name, storages[key], byteorder, path)
        uses[key] -= 1
        if not uses[key]:
            del storages[key]
    return arrays


def _zip_member(archive: zipfile.ZipFile, member: str, path: str, what: str) -> bytes:
    try:
        return archive.read(member)
    except KeyError:
        raise ValueError(
            f"{path}: the archive has no member {member}, {what}; the file is truncated or "
            "was not written by torch.save."
        ) from None
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise ValueError(
            f"{path}: the archive's member {member}, {what}, is corrupt ({error}); download or "
            "save the file again."
        ) from error


def _read_zip(file: io.BufferedReader, path: str) -> dict[str, np.ndarray]:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"{path}: the zip archive is truncated or corrupt ({error}); download or save the "
            "file again."
        ) from error
    with archive:
        names = archive.namelist()
        pickles = [name for name in names if name.count("/") == 1 and name.endswith("/data.pkl")]
        if not pickles:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise ValueError(
                f"{path}: a zip archive without <folder>/data.pkl (it holds {shown or 'nothing'})"
                ", so not a file of torch.save; save the state dict with torch.save."
            )
        prefix = pickles[0].removesuffix("data.pkl")
        byteorder = b"little"
        if f"{prefix}byteorder" in names:
            byteorder = _zip_member(archive, f"{prefix}byteorder", path, "its byte order")
        if byteorder not in (b"little", b"big"):
            raise ValueError(
                f"{path}: the byte order recorded is {byteorder[:20]!r}, where torch writes "
                "b'little' or b'big'; the file is corrupt."
            )
        pickled = _zip_member(archive, pickles[0], path, "the pickle")
        unpickler = _Unpickler(io.BytesIO(pickled))
        state = _state_dict(_unpickle(unpickler, path, pickles[0]), path)

        def read_storage(key: str, name: str) -> bytes:
            what = f"storage {key!r} of tensor {name!r}"
            return _zip_member(archive, f"{prefix}data/{key}", path, what)

        return _arrays(state, read_storage, "<" if byteorder == b"little" else ">", path)


def _read_legacy(file: io.BufferedReader, path: str) -> dict[str, np.ndarray]:
    version = _unpickle(_Unpickler(file), path, "the protocol version")
    if version != _LEGACY_PROTOCOL:
        raise ValueError(
            f"{path}: a legacy torch file of protocol version {version!r:.20}, where torch "
            f"writes {_LEGACY_PROTOCOL}; the file is corrupt."
        )
    _unpickle(_Unpickler(file), path, "the system information")
    unpickler = _LegacyUnpickler(file)
    state = _state_dict(_unpickle(unpickler, path, "the pickled object"), path)
    keys = _unpickle(_Unpickler(file), path, "the list of storages")
    if not (
        isinstance(keys, list)
        and all(isinstance(key, str) and key in unpickler.storages for key in keys)
    ):
        raise ValueError(
            f"{path}: the list of storages ({keys!r:.80}) is not of the storages the pickle "
            "refers to; the file is corrupt."
        )
    # Each storage: its element count (8 bytes, little-endian), then its bytes.
    size = os.fstat(file.fileno()).st_size
    spans: dict[str, tuple[int, int]] = {}
    position = file.tell()
    for key in keys:
        dtype, numel = unpickler.storages[key]
        file.seek(position)
        header = file.read(8)
        if len(header) < 8:
            break
        count = int.from_bytes(header, "little")
        if count != numel:
            raise ValueError(
                f"{path}: storage {key!r} holds {count} elements where the pickle says {numel}; "
                "the file is corrupt."
            )
        nbytes = numel * np.dtype(_DTYPES[dtype]).itemsize
        spans[key] = (position + 8, min(nbytes, size - position - 8))
        position += 8 + nbytes

    def read_storage(key: str, name: str) -> bytes:
        start, length = spans.get(key, (0, 0))
        file.seek(start)
        return file.read(length)

    return _arrays(state, read_storage, "<", path)


def read_pth(path: str | os.PathLike) -> dict[str, np.ndarray]:
    r"""Reads the tensors of a PyTorch state-dict file, without torch.

    Reads both formats of `torch.save` (the zip archive of torch >= 1.6, and the legacy one;
    see the module docstring) without running any code of the file: its pickle may refer only
    to `collections.OrderedDict` and torch's tensors, parameters, storages and dtypes. The file
    holds a state dict (`model.state_dict()`, a dict of tensors by name), or a checkpoint dict
    holding one under `model`, `state_dict` or `model_state`; other entries of a checkpoint
    (an optimizer's state, an epoch) are not read. Each tensor's shape, strides and storage
    offset are honoured: views into one storage, and transposed or sliced tensors, read as the
    tensors they are. A big-endian file (`byteorder` `big`) is byteswapped. Tensors on a GPU
    read the same.

    Args:
        path: the `.pth` / `.pt` file.

    Returns:
        `{name: array}` in the file's order, each a C-contiguous array of its tensor's shape
        and dtype (`float64`, `float32`, `float16`, `int64` such as `num_batches_tracked`,
        `int32`, `int16`, `int8`, `uint8`, `uint16`, `uint32`, `uint64`, `bool`), except that
        `bfloat16`, which numpy lacks, is read as the `float32` of the same value.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a file that is not one of `torch.save`, a truncated or corrupt one, a
            pickle referring to a global outside the allow-list, an object other than a state
            dict or a checkpoint holding one, or a tensor of another dtype (`complex64`,
            quantized, `float8`); the message names the file, and the tensor and storage
            where one is at fault.

    Example:

    A state dict `{"w": torch.tensor([1.0, 2.0])}` as torch saves it, but with its pickle
    written by hand: `w` is rebuilt from 2 floats of storage `0`, from offset 0, of size
    `(2,)` and stride `(1,)`.

    >>> import struct, zipfile
    >>> pickled = (
    ...     b"(dVw\nctorch._utils\n_rebuild_tensor_v2\n"
    ...     b"((Vstorage\nctorch\nFloatStorage\nV0\nVcpu\nI2\ntQ"
    ...     b"I0\n(I2\nt(I1\ntI00\n(dtRs."
    ... )
    >>> with zipfile.ZipFile("w.pth", "w") as archive:
    ...     archive.writestr("w/data.pkl", pickled)
    ...     archive.writestr("w/data/0", struct.pack("<2f", 1.0, 2.0))
    >>> read_pth("w.pth")
    {'w': array([1., 2.], dtype=float32)}

    A pickle that would call `os.system` is refused before anything runs:

    >>> with zipfile.ZipFile("evil.pth", "w") as archive:
    ...     archive.writestr("evil/data.pkl", b"cos\nsystem\n(Vtouch pwned\ntR.")
    >>> read_pth("evil.pth")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: evil.pth: refuses the global os.system: ...
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No PyTorch file at {path!r}.")
    with open(path, "rb") as file:
        head = file.read(64)
        if head.startswith(b"PK\x03\x04"):
            file.seek(0)
            return _read_zip(file, path)
        for legacy_head in _LEGACY_HEADS:
            if head.startswith(legacy_head):
                file.seek(len(legacy_head))
                return _read_legacy(file, path)
    raise ValueError(
        f"{path}: not a PyTorch file: expected a zip archive holding <folder>/data.pkl "
        f"(torch.save) or a pickle of torch's legacy magic number, got a file starting with "
        f"{head[:16]!r}."
    )
