"""The segmentation models, one module per paper: `fcn` (Long, Shelhamer & Darrell; FCN-32s/16s/8s
on VGG16) and `fcn_alexnet` (the same paper's FCN-AlexNet)."""

from keras_fcn.models.fcn import (
    FCN8S,
    FCN8S_AT_ONCE,
    FCN16S,
    FCN32S,
    GEOMETRIES,
    FCN8s,
    FCN8sAtOnce,
    FCN16s,
    FCN32s,
    FCNVariant,
    Stream,
    build_fcn,
)
from keras_fcn.models.fcn_alexnet import FCNAlexNet

__all__ = [
    "FCN8S",
    "FCN8S_AT_ONCE",
    "FCN16S",
    "FCN32S",
    "GEOMETRIES",
    "FCN8s",
    "FCN8sAtOnce",
    "FCN16s",
    "FCN32s",
    "FCNAlexNet",
    "FCNVariant",
    "Stream",
    "build_fcn",
]
