"""Layers and initializers the models are built from, written with `keras.layers` and `keras.ops`
only, so that they run on every Keras backend.

- `geometry`: `PadToMultiple`, `ReflectPadding2D` (OpenCV's reflect-101), `CropToReference`
  (Caffe's `Crop`).
- `upsampling`: `bilinear_kernel` and the `BilinearUpsampling` initializer of FCN's upsamplers;
  `ZoomToReference` (Caffe's corner-aligned `Interp`, DeepLab's and Dilation's upsampling);
  `ResizeToReference` (torch's `interpolate` with pixel centres aligned, torchvision's nets);
  `CaffeInterp` and `interp_size` (`Interp` by shrink and zoom factors or to a reference, DeepLab
  v2's multi-scale inputs); `ImresizeToReference` and `imresize_contributions` (MATLAB's bicubic
  and bilinear `imresize`: RefineNet's fusion and upsampling, PSPNet's evaluation).
- `identity`: `GroupedIdentity`, the identity initializer of the Dilation context module.
- `matmul_conv`: `MatmulConv2D`, a convolution computed as one matrix product.
- `pooling`: `CaffeMaxPooling2D`, max pooling with Caffe's padding and round-up sizes;
  `AdaptiveAveragePooling` and `adaptive_bins`, average pooling to a number of bins for inputs
  of any size (PSPNet's pyramid pooling module).
- `unpooling`: `MaxPoolingWithIndices` and `MaxUnpooling`, SegNet's pooling that keeps the
  argmax positions and its upsampling that puts values back there.
- `normalization`: `LocalResponseNormalization`, Caffe's LRN across channels (SegNet-Basic's
  input, FCN-AlexNet).
- `dropout`: `MonteCarloDropout`, dropout that Monte Carlo sampling keeps on at inference.
"""

from keras_fcn.layers.dropout import MonteCarloDropout
from keras_fcn.layers.geometry import CropToReference, PadToMultiple, ReflectPadding2D
from keras_fcn.layers.identity import GroupedIdentity
from keras_fcn.layers.matmul_conv import MatmulConv2D
from keras_fcn.layers.normalization import LocalResponseNormalization
from keras_fcn.layers.pooling import (
    AdaptiveAveragePooling,
    CaffeMaxPooling2D,
    adaptive_bins,
    caffe_pooled_size,
    pooling_layer,
)
from keras_fcn.layers.unpooling import MaxPoolingWithIndices, MaxUnpooling
from keras_fcn.layers.upsampling import (
    BilinearUpsampling,
    CaffeInterp,
    ImresizeToReference,
    ResizeToReference,
    ZoomToReference,
    bilinear_kernel,
    imresize_contributions,
    interp_size,
)

__all__ = [
    "AdaptiveAveragePooling",
    "BilinearUpsampling",
    "CaffeInterp",
    "CaffeMaxPooling2D",
    "CropToReference",
    "GroupedIdentity",
    "ImresizeToReference",
    "LocalResponseNormalization",
    "MatmulConv2D",
    "MaxPoolingWithIndices",
    "MaxUnpooling",
    "MonteCarloDropout",
    "PadToMultiple",
    "ReflectPadding2D",
    "ResizeToReference",
    "ZoomToReference",
    "adaptive_bins",
    "bilinear_kernel",
    "caffe_pooled_size",
    "imresize_contributions",
    "interp_size",
    "pooling_layer",
]
