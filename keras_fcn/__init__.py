"""Fully Convolutional Networks and their VGG16-era successors for segmentation, in Keras 3.

The models (`FCN32s`, `FCN16s`, `FCN8s`, `FCN8sAtOnce`, `FCNAlexNet`; every model by name in
`keras_fcn.registry`), the trained nets of the original release (`from_preset`, `PRESETS`), their
layers, the paper's four scores (`keras_fcn.metrics`) and `evaluate`. Importing the package
registers every serializable class, so `keras.models.load_model` reads `.keras` files without
`custom_objects`. Data sources and pipelines live in `keras_fcn.data`, training in
`keras_fcn.training`, serving export in `keras_fcn.export`, Caffe's `.caffemodel` files in
`keras_fcn.weights.caffe`.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation",
CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016.
"""

from keras_fcn import metrics, registry
from keras_fcn.backbones import VGGPreprocessing, convolutionalize
from keras_fcn.evaluation import EvaluationReport, evaluate
from keras_fcn.layers import (
    BilinearUpsampling,
    CaffeMaxPooling2D,
    CropToReference,
    LocalResponseNormalization,
    MatmulConv2D,
    PadToMultiple,
)
from keras_fcn.models import FCN8s, FCN8sAtOnce, FCN16s, FCN32s, FCNAlexNet
from keras_fcn.weights import PRESETS, WeightTransfer, from_preset, transfer_weights

__version__ = "0.2.0"

__all__ = [
    "PRESETS",
    "BilinearUpsampling",
    "CaffeMaxPooling2D",
    "CropToReference",
    "EvaluationReport",
    "FCN8s",
    "FCN8sAtOnce",
    "FCN16s",
    "FCN32s",
    "FCNAlexNet",
    "LocalResponseNormalization",
    "MatmulConv2D",
    "PadToMultiple",
    "VGGPreprocessing",
    "WeightTransfer",
    "convolutionalize",
    "evaluate",
    "from_preset",
    "metrics",
    "registry",
    "transfer_weights",
]
