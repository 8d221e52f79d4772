"""Fully Convolutional Networks and their VGG16-era successors for segmentation, in Keras 3.

The models (`FCN32s`, `FCN16s`, `FCN8s`, `FCN8sAtOnce`, `FCNAlexNet`, `DeepLabLargeFOV`,
`DeepLabASPP` on VGG16 and ResNet-101, `DeepLabV3`, `DeepLabV3Plus`, `GCN`, torchvision's
`TorchvisionFCN` and `TorchvisionDeepLabV3`, `Dilation8`, `SegNet`, `SegNetBasic`, `PSPNet`,
`RefineNet`, `AutoDeepLab`; every model by name in `keras_fcn.registry`) and DeepLab v2's
multi-scale test net around any of them (`multi_scale`), the trained nets of the original releases
(`from_preset`, `PRESETS`), their layers, the paper's four scores (`keras_fcn.metrics`), `evaluate`,
the papers' test-time protocols (`PROTOCOLS`, `ProtocolPredictor`: scales, flips, sliding windows),
DeepLab's dense CRF (`dense_crf`), and Monte Carlo dropout for the Bayesian SegNets
(`predict_with_uncertainty`). Each name is imported from its module when it is first used, so
`import keras_fcn` imports no Keras, TensorFlow, JAX or PyTorch; every serializable class is
registered as soon as Keras is imported (`keras_fcn.serializables`), so
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

import importlib
import sys

from keras_fcn.import_hooks import lazy_package
from keras_fcn.layers import _LAYERS
from keras_fcn.models import _MODELS

__version__ = "0.2.0"

_PUBLIC_NAMES = {
    "keras_fcn": (
        "metrics",
        "registry",
    ),
    "keras_fcn.backbones": (
        "VGGPreprocessing",
        "convolutionalize",
    ),
    "keras_fcn.evaluation": (
        "EvaluationReport",
        "evaluate",
    ),
    "keras_fcn.inference": (
        "PROTOCOLS",
        "Protocol",
        "ProtocolPredictor",
        "dense_crf",
    ),
    "keras_fcn.presets": (
        "PRESETS",
        "from_preset",
    ),
    "keras_fcn.uncertainty": ("predict_with_uncertainty",),
    "keras_fcn.weights": (
        "WeightTransfer",
        "transfer_weights",
    ),
}
"""Each public name by the module it comes from, besides the layers and models, which the
tables of `keras_fcn.layers` and `keras_fcn.models` list."""

__all__ = lazy_package(__name__, _PUBLIC_NAMES, _LAYERS, _MODELS)


# Registration of the serializable classes (`keras_fcn.serializables`), which import Keras: now
# if Keras is already imported, else right after the outermost import that imports it (of
# Keras, TensorFlow or a module of this package) is complete, never inside one, where a module
# of the chain may still be half-initialised.
if "keras" in sys.modules:
    importlib.import_module("keras_fcn.serializables")
else:
    import contextlib

    from keras_fcn.import_hooks import AroundImport

    @contextlib.contextmanager
    def _register_when_keras_is_imported():
        yield
        if "keras" in sys.modules:
            _registration.remove()
            importlib.import_module("keras_fcn.serializables")

    _registration = AroundImport(
        _register_when_keras_is_imported, ("keras", "tensorflow"), packages=("keras_fcn",)
    )
    _registration.install()
