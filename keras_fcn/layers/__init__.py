"""Layers and initializers the models are built from, written with `keras.layers` and `keras.ops`
only, so that they run on every Keras backend.

- `geometry`: `PadToMultiple`, `CropToReference` (Caffe's `Crop`).
- `upsampling`: `bilinear_kernel` and the `BilinearUpsampling` initializer of FCN's upsamplers.
- `matmul_conv`: `MatmulConv2D`, a convolution computed as one matrix product.
- `pooling`: `CaffeMaxPooling2D`, max pooling with Caffe's padding and round-up sizes.
- `normalization`: `LocalResponseNormalization`, Caffe's across-channel LRN (AlexNet).
"""

from keras_fcn.layers.geometry import CropToReference, PadToMultiple
from keras_fcn.layers.matmul_conv import MatmulConv2D
from keras_fcn.layers.normalization import LocalResponseNormalization
from keras_fcn.layers.pooling import CaffeMaxPooling2D, caffe_pooled_size, pooling_layer
from keras_fcn.layers.upsampling import BilinearUpsampling, bilinear_kernel

__all__ = [
    "BilinearUpsampling",
    "CaffeMaxPooling2D",
    "CropToReference",
    "LocalResponseNormalization",
    "MatmulConv2D",
    "PadToMultiple",
    "bilinear_kernel",
    "caffe_pooled_size",
    "pooling_layer",
]
