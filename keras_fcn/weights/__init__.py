"""Weights: file formats (`formats`: a file → arrays by name), the releases' mappings onto the
models (`mappings`), one loader (`loader`), transfer between models of the family (`transfer`)
and the trained nets of the original releases (`presets`, `from_preset`)."""

from keras_fcn.weights.formats.caffe import CaffeLayer, open_caffemodel, read_caffemodel
from keras_fcn.weights.formats.stored import StoredLayer
from keras_fcn.weights.loader import LoadReport, Target, load_stored_layers
from keras_fcn.weights.mappings.caffe import caffe_layer_name, load_caffemodel, save_caffemodel
from keras_fcn.weights.presets import PRESETS, Preset, from_preset, get_preset
from keras_fcn.weights.transfer import WeightTransfer, transfer_weights

__all__ = [
    "PRESETS",
    "CaffeLayer",
    "LoadReport",
    "Preset",
    "StoredLayer",
    "Target",
    "WeightTransfer",
    "caffe_layer_name",
    "from_preset",
    "get_preset",
    "load_caffemodel",
    "load_stored_layers",
    "open_caffemodel",
    "read_caffemodel",
    "save_caffemodel",
    "transfer_weights",
]
