"""Fully Convolutional Networks for semantic segmentation in Keras 3.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation",
CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016.
"""

from keras_fcn.initializers import BilinearUpsampling
from keras_fcn.layers import CropToReference, PadToMultiple, VGGPreprocessing
from keras_fcn.models import (
    FCN8s,
    FCN8sAtOnce,
    FCN16s,
    FCN32s,
    build_fcn,
    convolutionalize,
    transfer_weights,
)

__version__ = "0.1.0"

__all__ = [
    "BilinearUpsampling",
    "CropToReference",
    "FCN8s",
    "FCN8sAtOnce",
    "FCN16s",
    "FCN32s",
    "PadToMultiple",
    "VGGPreprocessing",
    "build_fcn",
    "convolutionalize",
    "transfer_weights",
]
