"""Backbones: VGG16's convolutions and fully connected layers with the options the FCN family and
its successors need (`vgg16`), and the input preprocessing of their weights (`preprocessing`)."""

from keras_fcn.backbones.preprocessing import (
    CAFFE_FCN_MEAN_BGR,
    DEEPLAB_MEAN_BGR,
    DILATION_VOC_MEAN_BGR,
    IMAGENET_MEAN_BGR,
    IMAGENET_MEAN_RGB,
    VGGPreprocessing,
)
from keras_fcn.backbones.vgg16 import (
    CAFFE_CONV_NAMES,
    Pooling,
    convolutionalize,
    vgg16_classifier,
    vgg16_convolutions,
    vgg16_fully_connected,
)

__all__ = [
    "CAFFE_CONV_NAMES",
    "CAFFE_FCN_MEAN_BGR",
    "DEEPLAB_MEAN_BGR",
    "DILATION_VOC_MEAN_BGR",
    "IMAGENET_MEAN_BGR",
    "IMAGENET_MEAN_RGB",
    "Pooling",
    "VGGPreprocessing",
    "convolutionalize",
    "vgg16_classifier",
    "vgg16_convolutions",
    "vgg16_fully_connected",
]
