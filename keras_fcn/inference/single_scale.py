"""The model once, at the images' own size: the single-scale prediction every score starts from.

On TensorFlow the call is one `tf.function(reduce_retracing=True)`, so batches of changing image
size (VOC evaluation runs one image at a time at its own size) trace again once, not once per
size. On JAX and PyTorch it runs eagerly, op by op (PyTorch records no gradients): nothing is
compiled again for each new image size, as `jax.jit` would.
"""

from collections.abc import Callable

import keras

from keras_fcn.inference.folding import inference_copy

AUXILIARY_OUTPUTS = ("out", "aux")
"""The outputs of a model built with its auxiliary head (torchvision's nets and PSPNet with
`aux=True`): the logits, and the auxiliary head's, which only the training loss reads."""


def has_auxiliary_head(model: keras.Model) -> bool:
    """Whether `model` returns the dict `{"out", "aux"}` of `AUXILIARY_OUTPUTS`.

    Example:

    >>> has_auxiliary_head(keras_fcn.registry.build("torchvision-fcn-resnet50", 2, aux=True))
    True
    """
    if isinstance(model, keras.Sequential):  # one output; its `output` exists once called
        return False
    outputs = model.output
    return isinstance(outputs, dict) and sorted(outputs) == sorted(AUXILIARY_OUTPUTS)


def without_auxiliary_head(model: keras.Model) -> keras.Model:
    """The model's logits alone: a model with an auxiliary head (`has_auxiliary_head`) as the
    model of its `"out"`, sharing its layers (the auxiliary head is not computed); any other
    model as it is. Inference, evaluation and the exports run this.

    Example:

    >>> model = keras_fcn.registry.build("torchvision-fcn-resnet50", 2, aux=True)
    >>> without_auxiliary_head(model).output.shape
    (None, None, None, 2)
    """
    if not has_auxiliary_head(model):
        return model
    return keras.Model(model.input, model.output["out"], name=model.name)


def logits_function(model: keras.Model) -> Callable:
    """The model's inference call (`training=False`) as each backend runs it fastest at any size.

    The call runs the model's inference copy, its batch normalization folded into its
    convolutions (`inference_copy`), made once here: train the model further, and ask again. A
    model with an auxiliary head returns its logits alone (`without_auxiliary_head`).

    Args:
        model: a model mapping `(B, H, W, 3)` images to `(B, H, W, num_classes)` logits.

    Returns:
        A function from an image batch to the model's logits, as tensors of the backend.

    Example:

    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
    >>> logits = logits_function(model)
    >>> [tuple(logits(np.zeros((1, size, size, 3))).shape) for size in (5, 7)]
    [(1, 5, 5, 2), (1, 7, 7, 2)]
    """

    folded = inference_copy(without_auxiliary_head(model))

    def logits(images):
        return folded(images, training=False)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(logits, reduce_retracing=True)
    if backend == "torch":
        import torch

        return torch.no_grad()(logits)
    return logits
