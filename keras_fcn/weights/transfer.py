"""Weight transfer between models of the family: the paper's staged training.

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation",
CVPR 2015, section 4.2.
"""

import dataclasses

import keras


@dataclasses.dataclass
class WeightTransfer:
    """What `transfer_weights` copied, by layer name."""

    copied: list[str]
    """Layers whose weights were copied."""
    shape_mismatch: list[str]
    """Layers present in both models whose weights differ in shape, left as they were."""


def transfer_weights(source: keras.Model, target: keras.Model) -> WeightTransfer:
    """Copies the weights of every layer that `source` and `target` share by name and shape.

    This is the paper's staged training: FCN-16s starts from a trained FCN-32s, FCN-8s from a
    trained FCN-16s. The backbone, fc6, fc7, `score_fr` and any shared skip layers carry over;
    new layers keep their initialisation (zero scores, bilinear upsamplers).

    Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.2.

    Args:
        source: the trained model.
        target: the model to initialise; modified in place.

    Returns:
        A `WeightTransfer` listing the copied layers and the same-named layers that differ in
        shape (for instance after a change of `num_classes`).

    Example:

    >>> fcn32s = keras_fcn.FCN32s(num_classes=2, weights=None, fc_units=64)
    >>> fcn16s = keras_fcn.FCN16s(num_classes=2, weights=None, fc_units=64)
    >>> transfer_weights(fcn32s, fcn16s).copied[-1]
    'score_fr'
    """
    source_layers = {layer.name: layer for layer in source.layers if layer.weights}
    transfer = WeightTransfer(copied=[], shape_mismatch=[])
    for layer in target.layers:
        if not layer.weights or layer.name not in source_layers:
            continue
        weights = source_layers[layer.name].get_weights()
        if [w.shape for w in weights] == [tuple(v.shape) for v in layer.weights]:
            layer.set_weights(weights)
            transfer.copied.append(layer.name)
        else:
            transfer.shape_mismatch.append(layer.name)
    return transfer
