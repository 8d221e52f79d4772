"""The configuration of the package's layers: their constructor's arguments, read back from the
attributes that keep them."""

import inspect

_ARGUMENT_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class ConstructorConfig:
    """Mixin that gives a Keras layer the `get_config` of its constructor's arguments.

    For a layer that keeps each named argument of its `__init__`, checked and normalised, in an
    attribute of the same name: its config is its base class's (name, dtype, trainable) followed
    by those attributes in the order of the signature, so that `from_config` rebuilds it and an
    argument added to the constructor is never left out of the config. Put the mixin before the
    Keras base class.

    Example:

    >>> class Scale(ConstructorConfig, keras.layers.Layer):
    ...     def __init__(self, factor=2, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.factor = float(factor)
    >>> config = Scale(3, name="scale").get_config()
    >>> config["name"], config["factor"]
    ('scale', 3.0)
    >>> Scale.from_config(config).factor
    3.0
    """

    def get_config(self) -> dict:
        parameters = inspect.signature(type(self).__init__).parameters.values()
        names = [parameter.name for parameter in parameters if parameter.kind in _ARGUMENT_KINDS]
        return {**super().get_config(), **{name: getattr(self, name) for name in names[1:]}}
