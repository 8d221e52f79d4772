"""A dilated convolution that TensorFlow runs as one convolution."""

import keras

from keras_fcn.layers.stride_one_conv import StrideOneConv2D


@keras.saving.register_keras_serializable(package="keras_fcn")
class DilatedConv2D(StrideOneConv2D):
    """A stride-1 dilated `Conv2D` that TensorFlow runs as one dilated convolution.

    Same weights, configuration and results (up to float rounding) as `keras.layers.Conv2D`.
    Keras' TensorFlow backend convolves through `tf.nn.convolution`, which runs a dilated
    convolution as `SpaceToBatchND`, an undilated convolution and `BatchToSpaceND`: the map is
    padded to whole blocks of the rate and split into rate² sub-maps, and every tap of the
    kernel is multiplied over all of them, the taps that fall wholly in the zero padding
    included. This layer calls the `Conv2D` operation with its `dilations` attribute and
    "same"'s padding written out, which oneDNN (TensorFlow's CPU kernels on x86) runs directly,
    skipping those taps: DeepLab v3's ASPP at output stride 8 (3×3, 2,048 → 256 channels at
    rates 12, 24 and 36 on the 65×65 map of a 513×513 image) runs two to nine times faster
    (`benchmarks/README.md`, "The ResNet era against PyTorch"). It is for inference:
    TensorFlow's CPU kernels have no gradient of a dilated convolution with explicit padding.
    `keras_fcn.inference.inference_copy` puts it in place of every such `Conv2D` of the
    models it copies for inference. On the other backends, whose convolutions take the
    rate directly, it is `keras.layers.Conv2D`.

    Example:

    >>> layer = DilatedConv2D(8, 3, padding="same", dilation_rate=24)
    >>> layer(np.zeros((1, 17, 19, 4))).shape
    TensorShape([1, 17, 19, 8])
    """

    def convolution_op(self, inputs, kernel):
        if keras.backend.backend() != "tensorflow":
            return super().convolution_op(inputs, kernel)
        import tensorflow as tf

        # "same"'s split, explicit: ONNX Runtime refuses dilation with SAME_UPPER, which
        # tf2onnx writes for "SAME" on maps of unknown size.
        padding = self.same_padding() if self.padding == "same" else "VALID"
        return tf.nn.conv2d(
            inputs, kernel, strides=1, padding=padding, dilations=list(self.dilation_rate)
        )
