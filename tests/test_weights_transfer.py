import keras
import numpy as np

from keras_fcn import registry
from keras_fcn.backbones.vgg16 import CONV_NAMES
from keras_fcn.weights.transfer import transfer_weights

NARROW = 8


def narrow(name, num_classes=3):
    return registry.build(name, num_classes, weights=None, fc_units=NARROW)


def test_staged_transfer_copies_exactly_the_shared_layers():
    keras.utils.set_random_seed(6)
    fcn32s, fcn16s, fcn8s = (narrow(name) for name in ("fcn32s", "fcn16s", "fcn8s"))
    first = transfer_weights(fcn32s, fcn16s)
    assert first.copied == [*CONV_NAMES, "fc6", "fc7", "score_fr"]
    assert first.shape_mismatch == []
    second = transfer_weights(fcn16s, fcn8s)
    assert second.copied == [*CONV_NAMES, "fc6", "fc7", "score_fr", "upscore2", "score_pool4"]
    for name in second.copied:
        for copied, original in zip(
            fcn8s.get_layer(name).weights, fcn16s.get_layer(name).weights, strict=True
        ):
            np.testing.assert_array_equal(copied.numpy(), original.numpy())
    for name in first.copied:
        for copied, original in zip(
            fcn8s.get_layer(name).weights, fcn32s.get_layer(name).weights, strict=True
        ):
            np.testing.assert_array_equal(copied.numpy(), original.numpy())


def test_transfer_reports_layers_whose_shapes_differ():
    source, target = narrow("fcn32s"), narrow("fcn32s", num_classes=5)
    assert transfer_weights(source, target).shape_mismatch == ["score_fr", "upscore"]
