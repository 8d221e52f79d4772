"""The PyTorch state-dict reader against files written by torch itself, and crafted ones."""

import collections
import io
import os
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest

from keras_fcn.weights.formats.torch import read_pth

pytestmark = pytest.mark.backends

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
FORMATS = {"zip": {}, "legacy": {"_use_new_zipfile_serialization": False}}


def sample_state_dict(torch):
    """A conv + batch-norm state dict, and tensors of every dtype and layout the reader honours."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4))
    model(torch.randn(2, 3, 5, 5))  # updates the running statistics and num_batches_tracked
    state = model.state_dict()
    base = torch.arange(10, dtype=torch.float32)
    matrix = torch.randn(3, 6)
    state.update(
        float64=torch.randn(2, 3, dtype=torch.float64),
        float16=torch.randn(5).half(),
        bfloat16=torch.randn(4).bfloat16(),
        int32=torch.tensor([-7, 8], dtype=torch.int32),
        int16=torch.tensor([-300, 301], dtype=torch.int16),
        int8=torch.tensor([-3, 4], dtype=torch.int8),
        uint8=torch.tensor([0, 255], dtype=torch.uint8),
        uint16=torch.tensor([1, 65535], dtype=torch.int32).to(torch.uint16),
        bool=torch.tensor([True, False, True]),
        transposed=matrix.t(),
        strided=matrix[:, ::2],
        expanded=torch.randn(3, 1).expand(3, 4),
        head=base[1:3],
        tail=base[5:],
        scalar=torch.tensor(3.5),
        empty=torch.empty(0, 3),
        negative_view=torch._neg_view(torch.randn(2)),
        parameter=torch.nn.Parameter(torch.randn(2)),
    )
    return state


def expected(tensor):
    """A tensor's values as the reader returns them: its own dtype, bfloat16 as float32."""
    tensor = tensor.detach().resolve_neg()
    if str(tensor.dtype) == "torch.bfloat16":
        return tensor.float().numpy()
    return tensor.numpy()


def rewrite_zip(source, target, change):
    """Copies a zip archive, each member's bytes through `change(name, data)` (None drops it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = change(name, old.read(name))
            if data is not None:
                new.writestr(name, data)
    return target


def write_legacy(path, pickled, keys=(), storages=b""):
    """A legacy torch file around a hand-made pickle of the object."""
    with open(path, "wb") as file:
        pickle.dump(LEGACY_MAGIC, file, protocol=2)
        pickle.dump(1001, file, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True}, file, protocol=2)
        file.write(pickled)
        pickle.dump(list(keys), file, protocol=2)
        file.write(storages)
    return path


def pickle_with_storage(torch, obj, storage_id):
    """Pickles `obj`, its `STORAGE` placeholders as torch's persistent id `storage_id`."""

    class Pickler(pickle.Pickler):
        def persistent_id(self, value):
            return storage_id if value is STORAGE else None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


class Storage:
    """Placeholder of a storage in crafted pickles."""


STORAGE = Storage()


class Rebuilt:
    """A tensor in crafted pickles: `torch._utils._rebuild_tensor_v2` of the given arguments."""

    def __init__(self, torch, *args):
        self.function, self.args = torch._utils._rebuild_tensor_v2, args

    def __reduce__(self):
        return self.function, self.args


EVIL = "cos\nsystem\n(Vtouch {}\ntR."
"""A pickle (protocol 0) that runs `touch` on a marker file when loaded."""


@pytest.mark.parametrize("format", FORMATS)
def test_file_matches_torch_value_for_value(tmp_path, format):
    torch = pytest.importorskip("torch")
    state = sample_state_dict(torch)
    path = tmp_path / "model.pth"
    torch.save(state, path, **FORMATS[format])
    arrays = read_pth(path)
    assert list(arrays) == list(state)
    for name, tensor in state.items():
        array, want = arrays[name], expected(tensor)
        assert array.dtype == want.dtype and array.shape == want.shape, name
        np.testing.assert_array_equal(array, want, err_msg=name)
        assert array.flags.c_contiguous and array.flags.writeable, name
    assert arrays["1.num_batches_tracked"].dtype == np.int64
    assert arrays["1.num_batches_tracked"] == 1
    assert arrays["bfloat16"].dtype == np.float32
    assert arrays["float16"].dtype == np.float16
    assert arrays["scalar"].shape == () and arrays["empty"].shape == (0, 3)


def test_tensors_sharing_a_storage_are_independent_arrays(tmp_path):
    torch = pytest.importorskip("torch")
    base = torch.arange(10, dtype=torch.float32)
    torch.save({"head": base[1:3], "tail": base[5:]}, tmp_path / "shared.pth")
    arrays = read_pth(tmp_path / "shared.pth")
    arrays["head"][:] = -1
    np.testing.assert_array_equal(arrays["tail"], [5, 6, 7, 8, 9])


@pytest.mark.parametrize("key", ["model", "state_dict", "model_state"])
def test_checkpoint_wrapping_the_state_dict_reads_the_model(tmp_path, key):
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    checkpoint = {key: model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}
    torch.save(checkpoint, tmp_path / "checkpoint.pth")
    arrays = read_pth(tmp_path / "checkpoint.pth")
    assert list(arrays) == ["weight", "bias"]
    np.testing.assert_array_equal(arrays["weight"], expected(model.weight))


def test_refuses_an_object_that_holds_no_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    weights = torch.nn.Linear(3, 2).state_dict()
    torch.save({"model": weights, "state_dict": weights}, tmp_path / "two.pth")
    with pytest.raises(ValueError, match=r"two\.pth: holds a dict with the keys 'model', 'state"):
        read_pth(tmp_path / "two.pth")
    torch.save([weights["weight"]], tmp_path / "list.pth")
    with pytest.raises(ValueError, match=r"list\.pth: holds a list, not a state dict"):
        read_pth(tmp_path / "list.pth")


@pytest.mark.parametrize("format", FORMATS)
def test_refuses_a_global_outside_the_allow_list(tmp_path, format):
    marker = tmp_path / "pwned"
    pickled = EVIL.format(marker).encode()
    path = tmp_path / "evil.pth"
    if format == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("evil/data.pkl", pickled)
    else:
        write_legacy(path, pickled)
    with pytest.raises(ValueError, match=r"evil\.pth: refuses the global os\.system"):
        read_pth(path)
    assert not marker.exists()


def test_a_file_cannot_change_how_later_files_are_read(tmp_path):
    torch = pytest.importorskip("torch")
    # BUILD on the rebuild function, setting its __defaults__ (metadata) to {"neg": True}.
    pickled = b"ctorch._utils\n_rebuild_tensor_v2\n(N}V__defaults__\n((dVneg\nI01\nststb."
    with zipfile.ZipFile(tmp_path / "crafted.pth", "w") as archive:
        archive.writestr("crafted/data.pkl", pickled)
    with pytest.raises(
        ValueError, match=r"crafted\.pth: crafted/data\.pkl is truncated or corrupt"
    ):
        read_pth(tmp_path / "crafted.pth")
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pth")
    np.testing.assert_array_equal(read_pth(tmp_path / "model.pth")["w"], [1, 1])


def test_refuses_a_whole_pickled_model(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(3, 2), tmp_path / "model.pth")
    with pytest.raises(ValueError, match=r"refuses the global torch\.nn\.modules\.linear\.Linear"):
        read_pth(tmp_path / "model.pth")


def test_legacy_storage_views_read_as_torch_reads_them(tmp_path):
    torch = pytest.importorskip("torch")
    storage_id = ("storage", torch.FloatStorage, "root", "cpu", 10, ("view", 2, 5))
    view = Rebuilt(torch, STORAGE, 1, (3,), (1,), False, collections.OrderedDict())
    pickled = pickle_with_storage(torch, {"view": view}, storage_id)
    storage = (10).to_bytes(8, "little") + np.arange(10, dtype="<f4").tobytes()
    path = write_legacy(tmp_path / "view.pth", pickled, ["root"], storage)
    np.testing.assert_array_equal(read_pth(path)["view"], [3, 4, 5])
    np.testing.assert_array_equal(
        read_pth(path)["view"], torch.load(path, weights_only=False)["view"]
    )


def test_big_endian_zip_is_byteswapped(tmp_path):
    torch = pytest.importorskip("torch")
    state = {
        "float32": torch.randn(3),
        "int64": torch.tensor([1, -(2**40)]),
        "bfloat16": torch.randn(2).bfloat16(),
    }
    torch.save(state, tmp_path / "little.pth")
    sizes = {"data/0": 4, "data/1": 8, "data/2": 2}  # storages are keyed in the dict's order

    def to_big_endian(name, data):
        if name.endswith("/byteorder"):
            return b"big"
        size = next((size for key, size in sizes.items() if name.endswith(key)), None)
        return data if size is None else np.frombuffer(data, f"<u{size}").byteswap().tobytes()

    path = rewrite_zip(tmp_path / "little.pth", tmp_path / "big.pth", to_big_endian)
    arrays = read_pth(path)
    for name, tensor in state.items():
        np.testing.assert_array_equal(arrays[name], expected(tensor), err_msg=name)


def test_refuses_tensor_flags_it_does_not_apply(tmp_path):
    torch = pytest.importorskip("torch")
    storage_id = ("storage", torch.FloatStorage, "0", "cpu", 2)
    hooks = collections.OrderedDict()
    tensor = Rebuilt(torch, STORAGE, 0, (2,), (1,), False, hooks, {"conj": True})
    with zipfile.ZipFile(tmp_path / "conj.pth", "w") as archive:
        archive.writestr("conj/data.pkl", pickle_with_storage(torch, {"w": tensor}, storage_id))
        archive.writestr("conj/data/0", np.ones(2, "<f4").tobytes())
    with pytest.raises(ValueError, match=r"conj\.pth: tensor 'w' is a view with the flags conj"):
        read_pth(tmp_path / "conj.pth")


def test_truncated_zip_file_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(sample_state_dict(torch), tmp_path / "model.pth")
    data = (tmp_path / "model.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.pth: the zip archive is truncated or corrupt"):
        read_pth(tmp_path / "cut.pth")


def test_missing_storage_member_names_the_tensor(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(sample_state_dict(torch), tmp_path / "model.pth")
    drop = lambda name, data: None if name.endswith("/data/0") else data  # noqa: E731
    path = rewrite_zip(tmp_path / "model.pth", tmp_path / "partial.pth", drop)
    with pytest.raises(
        ValueError,
        match=r"partial\.pth: the archive has no member model/data/0, storage '0' of tensor "
        r"'0\.weight'",
    ):
        read_pth(path)


def test_short_storage_names_the_tensor_and_both_sizes(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(sample_state_dict(torch), tmp_path / "model.pth")
    cut = lambda name, data: data[:100] if name.endswith("/data/0") else data  # noqa: E731
    path = rewrite_zip(tmp_path / "model.pth", tmp_path / "short.pth", cut)
    with pytest.raises(
        ValueError,
        match=r"short\.pth: tensor '0\.weight' needs 432 bytes of storage '0', which holds 100",
    ):
        read_pth(path)


def test_truncated_legacy_file_names_the_tensor_and_both_sizes(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.randn(10)}, tmp_path / "legacy.pth", **FORMATS["legacy"])
    data = (tmp_path / "legacy.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:-8])
    with pytest.raises(
        ValueError, match=r"cut\.pth: tensor 'w' needs 40 bytes of storage '\d+', which holds 32"
    ):
        read_pth(tmp_path / "cut.pth")
    (tmp_path / "cut.pth").write_bytes(data[: data.index(b"_rebuild_tensor_v2")])
    with pytest.raises(ValueError, match=r"cut\.pth: the pickled object is truncated or corrupt"):
        read_pth(tmp_path / "cut.pth")


@pytest.mark.parametrize(
    "data",
    [np.random.default_rng(0).bytes(1000), b"conv1.weight 0.5 0.25\n"],
    ids=["random", "text"],
)
def test_refuses_a_file_that_is_not_torch_s(tmp_path, data):
    (tmp_path / "other.pth").write_bytes(data)
    with pytest.raises(ValueError, match=r"other\.pth: not a PyTorch file"):
        read_pth(tmp_path / "other.pth")


def test_refuses_a_zip_without_data_pkl(tmp_path):
    with zipfile.ZipFile(tmp_path / "weights.zip", "w") as archive:
        archive.writestr("weights/conv1.npy", b"")
    with pytest.raises(
        ValueError, match=r"weights\.zip: a zip archive without <folder>/data\.pkl .*conv1\.npy"
    ):
        read_pth(tmp_path / "weights.zip")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="No PyTorch file at"):
        read_pth(tmp_path / "missing.pth")


@pytest.mark.parametrize("format", FORMATS)
def test_reading_needs_at_most_twice_the_file_size(tmp_path, format):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    path = tmp_path / "large.pth"
    torch.save({"a": torch.randn(512, 512), "b": torch.randn(512, 512)}, path, **FORMATS[format])
    tracemalloc.start()
    try:
        read_pth(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * os.path.getsize(path)
