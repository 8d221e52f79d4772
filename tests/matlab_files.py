"""MATLAB v7.3 `.mat` files written with h5py as MATLAB lays them out, for the tests of the
MatConvNet reader: RefineNet's `save(file, 'net_config', '-v7.3')` of a `ref_obj` handle whose
groups hold DagNNs saved as structs (`saveobj`) and a SimpleNN loss group.

The layout (MathWorks' v7.3 format, as h5py shows files MATLAB wrote): a 512-byte text header
before the HDF5 data; every array a dataset with its dimensions reversed and its class in the
attribute `MATLAB_class`; char arrays as uint16 code units; a struct a group of its fields; the
elements of struct arrays and cell arrays as object references to datasets or groups in
`#refs#`; an empty array as a uint64 dataset of its dimensions with `MATLAB_empty` = 1; an
object of a MATLAB class as a uint32 dataset with `MATLAB_object_decode` = 3, whose property
values sit in `#refs#` and are listed by `#subsystem#/MCOS`.
"""

import itertools

import h5py
import numpy as np

HEADER = (
    b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Feb  8 10:00:00 2018 "
    b"HDF5 schema 1.00 .".ljust(116, b" ")
    + b"\0" * 8
    + b"\x00\x02IM"
)
"""MATLAB's 128 bytes before the HDF5 data: 116 of text, the subsystem offset, version 0x0200
and the endian indicator."""


class MatlabWriter:
    """Writes MATLAB values into an open h5py file, as MATLAB's `save -v7.3` does."""

    def __init__(self, file: h5py.File):
        self.file = file
        self.refs = file.require_group("#refs#")
        self.names = (f"r{index}" for index in itertools.count())

    def _attrs(self, node, matlab_class: str):
        node.attrs["MATLAB_class"] = np.bytes_(matlab_class)

    def array(self, parent, name, value):
        """A numeric array (`single` for float32, `double` for float64) or a string."""
        if isinstance(value, str):
            codes = np.array([ord(c) for c in value], np.uint16).reshape(1, -1)
            dataset = parent.create_dataset(name, data=codes.T)
            self._attrs(dataset, "char")
            dataset.attrs["MATLAB_int_decode"] = np.int32(2)
            return dataset
        value = np.asarray(value)
        if value.ndim == 1:
            value = value.reshape(1, -1)  # a MATLAB row vector
        if value.size == 0:
            dataset = parent.create_dataset(name, data=np.array(value.shape[::-1], np.uint64))
            dataset.attrs["MATLAB_empty"] = np.uint8(1)
        else:
            dataset = parent.create_dataset(name, data=value.transpose())
        self._attrs(dataset, "single" if value.dtype == np.float32 else "double")
        return dataset

    def value(self, parent, name, value):
        """A string, array, struct (dict), struct array (list of dicts) or cell (tuple)."""
        if isinstance(value, dict):
            group = parent.create_group(name)
            self._attrs(group, "struct")
            for field, member in value.items():
                self.value(group, field, member)
            return group
        if isinstance(value, list):  # a 1×N struct array: each field a column of references
            group = parent.create_group(name)
            self._attrs(group, "struct")
            for field in value[0]:
                references = [self.reference(element[field]) for element in value]
                group.create_dataset(
                    field, data=np.array(references, h5py.ref_dtype).reshape(-1, 1)
                )
            return group
        if isinstance(value, tuple):  # a 1×N cell array
            references = [self.reference(element) for element in value]
            dataset = parent.create_dataset(
                name, data=np.array(references, h5py.ref_dtype).reshape(-1, 1)
            )
            self._attrs(dataset, "cell")
            return dataset
        return self.array(parent, name, value)

    def reference(self, value):
        return self.value(self.refs, next(self.names), value).ref

    def handle_object(self, name: str, class_name: str, properties: dict):
        """A handle object: its properties' values in `#refs#`, listed by `#subsystem#/MCOS`."""
        values = [self.reference(value) for value in properties.values()]
        subsystem = self.file.require_group("#subsystem#")
        wrapper = subsystem.create_dataset(
            "MCOS", data=np.array([self.reference(np.zeros(8, np.uint8)), *values], h5py.ref_dtype)
        )
        self._attrs(wrapper, "FileWrapper__")
        dataset = self.file.create_dataset(name, data=np.array([[0xDD000000, 2, 1, 1, 1, 1]]).T)
        dataset.attrs["MATLAB_class"] = np.bytes_(class_name)
        dataset.attrs["MATLAB_object_decode"] = np.int32(3)


def dagnn_struct(params: dict[str, np.ndarray]) -> dict:
    """A DagNN as `saveobj` saves it: `vars`, `params` (`name`, `value`, `learningRate`,
    `weightDecay`), `layers`, `meta`."""
    return {
        "vars": [{"name": "input", "precious": np.zeros((1, 1))}],
        "params": [
            {
                "name": name,
                "value": value,
                "learningRate": np.ones((1, 1)),
                "weightDecay": np.ones((1, 1)),
            }
            for name, value in params.items()
        ],
        "layers": [{"name": "conv1", "inputs": ("input",), "outputs": ("x",)}],
        "meta": {"inputs": np.zeros((0, 0))},
    }


def write_refinenet_mat(path, parameters: dict, split: str = "p_ims1d2_outl1_dimred") -> None:
    """A RefineNet `net_config` file holding `parameters` (`refinenet_reference.random_parameters`
    layout): the backbone's DagNN (the featnet group, up to `split`, excluded), the refinement
    group's DagNN, and the loss group's SimpleNN layers (dropout, the classifier convolution,
    the loss)."""
    names = [name for name in parameters if name != "classifier"]
    cut = names.index(f"{split}_filter")
    classifier = parameters["classifier"]
    loss_layers = (
        {"type": "dropout", "rate": np.full((1, 1), 0.5)},
        {
            "type": "conv",
            "filters": classifier["filters"],
            "biases": classifier["biases"],
            "stride": np.ones((1, 1)),
            "pad": np.ones((1, 4)),
        },
        {"type": "my_custom", "custom_type": "dense_softmaxloss"},
    )
    group_infos = (
        {"name": "root", "dag_net": np.zeros((0, 0))},
        {"name": "featnet_1", "dag_net": dagnn_struct({n: parameters[n] for n in names[:cut]})},
        {"name": "refinenets", "dag_net": dagnn_struct({n: parameters[n] for n in names[cut:]})},
        {"name": "loss_group", "net_info": {"ref": {"name": "final_loss", "layers": loss_layers}}},
    )
    with h5py.File(path, "w", userblock_size=512) as file:
        MatlabWriter(file).handle_object(
            "net_config", "ref_obj", {"ref": {"group_infos": group_infos}}
        )
    with open(path, "r+b") as file:
        file.write(HEADER.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM")
