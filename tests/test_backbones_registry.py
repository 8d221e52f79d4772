"""The backbone registry: every backbone returns the five pyramid levels it declares."""

import keras
import numpy as np
import pytest

from keras_fcn.backbones.registry import BACKBONES, LEVELS, get_backbone

pytestmark = pytest.mark.backends


@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_every_level_has_the_declared_channels_and_stride(name):
    backbone = get_backbone(name)
    images = keras.Input((None, None, 3))
    features = backbone(images, output_stride=max(backbone.output_strides))
    assert tuple(features) == LEVELS
    model = keras.Model(images, features)
    outputs = model(np.zeros((1, 64, 96, 3), "float32"))
    for level, index in zip(LEVELS, range(1, 6), strict=True):
        assert tuple(outputs[level].shape) == (
            1,
            64 >> index,
            96 >> index,
            backbone.channels[level],
        )


def test_vgg16_levels_are_its_pooled_blocks():
    images = keras.Input((None, None, 3))
    model = keras.Model(images, BACKBONES["vgg16"](images)["P4"])
    assert model.layers[-1].name == "block4_pool"


def test_resnet_levels_keep_their_keys_at_every_output_stride():
    images = keras.Input((32, 32, 3))
    features = BACKBONES["resnet101"](images, output_stride=8)
    assert [features[level].shape[1] for level in LEVELS] == [16, 8, 4, 4, 4]


def test_unknown_backbones_and_output_strides_are_clear_errors():
    with pytest.raises(ValueError, match=r"Unknown backbone 'resnet34'; the backbones are vgg16"):
        get_backbone("resnet34")
    with pytest.raises(ValueError, match=r"'vgg16' has the output strides \(32,\); .*=8"):
        BACKBONES["vgg16"](keras.Input((None, None, 3)), output_stride=8)
