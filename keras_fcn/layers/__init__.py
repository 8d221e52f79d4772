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
- `stride_one_conv`: `StrideOneConv2D`, the base of the stride-1 convolutions computed another
  way: `matmul_conv`'s `MatmulConv2D`, a convolution computed as one matrix product, and
  `dilated_conv`'s `DilatedConv2D`, a dilated convolution that TensorFlow runs as one
  convolution, and `tap_sum_conv`'s `TapSumConv2D`, one matrix product with all the taps, then
  their shifted sum (both the inference copy's, `keras_fcn.inference.inference_copy`).
- `phases`: a map split into its phases (`SpaceToPhases`, `PhaseValidity`, `PhasesToSpace`),
  where a dilated convolution is an undilated one (`PhaseConv2D`): the inference copy runs
  ResNet's third stage so where TensorFlow runs it faster.
- `pooling`: `CaffeMaxPooling2D`, max pooling with Caffe's padding and round-up sizes;
  `AdaptiveAveragePooling` and `adaptive_bins`, average pooling to a number of bins for inputs
  of any size (PSPNet's pyramid pooling module).
- `unpooling`: `MaxPoolingWithIndices` and `MaxUnpooling`, SegNet's pooling that keeps the
  argmax positions and its upsampling that puts values back there.
- `normalization`: `LocalResponseNormalization`, Caffe's LRN across channels (SegNet-Basic's
  input, FCN-AlexNet).
- `dropout`: `MonteCarloDropout`, dropout that Monte Carlo sampling keeps on at inference.
- `config`: `ConstructorConfig`, the `get_config` of the layers that keep their constructor's
  arguments.

Each name is imported from its module on first use, so `import keras_fcn.layers` imports no
Keras; `keras_fcn` exports the layers and initializers (`_LAYERS`) as well.
"""

from keras_fcn.import_hooks import lazy_package

_LAYERS = {
    "keras_fcn.layers.dilated_conv": ("DilatedConv2D",),
    "keras_fcn.layers.dropout": ("MonteCarloDropout",),
    "keras_fcn.layers.geometry": (
        "CropToReference",
        "PadToMultiple",
        "ReflectPadding2D",
    ),
    "keras_fcn.layers.identity": ("GroupedIdentity",),
    "keras_fcn.layers.matmul_conv": ("MatmulConv2D",),
    "keras_fcn.layers.normalization": ("LocalResponseNormalization",),
    "keras_fcn.layers.phases": (
        "PhaseConv2D",
        "PhaseValidity",
        "PhasesToSpace",
        "SpaceToPhases",
    ),
    "keras_fcn.layers.pooling": (
        "AdaptiveAveragePooling",
        "CaffeMaxPooling2D",
    ),
    "keras_fcn.layers.tap_sum_conv": ("TapSumConv2D",),
    "keras_fcn.layers.unpooling": (
        "MaxPoolingWithIndices",
        "MaxUnpooling",
    ),
    "keras_fcn.layers.upsampling": (
        "BilinearUpsampling",
        "CaffeInterp",
        "ImresizeToReference",
        "ResizeToReference",
        "ZoomToReference",
    ),
}
"""The layers and initializers, by module: public in `keras_fcn` as well."""

_FUNCTIONS = {
    "keras_fcn.layers.pooling": (
        "adaptive_bins",
        "caffe_pooled_size",
        "pooling_layer",
    ),
    "keras_fcn.layers.upsampling": (
        "bilinear_kernel",
        "imresize_contributions",
        "interp_size",
    ),
}
"""The functions that go with the layers (output sizes, kernels, the layer for Caffe's pooling
parameters), by module."""

__all__ = lazy_package(__name__, _LAYERS, _FUNCTIONS)
