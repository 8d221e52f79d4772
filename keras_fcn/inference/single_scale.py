"""The model once, at the images' own size: the single-scale prediction every score starts from.

On TensorFlow the call is one `tf.function(reduce_retracing=True)`, so batches of changing image
size (VOC evaluation runs one image at a time at its own size) trace again once, not once per
size. On JAX and PyTorch it runs eagerly, op by op (PyTorch records no gradients): nothing is
compiled again for each new image size, as `jax.jit` would.
"""

from collections.abc import Callable

import keras

from keras_fcn.inference.folding import fold_batch_normalization


def logits_function(model: keras.Model) -> Callable:
    """The model's inference call (`training=False`) as each backend runs it fastest at any size.

    The call runs a copy of the model with its batch normalization folded into its convolutions
    (`fold_batch_normalization`), made once here: train the model further, and ask again.

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

    folded = fold_batch_normalization(model)

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
