"""Backbones: the registry a head names them by (`registry`: `BACKBONES`, `get_backbone`), VGG16's
convolutions and fully connected layers with the options the FCN family and its successors need
(`vgg16`), the dilated bottleneck ResNet of the ResNet era with one layout per release
(`resnet`), and the input preprocessing of their weights (`preprocessing`)."""

from keras_fcn.backbones.preprocessing import (
    CAFFE_FCN_MEAN_BGR,
    DEEPLAB_MEAN_BGR,
    DILATION_VOC_MEAN_BGR,
    IMAGENET_MEAN_BGR,
    IMAGENET_MEAN_RGB,
    VGGPreprocessing,
)
from keras_fcn.backbones.registry import BACKBONES, LEVELS, Backbone, get_backbone
from keras_fcn.backbones.resnet import (
    CAFFE_DEEPLAB_V2,
    KERAS_APPLICATIONS,
    PSPNET_50,
    PSPNET_101,
    REFINENET,
    RESNET_BLOCKS,
    TORCHVISION,
    ResNetLayout,
    resnet,
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
    "BACKBONES",
    "CAFFE_CONV_NAMES",
    "CAFFE_DEEPLAB_V2",
    "CAFFE_FCN_MEAN_BGR",
    "DEEPLAB_MEAN_BGR",
    "DILATION_VOC_MEAN_BGR",
    "IMAGENET_MEAN_BGR",
    "IMAGENET_MEAN_RGB",
    "KERAS_APPLICATIONS",
    "LEVELS",
    "PSPNET_50",
    "PSPNET_101",
    "REFINENET",
    "RESNET_BLOCKS",
    "TORCHVISION",
    "Backbone",
    "Pooling",
    "ResNetLayout",
    "VGGPreprocessing",
    "convolutionalize",
    "get_backbone",
    "resnet",
    "vgg16_classifier",
    "vgg16_convolutions",
    "vgg16_fully_connected",
]
