"""Fully Convolutional Networks and their VGG16-era successors for segmentation, in Keras 3.

The models (`FCN32s`, `FCN16s`, `FCN8s`, `FCN8sAtOnce`, `FCNAlexNet`, `DeepLabLargeFOV`,
`DeepLabASPP` on VGG16 and ResNet-101, `DeepLabV3`, `DeepLabV3Plus`, `GCN`, torchvision's
`TorchvisionFCN` and `TorchvisionDeepLabV3`, `Dilation8`, `SegNet`, `SegNetBasic`, `PSPNet`,
`RefineNet`, `AutoDeepLab`; every model by name in `keras_fcn.registry`) and DeepLab v2's
multi-scale test net around any of them (`multi_scale`), the trained nets of the original releases
(`from_preset`, `PRESETS`), their layers, the paper's four scores (`keras_fcn.metrics`), `evaluate`,
the papers' test-time protocols (`PROTOCOLS`, `ProtocolPredictor`: scales, flips, sliding windows),
DeepLab's dense CRF (`dense_crf`), and Monte Carlo dropout for the Bayesian SegNets
(`predict_with_uncertainty`). Importing the package registers every serializable class, so
`keras.models.load_model` reads `.keras` files without `custom_objects`.
Data sources and pipelines live in `keras_fcn.data`, training in `keras_fcn.training`, exports
for TF Serving, ONNX Runtime, OpenVINO and LiteRT (float32, bfloat16, int8) in
`keras_fcn.export`, Caffe's `.caffemodel` and MatConvNet's `.mat` files in `keras_fcn.weights`.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation",
CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016; Chen et al., "Semantic Image Segmentation with
Deep Convolutional Nets and Fully Connected CRFs", ICLR 2015, and "DeepLab", PAMI 2017; Yu &
Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016; Chen, Papandreou,
Schroff & Adam, "Rethinking Atrous Convolution for Semantic Image Segmentation",
arXiv:1706.05587; Badrinarayanan, Kendall & Cipolla, "SegNet: A Deep Convolutional
Encoder-Decoder Architecture for Image Segmentation", PAMI 2017; Chen, Zhu, Papandreou, Schroff
& Adam, "Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation", ECCV
2018; Peng, Zhang, Yu, Luo & Sun, "Large Kernel Matters", CVPR 2017; Lin, Milan, Shen & Reid,
"RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic Segmentation", CVPR 2017.
"""

from keras_fcn import metrics, registry
from keras_fcn.backbones import VGGPreprocessing, convolutionalize
from keras_fcn.evaluation import EvaluationReport, evaluate
from keras_fcn.inference import PROTOCOLS, Protocol, ProtocolPredictor, dense_crf
from keras_fcn.layers import (
    BilinearUpsampling,
    CaffeInterp,
    CaffeMaxPooling2D,
    CropToReference,
    GroupedIdentity,
    ImresizeToReference,
    LocalResponseNormalization,
    MatmulConv2D,
    MaxPoolingWithIndices,
    MaxUnpooling,
    MonteCarloDropout,
    PadToMultiple,
    ReflectPadding2D,
    ResizeToReference,
    ZoomToReference,
)
from keras_fcn.models import (
    GCN,
    AutoDeepLab,
    DeepLabASPP,
    DeepLabLargeFOV,
    DeepLabV3,
    DeepLabV3Plus,
    Dilation8,
    FCN8s,
    FCN8sAtOnce,
    FCN16s,
    FCN32s,
    FCNAlexNet,
    PSPNet,
    RefineNet,
    SegNet,
    SegNetBasic,
    TorchvisionDeepLabV3,
    TorchvisionFCN,
    multi_scale,
)
from keras_fcn.presets import PRESETS, from_preset
from keras_fcn.uncertainty import predict_with_uncertainty
from keras_fcn.weights import WeightTransfer, transfer_weights

__version__ = "0.2.0"

__all__ = [
    "GCN",
    "PRESETS",
    "PROTOCOLS",
    "AutoDeepLab",
    "BilinearUpsampling",
    "CaffeInterp",
    "CaffeMaxPooling2D",
    "CropToReference",
    "DeepLabASPP",
    "DeepLabLargeFOV",
    "DeepLabV3",
    "DeepLabV3Plus",
    "Dilation8",
    "EvaluationReport",
    "FCN8s",
    "FCN8sAtOnce",
    "FCN16s",
    "FCN32s",
    "FCNAlexNet",
    "GroupedIdentity",
    "ImresizeToReference",
    "LocalResponseNormalization",
    "MatmulConv2D",
    "MaxPoolingWithIndices",
    "MaxUnpooling",
    "MonteCarloDropout",
    "PSPNet",
    "PadToMultiple",
    "Protocol",
    "ProtocolPredictor",
    "RefineNet",
    "ReflectPadding2D",
    "ResizeToReference",
    "SegNet",
    "SegNetBasic",
    "TorchvisionDeepLabV3",
    "TorchvisionFCN",
    "VGGPreprocessing",
    "WeightTransfer",
    "ZoomToReference",
    "convolutionalize",
    "dense_crf",
    "evaluate",
    "from_preset",
    "metrics",
    "multi_scale",
    "predict_with_uncertainty",
    "registry",
    "transfer_weights",
]
