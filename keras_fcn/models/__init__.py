"""The segmentation models, one module per paper: `fcn` (Long, Shelhamer & Darrell) and `segnet`
(Badrinarayanan, Kendall & Cipolla)."""

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
    build_fcn,
)
from keras_fcn.models.segnet import (
    SEGNET,
    SEGNET_BASIC,
    SegNet,
    SegNetBasic,
    SegNetVariant,
    build_segnet,
)

__all__ = [
    "FCN8S",
    "FCN8S_AT_ONCE",
    "FCN16S",
    "FCN32S",
    "GEOMETRIES",
    "SEGNET",
    "SEGNET_BASIC",
    "FCN8s",
    "FCN8sAtOnce",
    "FCN16s",
    "FCN32s",
    "FCNVariant",
    "SegNet",
    "SegNetBasic",
    "SegNetVariant",
    "build_fcn",
    "build_segnet",
]
