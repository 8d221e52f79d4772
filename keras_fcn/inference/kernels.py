"""Where the inference copy's choices of computation were measured: TensorFlow, on CPUs, for the
plain stride-1 convolutions of Keras (`keras_fcn.inference.folding`,
`keras_fcn.inference.phase_layout`)."""

import keras


def tensorflow_on_cpus() -> bool:
    """Whether the backend is TensorFlow and it sees no GPU, whose kernels were not measured.

    Example:

    >>> tensorflow_on_cpus() == (keras.backend.backend() == "tensorflow")  # on a CPU machine
    True
    """
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def plain_stride_one_convolution(layer: keras.layers.Layer) -> bool:
    """Whether `layer` is a `keras.layers.Conv2D` (its exact class, not a subclass, whose call
    may do more) of stride 1, one group and channels last: the convolutions the copy may compute
    another way, with the same weights.

    Example:

    >>> plain_stride_one_convolution(keras.layers.Conv2D(4, 3, dilation_rate=2))
    True
    >>> plain_stride_one_convolution(keras.layers.Conv2D(4, 3, strides=2))
    False
    """
    return (
        type(layer) is keras.layers.Conv2D
        and layer.strides == (1, 1)
        and layer.groups == 1
        and layer.data_format == "channels_last"
    )
