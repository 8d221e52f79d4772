"""The segmentation models, one module per paper: `fcn` (Long, Shelhamer & Darrell; FCN-32s/16s/8s
on VGG16) and `fcn_alexnet` (the same paper's FCN-AlexNet), `deeplab` (Chen et al.: DeepLab-LargeFOV
and ASPP on VGG16, DeepLab v2's ASPP on ResNet-101) with `msc` (its multi-scale test net, around
any model), `deeplab_v3` (Chen et al.: DeepLab v3 on ResNet-50/101, and torchvision's FCN and
DeepLabV3 nets), `deeplab_v3_plus` (Chen et al.: DeepLab v3+, and its decoder as a function),
`gcn` (Peng et al.: Large Kernel Matters' GCN), `dilation` (Yu & Koltun: the Dilation8 front-end
and its context module), `segnet` (Badrinarayanan, Kendall & Cipolla: SegNet, SegNet-Basic and
their Bayesian variants), `pspnet` (Zhao et al.: PSPNet-101 and PSPNet-50 as released),
`refinenet` (Lin et al.: RefineNet on ResNet-50/101/152, as its MatConvNet release builds it),
`auto_deeplab` (Liu et al.: Auto-DeepLab's found network with DeepLab v3+'s head)."""

from keras_fcn.models.auto_deeplab import AutoDeepLab
from keras_fcn.models.deeplab import (
    DeepLabASPP,
    DeepLabLargeFOV,
    DeepLabVariant,
    build_deeplab,
    build_deeplab_resnet,
)
from keras_fcn.models.deeplab_v3 import (
    ASPPLayout,
    DeepLabV3,
    TorchvisionDeepLabV3,
    TorchvisionFCN,
)
from keras_fcn.models.deeplab_v3_plus import DeepLabV3Plus, deeplab_v3_plus_decoder
from keras_fcn.models.dilation import Dilation8, build_dilation
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
from keras_fcn.models.gcn import GCN
from keras_fcn.models.msc import multi_scale
from keras_fcn.models.pspnet import PSPNet
from keras_fcn.models.refinenet import RefineNet
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
    "GCN",
    "GEOMETRIES",
    "SEGNET",
    "SEGNET_BASIC",
    "ASPPLayout",
    "AutoDeepLab",
    "DeepLabASPP",
    "DeepLabLargeFOV",
    "DeepLabV3",
    "DeepLabV3Plus",
    "DeepLabVariant",
    "Dilation8",
    "FCN8s",
    "FCN8sAtOnce",
    "FCN16s",
    "FCN32s",
    "FCNAlexNet",
    "FCNVariant",
    "PSPNet",
    "RefineNet",
    "SegNet",
    "SegNetBasic",
    "SegNetVariant",
    "Stream",
    "TorchvisionDeepLabV3",
    "TorchvisionFCN",
    "build_deeplab",
    "build_deeplab_resnet",
    "build_dilation",
    "build_fcn",
    "build_segnet",
    "deeplab_v3_plus_decoder",
    "multi_scale",
]
