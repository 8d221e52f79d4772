"""What every model's builder does first: check its sizes, and take RGB images in [0, 255].

Each model takes raw RGB images of any size (uint8 or float) and subtracts the mean its weights
expect inside the graph (`VGGPreprocessing`, BGR minus the mean), so that the model and its
exports take photographs as they are.
"""

import os

import keras

from keras_fcn.backbones.preprocessing import VGGPreprocessing


def check_sizes(input_shape: tuple, **sizes: int) -> None:
    """Raises a `ValueError` unless `input_shape` is `(height, width, 3)` and every size given by
    name (`num_classes`, `fc_units`, ...) is a positive integer.

    Example:

    >>> check_sizes((None, None, 3), num_classes=21, fc_units=0)
    Traceback (most recent call last):
    ...
    ValueError: fc_units must be positive, received 0.
    """
    for name, size in sizes.items():
        if int(size) != size or size < 1:
            raise ValueError(f"{name} must be positive, received {size}.")
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (height, width, 3) for RGB, received {input_shape}.")


def check_weights_file(weights: str | None, released: str) -> None:
    """Raises a `ValueError` unless `weights` is `None` or an existing file, for a net whose
    `weights` has no downloadable default; `released` says where the release's own weights load.

    Example:

    >>> check_weights_file("missing.weights.h5", "none was released")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: weights must be None or ... (none was released); no file exists at 'missing...
    """
    if weights is not None and not os.path.exists(weights):
        raise ValueError(
            f"weights must be None or the path of a Keras weights file of this net ({released}); "
            f"no file exists at {weights!r}."
        )


def image_input(
    input_shape: tuple,
    mean: tuple[float, float, float],
    *,
    reverse_channels: bool = True,
    name: str = "image",
    suffix: str = "",
):
    """The model's input and its preprocessing: RGB in [0, 255] → BGR minus `mean`.

    Args:
        input_shape: `(height, width, 3)`, `None` for sizes that vary.
        mean: the mean the weights expect (BGR, or the input's order without
            `reverse_channels`).
        reverse_channels: whether RGB becomes BGR first (not for HHA images).
        name: the input's name.
        suffix: appended to the preprocessing layer's name (a net of several inputs).

    Returns:
        `(images, features)`: the `keras.Input` and the preprocessed tensor.

    Example:

    >>> images, features = image_input((None, None, 3), (0.0, 0.0, 0.0))
    >>> images.name, features.shape
    ('image', (None, None, None, 3))
    """
    images = keras.Input(shape=input_shape, name=name)
    features = VGGPreprocessing(mean, reverse_channels, name="preprocessing" + suffix)(images)
    return images, features
