"""Weights: file formats (`formats`: a file → arrays by name), the releases' mappings onto the
models (`mappings`), one loader (`loader`) and transfer between models of the family
(`transfer`). The trained nets of the releases are `keras_fcn.presets`."""

from keras_fcn.weights.formats.caffe import CaffeLayer, open_caffemodel, read_caffemodel
from keras_fcn.weights.formats.matconvnet import read_matconvnet
from keras_fcn.weights.formats.stored import StoredLayer
from keras_fcn.weights.formats.torch import read_pth
from keras_fcn.weights.loader import LoadReport, Target, load_stored_layers
from keras_fcn.weights.mappings.caffe import (
    caffe_layer_name,
    load_caffemodel,
    load_caffemodel_report,
    save_caffemodel,
)
from keras_fcn.weights.mappings.matconvnet import load_matconvnet_weights
from keras_fcn.weights.mappings.torchvision import load_torchvision_weights
from keras_fcn.weights.transfer import WeightTransfer, transfer_weights

__all__ = [
    "CaffeLayer",
    "LoadReport",
    "StoredLayer",
    "Target",
    "WeightTransfer",
    "caffe_layer_name",
    "load_caffemodel",
    "load_caffemodel_report",
    "load_matconvnet_weights",
    "load_stored_layers",
    "load_torchvision_weights",
    "open_caffemodel",
    "read_caffemodel",
    "read_matconvnet",
    "read_pth",
    "save_caffemodel",
    "transfer_weights",
]
