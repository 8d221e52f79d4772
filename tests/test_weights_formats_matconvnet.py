import h5py
import numpy as np
import pytest
import scipy.io
from matlab_files import HEADER, MatlabWriter, dagnn_struct

from keras_fcn.weights.formats.matconvnet import PARAM_TYPE, read_matconvnet


def write(path, build):
    with h5py.File(path, "w", userblock_size=512) as file:
        build(MatlabWriter(file))
    with open(path, "r+b") as file:
        file.write(HEADER)
    return path


@pytest.fixture
def params():
    rng = np.random.default_rng(0)
    return {
        "conv1_filter": rng.normal(size=(7, 7, 3, 4)).astype(np.float32),
        "conv1_bias": rng.normal(size=(1, 4)).astype(np.float32),
        "bn_conv1_mult": rng.normal(size=(4, 1)).astype(np.float32),
        "bn_conv1_moments": rng.normal(size=(4, 2)).astype(np.float32),
        "empty_value": np.zeros((0, 0), np.float32),
    }


def test_reads_dagnn_params_in_matlabs_axis_order(tmp_path, params):
    classifier = {"type": "conv", "filters": np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1)}
    classifier["biases"] = np.ones((1, 1), np.float32)

    def build(writer):
        writer.handle_object(
            "net_config",
            "ref_obj",
            {"ref": {"group_infos": (dagnn_struct(params), {"layers": (classifier,)})}},
        )

    stored = read_matconvnet(write(tmp_path / "net.mat", build))
    assert list(stored) == [*params, "simplenn1.filters", "simplenn1.biases"]
    for name, array in params.items():
        assert stored[name].type == PARAM_TYPE
        assert stored[name].shapes == (array.shape,)
        (read,) = stored[name].read()
        assert read.dtype == np.float32
        np.testing.assert_array_equal(read, array)
    # Stored reversed, (1, 4, 3, 2) in the file; read back as MATLAB's 2 × 3 × 4 × 1.
    np.testing.assert_array_equal(stored["simplenn1.filters"].read()[0], classifier["filters"])


def test_reads_a_single_param_struct_and_a_named_simplenn_layer(tmp_path):
    def build(writer):
        writer.value(writer.file, "param", {"name": "score_filter", "value": np.ones((3, 3, 2, 5))})
        layer = {"name": "fc8", "type": "conv", "filters": np.ones((1, 1, 2, 5), np.float32)}
        writer.value(writer.file, "layer", {**layer, "biases": np.zeros((1, 5), np.float32)})

    stored = read_matconvnet(write(tmp_path / "net.mat", build))
    assert {name: layer.shapes for name, layer in stored.items()} == {
        "fc8.biases": ((1, 5),),
        "fc8.filters": ((1, 1, 2, 5),),
        "score_filter": ((3, 3, 2, 5),),
    }


def test_refuses_a_file_that_is_not_hdf5(tmp_path):
    path = tmp_path / "old.mat"
    scipy.io.savemat(path, {"conv1_filter": np.ones((3, 3))})  # MATLAB v5
    with pytest.raises(ValueError, match=r"old\.mat is not a MATLAB v7\.3 .*scipy\.io\.loadmat"):
        read_matconvnet(path)


def test_refuses_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"none\.mat"):
        read_matconvnet(tmp_path / "none.mat")


def test_refuses_a_truncated_file_naming_it(tmp_path, params):
    path = write(tmp_path / "net.mat", lambda w: w.value(w.file, "net", dagnn_struct(params)))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.mat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.mat.*truncated or corrupt"):
        stored = read_matconvnet(truncated)
        for layer in stored.values():  # the metadata may survive; the arrays cannot
            layer.read()


def test_refuses_a_file_without_params_and_one_naming_a_param_twice(tmp_path, params):
    path = write(tmp_path / "empty.mat", lambda w: w.value(w.file, "x", np.ones((2, 2))))
    with pytest.raises(ValueError, match=r"empty\.mat holds no MatConvNet parameters"):
        read_matconvnet(path)

    def twice(writer):
        writer.value(writer.file, "a", dagnn_struct(params))
        writer.value(writer.file, "b", dagnn_struct({"conv1_bias": params["conv1_bias"]}))

    with pytest.raises(ValueError, match=r"twice\.mat: the parameter 'conv1_bias' appears twice"):
        read_matconvnet(write(tmp_path / "twice.mat", twice))
