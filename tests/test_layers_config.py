import pytest

from keras_fcn.backbones.preprocessing import VGGPreprocessing
from keras_fcn.layers import (
    AdaptiveAveragePooling,
    CaffeInterp,
    CaffeMaxPooling2D,
    CropToReference,
    ImresizeToReference,
    LocalResponseNormalization,
    PadToMultiple,
    ReflectPadding2D,
    ZoomToReference,
)

# Each layer built with arguments other than its defaults, and the config entries saved .keras
# files hold for it (after the base layer's name, trainable and dtype), values normalised.
CASES = [
    (PadToMultiple(16), {"multiple": 16}),
    (CropToReference(3), {"offset": 3}),
    (ReflectPadding2D(2, 4, 1), {"padding": 2, "multiple": 4, "extend": 1}),
    (CaffeMaxPooling2D(3, 2, 1), {"pool_size": 3, "strides": 2, "padding": 1}),
    (AdaptiveAveragePooling([2, 3]), {"output_size": (2, 3)}),
    (ZoomToReference(4), {"factor": 4}),
    (CaffeInterp(2, 3), {"shrink_factor": 2, "zoom_factor": 3}),
    (
        ImresizeToReference(1, "symmetric", 0, "bilinear"),
        {"common_scale": True, "border": "symmetric", "antialias": False, "method": "bilinear"},
    ),
    (
        LocalResponseNormalization(3, 2, 1, 2),
        {"local_size": 3, "alpha": 2.0, "beta": 1.0, "k": 2.0},
    ),
    (VGGPreprocessing([1, 2, 3], False), {"mean": (1.0, 2.0, 3.0), "reverse_channels": False}),
]


@pytest.mark.parametrize("layer, expected", CASES, ids=[type(layer).__name__ for layer, _ in CASES])
def test_config_holds_the_normalised_constructor_arguments_in_order(layer, expected):
    config = layer.get_config()
    assert list(config)[:3] == ["name", "trainable", "dtype"]
    assert list(config)[3:] == list(expected)
    for key, value in expected.items():
        assert config[key] == value and type(config[key]) is type(value)
    assert type(layer).from_config(config).get_config() == config
