"""What a `keras-fcn` command loads from its arguments: the model (`--model`, a `.keras` file,
or `--preset`), what it was trained on, the scale of its images and the test-time protocol."""

import argparse
import os

from keras_fcn.cli.errors import UsageError


def load_keras_model(path: str, num_classes: int | None = None):
    """Loads a `.keras` FCN; checks its number of classes against `num_classes` when given."""
    import keras

    import keras_fcn  # noqa: F401  (registers the custom layers)

    if not os.path.isfile(path):
        raise UsageError(f"no model file at {path!r}.")
    model = keras.models.load_model(path)
    model_classes = model.output_shape[-1]
    if num_classes is not None and num_classes != model_classes:
        raise UsageError(
            f"the model {path} scores {model_classes} classes, but --num-classes is {num_classes}."
        )
    return model


def load_preset(args: argparse.Namespace):
    """Builds `--preset` with its trained weights (`keras_fcn.from_preset`), one head of it.

    Returns the model, with one input and one output, and the names of its classes.
    """
    import keras

    from keras_fcn.presets import from_preset, get_preset

    preset = get_preset(args.preset)
    if len(preset.streams) > 1:
        raise UsageError(
            f"--preset {args.preset} takes {len(preset.streams)} images per example "
            f"({', '.join(stream.name for stream in preset.streams)}); this command takes "
            "models of one input. Use a single-stream preset (nyud-fcn32s-color, "
            "nyud-fcn32s-hha), or call keras_fcn.from_preset from Python with a dict of images."
        )
    heads = preset.class_names if isinstance(preset.class_names, dict) else None
    if heads is not None and args.head not in heads:
        raise UsageError(
            f"--preset {args.preset} has the heads {', '.join(heads)}: pass --head "
            f"{' or --head '.join(heads)}."
        )
    if heads is None and args.head is not None:
        raise UsageError(f"--head: the preset {args.preset} has one head.")
    options = {"geometry": args.geometry} if args.geometry else {}
    if args.fc_units is not None:
        options["fc_units"] = args.fc_units
    model = from_preset(args.preset, caffemodel=args.caffemodel, verbose=True, **options)
    if heads is None:
        return model, preset.class_names
    head = model.get_layer(f"score_{args.head}").output
    return keras.Model(model.input, head, name=f"{args.preset}-{args.head}"), heads[args.head]


def check_preset_flags(args: argparse.Namespace) -> None:
    """Raises a `UsageError` for a flag of `--preset` given with `--model`."""
    if args.preset is not None:
        return
    for flag, value in (
        ("--caffemodel", args.caffemodel),
        ("--head", args.head),
        ("--fc-units", args.fc_units),
        ("--geometry", args.geometry),
    ):
        if value is not None:
            raise UsageError(f"{flag} applies to --preset only.")


def load_model(args: argparse.Namespace, num_classes: int | None = None):
    """`--model` (a `.keras` file) or `--preset`; returns the model and its class names (or
    `None` for a model file)."""
    check_preset_flags(args)
    if args.preset is None:
        return load_keras_model(args.model, num_classes), None
    model, class_names = load_preset(args)
    if num_classes is not None and num_classes != len(class_names):
        raise UsageError(
            f"the preset {args.preset} scores {len(class_names)} classes, but --num-classes is "
            f"{num_classes}."
        )
    return model, class_names


PROTOCOL_FLAGS = ("scales", "flip", "window", "stride", "merge")
"""The flags that change single settings of `--protocol` (`keras_fcn.inference.Protocol`)."""


def protocol_of(args: argparse.Namespace):
    """The test-time protocol of the command line: `--protocol` (single-scale by default) with
    the settings of `--scales`, `--flip`, `--window`, `--stride`, `--merge` and `--crf`; `None`
    when no flag asks for more than one pass at the image's size."""
    import dataclasses

    from keras_fcn.inference import get_protocol

    changes = {
        name: tuple(value) if isinstance(value, list) else value
        for name in PROTOCOL_FLAGS
        if (value := getattr(args, name)) is not None
    }
    if args.crf or args.crf_settings:
        changes["crf"] = args.crf_settings or "deeplab-v2-voc"
    if args.protocol is None and not changes:
        return None
    protocol = get_protocol(args.protocol or "single-scale")
    if not changes:
        return protocol
    flags = ", ".join(f"--{name}" for name in changes)
    name = "custom" if args.protocol is None else f"{args.protocol} with {flags}"
    try:
        return dataclasses.replace(protocol, name=name, **changes)
    except ValueError as error:
        raise UsageError(str(error)) from error


def describe_protocol(protocol) -> str:
    """The line `evaluate` and `predict` print first: the protocol that scores the images."""
    from keras_fcn.inference import PROTOCOLS

    return f"Protocol: {(protocol or PROTOCOLS['single-scale']).describe()}"


def model_info_of(args: argparse.Namespace):
    """What `--preset` or the model at `--model` (a `.keras` file or an export) was trained on
    (`keras_fcn.model_info.ModelInfo`), or `None` for a model saved without it."""
    from keras_fcn.model_info import ModelInfo, preset_model_info, read_model_info

    if args.preset is not None:
        from keras_fcn.presets import get_preset

        return preset_model_info(get_preset(args.preset), args.head)
    if os.path.isfile(args.model) and args.model.endswith(".keras"):
        return read_model_info(args.model)
    from keras_fcn.export import read_export_info

    fields = read_export_info(args.model)[1].model_info
    return None if fields is None else ModelInfo.from_dict(fields)


def scale_of(args: argparse.Namespace, info) -> tuple[float | None, str | None]:
    """The factor images are resized by before the model sees them, and where it comes from:
    `--scale`, else the scale the model was trained at; `(None, None)` for neither."""
    if args.scale is not None:
        return args.scale, "--scale"
    if info is not None and info.scale is not None:
        return info.scale, "the model"
    return None, None
