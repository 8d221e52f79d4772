"""Datasets for semantic segmentation: sources, specs, pipelines and data checks.

Every source returns a `tf.data.Dataset` of `(image, label)` at native size: an RGB uint8
image `(H, W, 3)` and an int32 label `(H, W)` where 255 (`keras_fcn.classes.IGNORE_LABEL`)
marks pixels that count nowhere. `training_pipeline` and `evaluation_pipeline` turn such a
dataset into batches (with per-pixel class weights from `median_frequency_weights` or
`inverse_frequency_weights` if asked); `from_spec` builds a source from a command-line string,
through the table of sources `SOURCES`; `check_dataset` (`keras_fcn.data.dataset_problems`)
lists every bad example of a whole dataset, with the per-example checks
(`keras_fcn.data.checks`) that stop the pipelines. `keras_fcn.data.testing` writes small VOC,
SBD, CamVid, Oxford-IIIT Pet and folder trees for tests and smoke runs.

Example:

>>> from keras_fcn import data
>>> train = data.training_pipeline(data.synthetic(num_examples=32), crop_size=48, batch_size=8)
>>> val = data.evaluation_pipeline(data.synthetic(num_examples=8, split="val"))

The pipelines are `tf.data`, which needs TensorFlow installed, whatever the Keras backend: they
feed `model.fit` on JAX and PyTorch as well. Without TensorFlow, importing `keras_fcn.data`
raises a `ModuleNotFoundError` that says so; feed `model.fit` numpy arrays or a Python generator
there.
"""

try:
    import tensorflow  # noqa: F401
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        "keras_fcn.data builds tf.data pipelines and needs TensorFlow installed (pip install "
        "tensorflow); they feed model.fit on every Keras backend. Without TensorFlow, give "
        "model.fit numpy arrays or a Python generator of (images, labels) batches.",
        name="tensorflow",
    ) from error

from keras_fcn.data import testing
from keras_fcn.data.camvid import (
    CAMVID_NUM_CLASSES,
    CAMVID_SPLITS,
    CAMVID_URL,
    camvid,
    camvid_files,
    download_camvid,
)
from keras_fcn.data.class_weights import (
    CLASS_WEIGHTINGS,
    ClassPixelCounts,
    class_weights,
    count_class_pixels,
    inverse_frequency_weights,
    median_frequency_weights,
)
from keras_fcn.data.dataset_problems import (
    check_dataset,
    check_examples,
    check_files,
    pipeline_problem,
)
from keras_fcn.data.files import DataProblem, FilePairs, dataset_from_files
from keras_fcn.data.folder import folder, folder_files
from keras_fcn.data.pipeline import PAD_COLOUR, evaluation_pipeline, training_pipeline
from keras_fcn.data.sbd import sbd, sbd_files
from keras_fcn.data.sources import SOURCES, DatasetSpec, Examples, Source, named_examples
from keras_fcn.data.spec import from_spec, parse_spec
from keras_fcn.data.split_lists import (
    read_split,
    sbd_split_ids,
    seg11valid_ids,
    shipped_split,
    split_overlap,
    train_aug_ids,
)
from keras_fcn.data.synthetic import synthetic, synthetic_class_names
from keras_fcn.data.tfds import KNOWN_DATASETS, from_tfds
from keras_fcn.data.voc import VOC_NUM_CLASSES, voc, voc_files

__all__ = [
    "CAMVID_NUM_CLASSES",
    "CAMVID_SPLITS",
    "CAMVID_URL",
    "CLASS_WEIGHTINGS",
    "KNOWN_DATASETS",
    "PAD_COLOUR",
    "SOURCES",
    "VOC_NUM_CLASSES",
    "ClassPixelCounts",
    "DataProblem",
    "DatasetSpec",
    "Examples",
    "FilePairs",
    "Source",
    "camvid",
    "camvid_files",
    "check_dataset",
    "check_examples",
    "check_files",
    "class_weights",
    "count_class_pixels",
    "dataset_from_files",
    "download_camvid",
    "evaluation_pipeline",
    "folder",
    "folder_files",
    "from_spec",
    "from_tfds",
    "inverse_frequency_weights",
    "median_frequency_weights",
    "named_examples",
    "parse_spec",
    "pipeline_problem",
    "read_split",
    "sbd",
    "sbd_files",
    "sbd_split_ids",
    "seg11valid_ids",
    "shipped_split",
    "split_overlap",
    "synthetic",
    "synthetic_class_names",
    "testing",
    "train_aug_ids",
    "training_pipeline",
    "voc",
    "voc_files",
]
