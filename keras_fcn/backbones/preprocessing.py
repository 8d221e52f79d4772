"""Input preprocessing: RGB in [0, 255] to what the weights were trained on, and every mean.

Caffe's nets (VGG16, MSRA's ResNet and their descendants) read BGR minus the weights' mean
(`VGGPreprocessing`); torchvision's read RGB in [0, 1] standardized by ImageNet's mean and
standard deviation (`torchvision_preprocessing`).

The mean is a property of the weights a model is loaded with, not of the architecture: the
keras.applications VGG16 weights were trained with one mean, the original Caffe FCN models with
another. It is stored in the layer's config, so a saved model keeps the mean of its weights.
Inputs that are not colour photographs, such as the HHA depth encoding of the NYUDv2 nets, keep
their channel order (`reverse_channels=False`).
"""

import keras
from keras import ops

from keras_fcn.layers.config import ConstructorConfig

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
"""Mean that keras.applications' VGG16 ImageNet weights were trained with, in BGR order."""

IMAGENET_MEAN_RGB = tuple(reversed(IMAGENET_MEAN_BGR))
"""`IMAGENET_MEAN_BGR` in RGB order: the colour that becomes zero after preprocessing."""

CAFFE_FCN_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)
"""Mean of the original Caffe FCN models trained on PASCAL VOC (`voc-fcn*/net.py`), BGR."""

DEEPLAB_MEAN_BGR = (104.008, 116.669, 122.675)
"""Mean of DeepLab's VGG16 models (`mean_value` of the `train.prototxt`/`test.prototxt` data
layers of DeepLab-LargeFOV and DeepLab v2), BGR."""

DILATION_VOC_MEAN_BGR = (102.93, 111.36, 116.52)
"""Mean of the Dilation models trained on PASCAL VOC (`fyu/dilation`,
`datasets/pascal_voc.json`), BGR."""

PASCAL_CONTEXT_MEAN_BGR = (104.007, 116.669, 122.679)
"""Mean of the PASCAL-Context nets' inputs (`pascalcontext_layers.py`), BGR."""

SIFT_FLOW_MEAN_BGR = (114.578, 115.294, 108.353)
"""Mean of the SIFT Flow nets' inputs (`siftflow_layers.py`), BGR."""

NYUD_COLOR_MEAN_BGR = (116.190, 97.203, 92.318)
"""Mean of the NYUDv2 nets' colour inputs (`nyud_layers.py`), BGR."""

REFINENET_MEAN_RGB = (128.0, 128.0, 128.0)
"""What RefineNet's MatConvNet release subtracts from its RGB images (`image_mean=128`,
main/prepare_runner_test_simple.m, main/my_get_batch_ds_info.m): one value for every channel,
the channels kept in RGB order (its MatConvNet ResNet's conv1 reads RGB)."""

NYUD_HHA_MEAN = (132.431, 94.076, 118.477)
"""Mean of the NYUDv2 nets' HHA inputs (`nyud_layers.py`), in the HHA image's own channel order
(disparity, height, angle), which the nets read unflipped."""

TORCHVISION_MEAN_RGB = (0.485, 0.456, 0.406)
"""ImageNet's RGB mean of images in [0, 1] (torchvision's `SemanticSegmentation` preset)."""

TORCHVISION_STD_RGB = (0.229, 0.224, 0.225)
"""ImageNet's RGB standard deviation of images in [0, 1]."""


def torchvision_preprocessing(name: str = "normalization") -> keras.layers.Rescaling:
    """torchvision's input transform, `(x / 255 − mean) / std` per RGB channel, as one layer.

    One `Rescaling` by `1 / (255 · std)` with the offset `−mean / std` per channel: its
    constants are written into the graph, where `keras.layers.Normalization`'s become captured
    tensors that tf2onnx turns into inputs of the exported net.

    Example:

    >>> layer = torchvision_preprocessing()
    >>> pixel = layer(np.full((1, 1, 1, 3), 255.0))[0, 0, 0]
    >>> [round(float(value), 4) for value in pixel]  # (1 − mean) / std
    [2.2489, 2.4286, 2.64]
    """
    return keras.layers.Rescaling(
        scale=[1 / (255 * std) for std in TORCHVISION_STD_RGB],
        offset=[
            -mean / std for mean, std in zip(TORCHVISION_MEAN_RGB, TORCHVISION_STD_RGB, strict=True)
        ],
        name=name,
    )


PSPNET_MEAN_BGR = IMAGENET_MEAN_BGR
"""Mean of PSPNet's three released nets, BGR: its evaluation code subtracts the RGB mean (123.68,
116.779, 103.939) from every dataset's images, then turns them into BGR, without scaling
(hszhao/PSPNet `evaluation/eval_all.m`, `pre_img.m`), which is keras.applications' ImageNet
mean."""


@keras.saving.register_keras_serializable(package="keras_fcn")
class VGGPreprocessing(ConstructorConfig, keras.layers.Layer):
    """Turns RGB images in [0, 255] into the input of VGG-family Caffe weights.

    Flips RGB to BGR and subtracts a per-channel mean. With the default mean this is exactly
    `keras.applications.vgg16.preprocess_input`, so that models (and SavedModels exported from
    them) take raw images.

    Args:
        mean: per-channel mean to subtract, in BGR order: the mean of the weights the model
            is loaded with (`IMAGENET_MEAN_BGR` for keras.applications' VGG16,
            `CAFFE_FCN_MEAN_BGR` for the original FCN models). With `reverse_channels=False`,
            in the input's own channel order.
        reverse_channels: whether to flip the channels (RGB to BGR, as Caffe's colour nets
            read images); `False` for inputs the original nets read unflipped, such as HHA
            images (`nyud_layers.py`'s `load_hha`).

    Example:

    >>> layer = VGGPreprocessing()
    >>> pixel = layer(np.full((1, 1, 1, 3), 255, "uint8"))[0, 0, 0]
    >>> [round(float(value), 3) for value in pixel]  # 255 minus the BGR mean
    [151.061, 138.221, 131.32]
    """

    def __init__(
        self,
        mean: tuple[float, float, float] = IMAGENET_MEAN_BGR,
        reverse_channels: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(mean) != 3:
            raise ValueError(f"mean must have 3 values (B, G, R), received {mean}.")
        self.mean = tuple(float(value) for value in mean)
        self.reverse_channels = bool(reverse_channels)

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.reverse_channels:
            # A gather rather than `ops.flip`: LiteRT's int8 REVERSE_V2 copies its input's bytes
            # but is given other quantization parameters than its input, which garbles every
            # pixel of a full-integer export (a 4-pixel-class error at conv1_1, 55% of the pixels
            # of a trained FCN-16s right); its GATHER keeps them.
            images = ops.take(images, [2, 1, 0], axis=-1)
        return images - ops.convert_to_tensor(self.mean, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape
