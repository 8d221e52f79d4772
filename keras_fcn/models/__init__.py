"""The segmentation models, one module per paper: `fcn` (Long, Shelhamer & Darrell)."""

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
    "FCNVariant",
    "Stream",
    "build_fcn",
]
