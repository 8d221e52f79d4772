"""MatConvNet networks saved by MATLAB as v7.3 `.mat` files (HDF5), read with h5py: parameters by
name, in MATLAB's axis order.

MATLAB's `save(file, 'net', '-v7.3')` writes an HDF5 file (after a 512-byte text header) in
which every MATLAB array is a dataset with its dimensions reversed (MATLAB is column-major: a
`[H W Cin Cout]` filter is stored `(Cout, Cin, W, H)`), its class in the attribute `MATLAB_class`
(`single`, `double`, `char` as uint16 code units, `struct`, `cell`); a struct is a group of its
fields; in a struct array or a cell array each element is an HDF5 object reference into the
`#refs#` group; an empty array is a dataset of its dimensions with `MATLAB_empty` set. Objects of
MATLAB classes (RefineNet saves its `net_config`, a `ref_obj` handle) are opaque
(`#subsystem#/MCOS`), but the values of their properties are ordinary arrays, structs and cells
under `#refs#`. So this reader does not follow the objects; it walks every group of the file:

- a DagNN saved as a plain struct (`dagnn.DagNN.saveobj`) holds `params`, a struct array whose
  fields `name` (char) and `value` are read for each element: `conv1_filter`,
  `res2a_branch2a_filter`, `bn2a_branch2a_mult`, `bn2a_branch2a_moments`,
  `mflow_conv_g1_b1_conv_bias`, …;
- a SimpleNN layer, a struct with `type` `'conv'` and fields `filters` and `biases` (RefineNet's
  classifier, in its loss group), is read as `<name>.filters` and `<name>.biases`, its `name`
  field if it has one, else `simplenn1`, `simplenn2`, … in the order the walk meets them.

Arrays come back in MATLAB's order (the stored axes reversed) and as float32; nothing is renamed
or reshaped further. `_moments` are MatConvNet's `[μ, σ]` per channel (`C × 2`), σ = sqrt(variance
+ ε) with ε already inside (`vl_nnbnorm` divides by σ as given).

What has to be verified on a real file (none could be downloaded here; the tests write files
laid out as described, with h5py): that the released `refinenet_res*_*.mat` keep `net_config`'s
groups as `ref_obj` property values under `#refs#` (so the walk finds them), that their DagNNs
are saved as structs (`cnn_save_model.m` calls `saveobj`) rather than as `dagnn.DagNN` objects,
that the classifier is the only SimpleNN convolution, and the orientation of the 1-D parameters
(read here whatever it is).

Reference: MathWorks, "MAT-File Versions" (v7.3 is HDF5); MatConvNet `dagnn.DagNN.saveobj`,
`utils/import-caffe.py` (`_filter`, `_bias`, `_mult`, `_moments`); guosheng/refinenet
`main/cnn_save_model.m`, `main/gen_network_loss_group.m`, `main/my_utils/ref_obj.m`.
"""

import os
from collections.abc import Callable

import numpy as np

from keras_fcn.weights.formats.stored import StoredLayer

PARAM_TYPE = "param"
"""The `StoredLayer.type` of every MatConvNet parameter (one array each)."""


def _h5py():
    try:
        import h5py
    except ImportError as error:  # pragma: no cover - h5py comes with Keras
        raise ImportError("Reading MATLAB v7.3 .mat files needs h5py: pip install h5py") from error
    return h5py


def _is_references(dataset) -> bool:
    return dataset.dtype.kind == "O"


def _text(dataset) -> str:
    """A MATLAB char array (uint16 code units) as a string."""
    return "".join(chr(code) for code in np.asarray(dataset[()]).ravel())


def _elements(file, group, field: str) -> list[tuple]:
    """`(dataset, locator)` of each element of a struct's field: through the references of a
    struct array, or the field itself for a single struct. The locator (a reference or a path)
    finds the dataset again (`file[locator]`) without asking HDF5 for its name, which it would
    search the whole file for."""
    member = group[field]
    if _is_references(member):
        return [(file[reference], reference) for reference in np.asarray(member[()]).ravel()]
    return [(member, member.name)]


def _shape(dataset) -> tuple[int, ...]:
    """A dataset's shape in MATLAB's order; an empty array's stored dimensions are its shape."""
    if dataset.attrs.get("MATLAB_empty", 0):
        return tuple(int(size) for size in np.asarray(dataset[()]).ravel())
    return tuple(reversed(dataset.shape))


class _Walk:
    """Collects a file's parameters: name → (shape, locator of the dataset in the file)."""

    def __init__(self, file, source: str):
        self.file, self.source = file, source
        self.params: dict[str, tuple] = {}
        self.unnamed_convolutions = 0

    def add(self, name: str, dataset, locator) -> None:
        if name in self.params:
            raise ValueError(
                f"{self.source}: the parameter {name!r} appears twice; the file is not one "
                "MatConvNet net."
            )
        self.params[name] = (_shape(dataset), locator)

    def __call__(self, path: str, group) -> None:
        if not hasattr(group, "keys"):
            return
        members = set(group.keys())
        if {"name", "value"} <= members:
            names = _elements(self.file, group, "name")
            values = _elements(self.file, group, "value")
            for (name, _), (value, locator) in zip(names, values, strict=True):
                self.add(_text(name), value, locator)
        elif {"type", "filters", "biases"} <= members and _text(group["type"]) == "conv":
            if "name" in members:
                name = _text(group["name"])
            else:
                self.unnamed_convolutions += 1
                name = f"simplenn{self.unnamed_convolutions}"
            for field in ("filters", "biases"):
                self.add(f"{name}.{field}", group[field], f"/{path}/{field}")


def _reader(path: str, name: str, locator) -> Callable[[], list[np.ndarray]]:
    def read() -> list[np.ndarray]:
        h5py = _h5py()
        try:
            with h5py.File(path, "r") as file:
                dataset = file[locator]
                if dataset.attrs.get("MATLAB_empty", 0):
                    return [np.zeros(_shape(dataset), np.float32)]
                return [np.asarray(dataset[()], np.float32).transpose()]
        except (OSError, KeyError) as error:
            raise ValueError(
                f"{path}: the parameter {name!r} cannot be read ({error}); the file is truncated "
                "or corrupt: download it again."
            ) from error

    return read


def read_matconvnet(path: str | os.PathLike) -> dict[str, StoredLayer]:
    """Reads the parameters of the MatConvNet nets in a MATLAB v7.3 `.mat` file.

    Args:
        path: the file.

    Returns:
        `{name: StoredLayer}`, one per parameter (type `PARAM_TYPE`, one array in MATLAB's axis
        order, read when asked), in the order of the file's groups.

    Raises:
        FileNotFoundError: if no file is at `path`.
        ValueError: for a file that is not HDF5 (a `.mat` of version 7 or older: read it with
            `scipy.io.loadmat`, or save it again with `-v7.3`), that cannot be read, that holds
            no parameters, or that names one twice.

    Example:

    >>> params = read_matconvnet("refinenet_res101_voc2012.mat")  # doctest: +SKIP
    >>> params["p_ims1d2_outl1_dimred_filter"].shapes  # doctest: +SKIP
    ((3, 3, 2048, 512),)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No MatConvNet .mat file at {path!r}.")
    h5py = _h5py()
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"{path} is not a MATLAB v7.3 (HDF5) .mat file. A .mat of version 7 or older reads "
            "with scipy.io.loadmat; MATLAB writes v7.3 with save(file, ..., '-v7.3')."
        )
    try:
        with h5py.File(path, "r") as file:
            walk = _Walk(file, path)
            file.visititems(walk)
    except (OSError, KeyError, RuntimeError) as error:
        raise ValueError(
            f"{path} cannot be read as HDF5 ({error}); the file is truncated or corrupt: "
            "download it again."
        ) from error
    if not walk.params:
        raise ValueError(
            f"{path} holds no MatConvNet parameters (no struct with 'name' and 'value' fields, "
            "no SimpleNN convolution with 'filters' and 'biases')."
        )
    return {
        name: StoredLayer(name, PARAM_TYPE, (shape,), (False,), _reader(path, name, location))
        for name, (shape, location) in walk.params.items()
    }
