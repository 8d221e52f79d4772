"""Weights: transfer between models of the family (`transfer`), Caffe's `.caffemodel` files
(`caffe`) and the trained nets of the original release (`presets`, `from_preset`)."""

from keras_fcn.weights.caffe import (
    CaffeLayer,
    caffe_layer_name,
    load_caffemodel,
    read_caffemodel,
    save_caffemodel,
)
from keras_fcn.weights.presets import PRESETS, Preset, from_preset, get_preset
from keras_fcn.weights.transfer import WeightTransfer, transfer_weights

__all__ = [
    "PRESETS",
    "CaffeLayer",
    "Preset",
    "WeightTransfer",
    "caffe_layer_name",
    "from_preset",
    "get_preset",
    "load_caffemodel",
    "read_caffemodel",
    "save_caffemodel",
    "transfer_weights",
]
