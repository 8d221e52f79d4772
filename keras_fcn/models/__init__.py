"""The segmentation models, one module per paper: `fcn` (Long, Shelhamer & Darrell; FCN-32s/16s/8s
on VGG16) and `fcn_alexnet` (the same paper's FCN-AlexNet), `deeplab` (Chen et al.: DeepLab-LargeFOV
and ASPP on VGG16, DeepLab v2's ASPP on ResNet-101) with `msc` (its multi-scale test net, around
any model), `deeplab_v3` (Chen et al.: DeepLab v3 on ResNet-50/101, and torchvision's FCN and
DeepLabV3 nets), `deeplab_v3_plus` (Chen et al.: DeepLab v3+, and its decoder as a function),
`gcn` (Peng et al.: Large Kernel Matters' GCN), `dilation` (Yu & Koltun: the Dilation8 front-end
and its context module), `segnet` (Badrinarayanan, Kendall & Cipolla: SegNet, SegNet-Basic and
their Bayesian variants), `pspnet` (Zhao et al.: PSPNet-101 and PSPNet-50 as released),
`refinenet` (Lin et al.: RefineNet on ResNet-50/101/152, as its MatConvNet release builds it),
`auto_deeplab` (Liu et al.: Auto-DeepLab's found network with DeepLab v3+'s head).

Each name is imported from its module on first use, so `import keras_fcn.models` imports no
Keras; `keras_fcn` exports the models (`_MODELS`) as well.
"""

from keras_fcn.import_hooks import lazy_package

_MODELS = {
    "keras_fcn.models.auto_deeplab": ("AutoDeepLab",),
    "keras_fcn.models.deeplab": (
        "DeepLabASPP",
        "DeepLabLargeFOV",
    ),
    "keras_fcn.models.deeplab_v3": (
        "DeepLabV3",
        "TorchvisionDeepLabV3",
        "TorchvisionFCN",
    ),
    "keras_fcn.models.deeplab_v3_plus": ("DeepLabV3Plus",),
    "keras_fcn.models.dilation": ("Dilation8",),
    "keras_fcn.models.fcn": (
        "FCN8s",
        "FCN8sAtOnce",
        "FCN16s",
        "FCN32s",
    ),
    "keras_fcn.models.fcn_alexnet": ("FCNAlexNet",),
    "keras_fcn.models.gcn": ("GCN",),
    "keras_fcn.models.msc": ("multi_scale",),
    "keras_fcn.models.pspnet": ("PSPNet",),
    "keras_fcn.models.refinenet": ("RefineNet",),
    "keras_fcn.models.segnet": (
        "SegNet",
        "SegNetBasic",
    ),
}
"""The models (and the multi-scale net around any of them), by module: public in `keras_fcn` as
well."""

_BUILDERS = {
    "keras_fcn.models.deeplab": (
        "DeepLabVariant",
        "build_deeplab",
        "build_deeplab_resnet",
    ),
    "keras_fcn.models.deeplab_v3": ("ASPPLayout",),
    "keras_fcn.models.deeplab_v3_plus": ("deeplab_v3_plus_decoder",),
    "keras_fcn.models.dilation": ("build_dilation",),
    "keras_fcn.models.fcn": (
        "FCN8S",
        "FCN8S_AT_ONCE",
        "FCN16S",
        "FCN32S",
        "GEOMETRIES",
        "FCNVariant",
        "Stream",
        "build_fcn",
    ),
    "keras_fcn.models.segnet": (
        "SEGNET",
        "SEGNET_BASIC",
        "SegNetVariant",
        "build_segnet",
    ),
}
"""The builders the models call, the variants (as data) they build and the parts they share, by
module."""

__all__ = lazy_package(__name__, _MODELS, _BUILDERS)
