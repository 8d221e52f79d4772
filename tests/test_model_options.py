"""The options of the model builders: each family's options are declared ones, and a command
line's values parse as their declarations say."""

import inspect

import pytest

from keras_fcn import model_options, registry


def test_every_familys_options_are_declared():
    families = {
        name: value
        for name, value in vars(model_options).items()
        if name.endswith("_OPTIONS") and name != "OPTIONS"
    }
    assert "FCN_OPTIONS" in families and "PSPNET_OPTIONS" in families
    for name, options in families.items():
        assert set(options) <= set(model_options.OPTIONS), name


def test_every_entrys_options_are_keywords_of_its_builder():
    for entry in registry.MODELS.values():
        parameters = inspect.signature(entry.builder).parameters
        assert set(entry.options) <= set(parameters), entry.name


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("input_shape", "(None, None, 3)", (None, None, 3)),
        ("multi_grid", "1,2,4", (1, 2, 4)),
        ("aux", "TRUE", True),
        ("aux", "false", False),
        ("input_size", "none", None),
        ("input_size", "473", 473),
        ("weights", "None", None),
        ("weights", "imagenet", "imagenet"),
    ],
)
def test_a_command_lines_value_parses_as_declared(name, text, expected):
    assert model_options.OPTIONS[name].parse(text) == expected


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("aux", "yes", r"expected true or false, received 'yes'"),
        ("input_shape", "(64, 64", r"'\(64, 64' is not a Python literal"),
        ("output_stride", "sixteen", r"invalid literal for int"),
    ],
)
def test_a_bad_value_is_a_clear_error(name, text, message):
    with pytest.raises(ValueError, match=message):
        model_options.OPTIONS[name].parse(text)
