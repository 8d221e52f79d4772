"""The `keras-fcn` command line: one entry point from data to a served model.

Subcommands: `demo` (offline, CPU: train on synthetic shapes, evaluate, export, serve once),
`train`, `evaluate`, `predict`, `export`, `convert`, `check-data` and `summary`. Run
`keras-fcn SUBCOMMAND --help` for each one's flags. `evaluate`, `predict` and `export` take a
model file (`--model`) or a trained net of the original release (`--preset`, see
`keras_fcn.PRESETS`); `convert` writes a preset as a `.keras` file. Every subcommand goes
through the library's own functions (`keras_fcn.data`, `keras_fcn.training`,
`keras_fcn.evaluate`, `keras_fcn.export`, `keras_fcn.from_preset`).
"""

import argparse
import json
import os
import sys


class UsageError(Exception):
    """A mistake in the command line or its inputs, reported as one line on stderr."""


def _weights(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _at_least_two(value: str) -> int:
    number = int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(
            f"needs at least 2 passes (one pass has no variance), received {value}."
        )
    return number


def _load_keras_model(path: str, num_classes: int | None = None):
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


def _load_preset(args: argparse.Namespace):
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
    model = from_preset(args.preset, caffemodel=args.caffemodel, **options)
    if heads is None:
        return model, preset.class_names
    head = model.get_layer(f"score_{args.head}").output
    return keras.Model(model.input, head, name=f"{args.preset}-{args.head}"), heads[args.head]


def _check_preset_flags(args: argparse.Namespace) -> None:
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


def _load_model(args: argparse.Namespace, num_classes: int | None = None):
    """`--model` (a `.keras` file) or `--preset`; returns the model and its class names (or
    `None` for a model file)."""
    _check_preset_flags(args)
    if args.preset is None:
        return _load_keras_model(args.model, num_classes), None
    model, class_names = _load_preset(args)
    if num_classes is not None and num_classes != len(class_names):
        raise UsageError(
            f"the preset {args.preset} scores {len(class_names)} classes, but --num-classes is "
            f"{num_classes}."
        )
    return model, class_names


def summary(args: argparse.Namespace) -> None:
    """Builds each requested model and prints its layer table and parameter counts."""
    from keras_fcn import registry

    for model_name in args.model:
        model = registry.build(
            model_name, args.num_classes, weights=None, **_model_options(args, model_name)
        )
        model.summary(line_length=100)


def _model_options(args: argparse.Namespace, model_name: str) -> dict:
    """The builder options given on the command line (`--geometry`, `--fc-units`, `--backbone`,
    `--output-stride`, `--option NAME=VALUE`); `keras_fcn.registry.build` checks them against the
    model's declared options."""
    from keras_fcn import registry

    options = {"geometry": args.geometry}
    if args.fc_units is not None:
        if "fc_units" not in registry.get(model_name).options:
            raise UsageError(f"--fc-units: the model {model_name} has no fc6/fc7.")
        options["fc_units"] = args.fc_units
    for name in ("backbone", "output_stride"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    options.update(registry.parse_options(model_name, args.option or []))
    return options


def training_run(args: argparse.Namespace):
    """The `TrainingRun` and `Recipe` of a parsed `train` command line: `--recipe`, then
    `--recipe-option`, then the flags that override single fields (`--learning-rate`, ...)."""
    import functools

    from keras_fcn import registry, training

    options = _model_options(args, args.model)
    if args.weights is not None:  # else the builder's default
        options["weights"] = _weights(args.weights)
    base = (
        registry.get(args.model).paper_recipe
        if args.recipe == "paper"
        else training.default_recipe()
    )
    recipe = training.resolve_recipe(
        base,
        args.recipe_option or [],
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        crop_size=args.crop_size,
        class_weights=args.class_weights,
    )
    run = training.TrainingRun(
        functools.partial(registry.build, args.model, args.num_classes, **options),
        num_classes=args.num_classes,
        output_dir=args.output,
        epochs=args.epochs,
        init_from=args.init_from,
        jit_compile=args.jit_compile,
        arguments={key: value for key, value in vars(args).items() if key != "handler"},
    )
    return run, recipe


def train(args: argparse.Namespace) -> None:
    """Trains a model of the registry on a dataset spec; resumable by re-running the command."""
    from keras_fcn import data, training

    run, recipe = training_run(args)
    training.set_precision(args.precision)
    strategy = training.make_strategy(args.strategy)

    train_source = data.from_spec(
        args.dataset, split="train", num_classes=args.num_classes, shuffle=True, seed=args.seed
    )
    class_weights = data.class_weights(train_source, args.num_classes, recipe.class_weights)
    if class_weights is not None:
        print(
            f"Class weights ({recipe.class_weights}): "
            + ", ".join(f"{weight:.4g}" for weight in class_weights)
        )
    train_data = data.training_pipeline(
        train_source,
        crop_size=recipe.crop_size,
        batch_size=recipe.batch_size,
        augment=recipe.augment,
        scale_range=recipe.scale_range,
        seed=args.seed,
        class_weights=class_weights,
    )
    val_data = None
    if args.val_dataset:
        val_data = data.evaluation_pipeline(
            data.from_spec(args.val_dataset, split="val", num_classes=args.num_classes)
        )
    training.train_model(
        run,
        recipe,
        train_data,
        val_data,
        steps_per_epoch=int(train_data.cardinality()),
        class_weights=class_weights,
        scope=strategy.scope(),
    )


def evaluate(args: argparse.Namespace) -> None:
    """Prints the four scores and the per-class table of a model on a dataset."""
    from keras_fcn import data
    from keras_fcn.evaluation import evaluate as evaluate_model

    model, class_names = _load_model(args, args.num_classes)
    num_classes = model.output_shape[-1]
    if args.precision != "float32":
        from keras_fcn.export import in_process_model

        model = in_process_model(model, args.precision)
    dataset = data.evaluation_pipeline(
        data.from_spec(args.dataset, split=args.split, num_classes=num_classes)
    )
    if class_names is None:  # a model file: the dataset's names, where they fit
        class_names = data.parse_spec(args.dataset).class_names
        if class_names is not None and len(class_names) != num_classes:
            class_names = None
    report = evaluate_model(model, dataset, num_classes, class_names)
    print(report)
    if args.json:
        report.to_json(args.json)
        print(f"Wrote {args.json}.")


def predict(args: argparse.Namespace) -> None:
    """Writes a palette PNG mask and an overlay figure for each image, and with `--samples` the
    Monte Carlo dropout uncertainty map of a Bayesian model."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from keras_fcn.classes import PALETTES
    from keras_fcn.export import load_predictor, make_predictor
    from keras_fcn.uncertainty import predict_with_uncertainty
    from keras_fcn.visualization import (
        save_palette_png,
        save_prediction_figure,
        save_uncertainty_png,
    )

    _check_preset_flags(args)
    if args.preset is not None:
        if args.samples:
            raise UsageError(
                "--samples needs a Bayesian model's .keras file (--model); the presets have no "
                "Monte Carlo dropout."
            )
        predictor = make_predictor(_load_preset(args)[0], args.precision or "float32")
    elif not os.path.exists(args.model):
        raise UsageError(f"no model at {args.model!r}.")
    elif args.samples:
        if not os.path.isfile(args.model):
            raise UsageError(
                "--samples needs the .keras model: an exported SavedModel runs the net without "
                "Monte Carlo dropout."
            )
        model = _load_keras_model(args.model)
        if args.precision not in (None, "float32"):
            from keras_fcn.export import in_process_model

            model = in_process_model(model, args.precision)
    else:
        predictor = load_predictor(args.model, precision=args.precision)
    palette = PALETTES[args.palette]()
    os.makedirs(args.output, exist_ok=True)
    for path in args.images:
        try:
            image = np.asarray(Image.open(path).convert("RGB"))
        except (FileNotFoundError, UnidentifiedImageError, OSError) as error:
            raise UsageError(f"cannot read the image {path}: {error}") from error
        stem = os.path.splitext(os.path.basename(path))[0]
        outputs = os.path.join(args.output, stem)
        written = ["_mask.png", "_overlay.png"]
        if args.samples:
            probabilities, uncertainty = predict_with_uncertainty(
                model, image[None], samples=args.samples, uncertainty=args.uncertainty
            )
            class_ids = probabilities[0].argmax(axis=-1)
            maximum = save_uncertainty_png(uncertainty[0], f"{outputs}_uncertainty.png")
            written.append(f"_uncertainty.png (white = {args.uncertainty} {maximum:.3g})")
        else:
            class_ids = np.asarray(predictor(image[None]))[0]
        save_palette_png(class_ids, f"{outputs}_mask.png", palette)
        save_prediction_figure(
            f"{outputs}_overlay.png",
            image,
            class_ids,
            palette=None if args.palette == "voc" else palette,
        )
        print(f"{path}: {outputs}{', '.join(written)}")


def export(args: argparse.Namespace) -> None:
    """Exports a `.keras` model or a preset in a format and precision, guarded on held-out data."""
    from keras_fcn import data
    from keras_fcn.export import AccuracyGuard, calibration_images, export_model

    model = _load_model(args)[0]
    num_classes = model.output_shape[-1]
    calibration = None
    if args.calibration_dataset:
        calibration = calibration_images(
            data.from_spec(
                args.calibration_dataset, split=args.calibration_split, num_classes=num_classes
            ),
            args.calibration_size,
        )
    elif args.precision == "int8":
        raise UsageError("--precision int8 needs --calibration-dataset (images of your data).")
    guard = None
    if args.guard_dataset:
        dataset = data.from_spec(
            args.guard_dataset, split=args.guard_split, num_classes=num_classes
        )
        if args.guard_size:
            dataset = dataset.take(args.guard_size)
        guard = AccuracyGuard(
            dataset,
            max_miou_drop=args.max_miou_drop,
            min_pixel_agreement=args.min_pixel_agreement,
            on_failure="warn" if args.on_guard_failure == "warn" else "raise",
        )
    elif args.precision != "float32":
        print(
            f"keras-fcn export: warning: no accuracy guard ran for this {args.precision} export; "
            "pass --guard-dataset SPEC to compare it with the float32 model on held-out data.",
            file=sys.stderr,
        )
    path = export_model(
        model,
        args.export_dir,
        args.format,
        args.precision,
        version=args.version,
        input_size=tuple(args.input_size) if args.input_size else None,
        calibration=calibration,
        int8_min_agreement=args.int8_min_agreement,
        guard=guard,
    )
    print(f"Exported {args.model or model.name} to {path} ({args.format}, {args.precision}).")
    with open(os.path.join(path, "keras_fcn.json")) as file:
        report = json.load(file).get("guard")
    if report is not None:
        print(
            f"Accuracy guard {'passed' if report['passed'] else 'FAILED'}: pixel agreement "
            f"{100 * report['pixel_agreement']:.3f}%, mean IU "
            f"{100 * report['reference_mean_iou']:.2f} → {100 * report['candidate_mean_iou']:.2f}."
        )


def convert(args: argparse.Namespace) -> None:
    """Writes a trained net of the original release as a `.keras` file."""
    from keras_fcn.presets import from_preset

    options = {"geometry": args.geometry} if args.geometry else {}
    if args.fc_units is not None:
        options["fc_units"] = args.fc_units
    model = from_preset(args.preset, caffemodel=args.caffemodel, **options)
    output = args.output or f"{args.preset}.keras"
    model.save(output)
    print(f"Converted {args.preset} to {output}.")


def check_data(args: argparse.Namespace) -> int:
    """Lists every problem of a dataset, then, if it has none, the pixels of each class; the
    exit status is 1 when there is any problem."""
    from keras_fcn import data

    problems = data.check_dataset(args.spec, num_classes=args.num_classes, split=args.split)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) found in {args.spec} ({args.split}).")
    if problems:
        return 1
    spec = data.parse_spec(args.spec)
    counts = data.count_class_pixels(
        data.from_spec(spec, split=args.split, num_classes=args.num_classes), args.num_classes
    )
    names = spec.class_names
    if names is None or len(names) != args.num_classes:
        names = tuple(f"class_{i}" for i in range(args.num_classes))
    total = counts.pixels.sum() + counts.void_pixels
    weights = counts.median_frequency_weights()
    print(f"\nPixels per class ({counts.images} images, {total:,} pixels):")
    print(f"{'class':>5}  {'name':<20} {'pixels':>14} {'share':>7} {'median-freq. weight':>20}")
    for index, (name, pixels) in enumerate(zip(names, counts.pixels, strict=True)):
        print(
            f"{index:>5}  {name:<20} {pixels:>14,} {100 * pixels / total:>6.2f}% "
            f"{weights[index]:>20.4f}"
        )
    print(
        f"{'void':>5}  {'(255)':<20} {counts.void_pixels:>14,} "
        f"{100 * counts.void_pixels / total:>6.2f}%"
    )
    return 0


def demo(args: argparse.Namespace) -> None:
    """Trains FCN-8s on synthetic shapes offline, evaluates, exports and serves it once."""
    from keras_fcn.demo import run_demo

    run_demo(
        output_dir=args.output,
        export_dir=args.export_dir,
        epochs=args.epochs,
        train_examples=args.train_examples,
        image_size=args.image_size,
        seed=args.seed,
    )


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    from keras_fcn import registry

    parser.add_argument(
        "--model", choices=list(registry.MODELS), default="fcn8s", help="Model (default: fcn8s)."
    )
    _add_architecture_arguments(parser)


def _add_architecture_arguments(parser: argparse.ArgumentParser) -> None:
    from keras_fcn import registry
    from keras_fcn.backbones import BACKBONES

    geometries = sorted({g for entry in registry.MODELS.values() for g in entry.geometries})
    parser.add_argument(
        "--fc-units",
        type=int,
        help="Width of fc6/fc7; narrower for quick CPU runs (default: the model's, 4096 for FCN "
        "and Dilation, 1024 for DeepLab).",
    )
    parser.add_argument(
        "--geometry",
        choices=geometries,
        help="FCN's geometry: 'original' (the Caffe pad 100) or 'aligned' (padding to a "
        "multiple of 32) (default: the model's own, 'original'; DeepLab and Dilation have "
        "'original' only).",
    )
    parser.add_argument(
        "--backbone",
        choices=list(BACKBONES),
        help="The backbone, for a model that takes one (default: the model's own).",
    )
    parser.add_argument(
        "--output-stride",
        type=int,
        help="The backbone's output stride (8, 16 or 32), for a model that takes one "
        "(default: the model's own).",
    )
    parser.add_argument(
        "--option",
        action="append",
        metavar="NAME=VALUE",
        help="Any other build option the model declares (keras_fcn.registry.OPTIONS), e.g. "
        "dropout=0.1, context=large, input_shape=(512,512,3); repeatable (default: none).",
    )


def _add_precision_argument(parser: argparse.ArgumentParser, default: str | None) -> None:
    from keras_fcn.export import IN_PROCESS_PRECISIONS

    parser.add_argument(
        "--precision",
        choices=IN_PROCESS_PRECISIONS,
        default=default,
        help="Compute in bfloat16 (about twice as fast on CPUs with AVX512_BF16 or AMX; logits "
        "stay float32) or float32"
        + (
            " (default: float32)."
            if default
            else " (default: float32 for a .keras file, an export's own precision otherwise)."
        ),
    )


def _add_deployment_arguments(parser: argparse.ArgumentParser) -> None:
    """The export verb's format, precision, calibration and accuracy guard flags."""
    from keras_fcn.export import FORMAT_PRECISIONS, FORMATS, MAX_MIOU_DROP, PRECISIONS

    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="saved_model",
        help="saved_model (TF Serving), onnx (ONNX Runtime, Triton), openvino (OpenVINO, "
        "OpenVINO Model Server) or litert (phones, edge) (default: saved_model).",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="float32, bfloat16 or int8; "
        + "; ".join(f"{name}: {', '.join(kinds)}" for name, kinds in FORMAT_PRECISIONS.items())
        + " (default: float32).",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        nargs=2,
        metavar=("HEIGHT", "WIDTH"),
        help="The one input size of a litert export (required there; other formats take any).",
    )
    parser.add_argument(
        "--calibration-dataset",
        help="Dataset spec whose images calibrate int8 (required for int8), e.g. training data.",
    )
    parser.add_argument("--calibration-split", default="train", help="Its split (default: train).")
    parser.add_argument(
        "--calibration-size",
        type=int,
        default=100,
        help="Calibration images, the first of the split (default: 100).",
    )
    parser.add_argument(
        "--int8-min-agreement",
        type=float,
        metavar="FRACTION",
        help="openvino int8: NNCF's accuracy-controlled quantization, which puts layers back in "
        "float until the class ids agree with float32's on this fraction of the calibration "
        "images' pixels, e.g. 0.995 (default: every convolution in int8).",
    )
    parser.add_argument(
        "--guard-dataset",
        help="Held-out labelled dataset spec: the export is compared with the float32 model on "
        "it (pixel agreement, mean IU) before it is published.",
    )
    parser.add_argument("--guard-split", default="val", help="Its split (default: val).")
    parser.add_argument(
        "--guard-size", type=int, help="Compare on the first N images only (default: all)."
    )
    parser.add_argument(
        "--max-miou-drop",
        type=float,
        default=MAX_MIOU_DROP,
        help=f"Largest mean IU loss accepted, as a fraction (default: {MAX_MIOU_DROP}, "
        f"{100 * MAX_MIOU_DROP:g} points).",
    )
    parser.add_argument(
        "--min-pixel-agreement",
        type=float,
        help="Smallest fraction of pixels whose class must agree with float32's (default: "
        "0.995 for bfloat16, 0.99 for int8, 0.999 for float32).",
    )
    parser.add_argument(
        "--on-guard-failure",
        choices=("refuse", "warn"),
        default="refuse",
        help="refuse: write nothing and exit with an error; warn: write it and warn "
        "(default: refuse).",
    )


def _add_preset_arguments(parser: argparse.ArgumentParser, heads: bool = True) -> None:
    """`--preset`'s flags: the file to read, the head, the architecture options."""
    parser.add_argument(
        "--caffemodel",
        help="With --preset: the net's .caffemodel file, read instead of downloading it "
        "(default: download from the release once, into ~/.keras/models).",
    )
    if heads:
        parser.add_argument(
            "--head",
            help="With a preset of two heads (siftflow-fcn*): 'sem' (33 semantic classes) or "
            "'geo' (3 geometric classes) (default: none; required for those presets).",
        )
    parser.add_argument(
        "--fc-units",
        type=int,
        help="With --preset: fc6/fc7 width of a .caffemodel narrower than the release's "
        "(default: the release's 4096).",
    )
    parser.add_argument(
        "--geometry",
        choices=("original", "aligned"),
        help="With --preset: 'original' (the Caffe nets exactly) or 'aligned' (same weights, "
        "padding to a multiple of 32) (default: original).",
    )


def _add_model_or_preset_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    from keras_fcn.presets import PRESETS

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help=model_help)
    source.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="A trained net of the original FCN release (keras_fcn.PRESETS), downloaded and "
        "converted once.",
    )
    _add_preset_arguments(parser)


def _add_train_command(commands) -> None:
    """Adds `train` to the subcommands of a parser (its options need no TensorFlow)."""
    from keras_fcn import training
    from keras_fcn.classes import CLASS_WEIGHTINGS

    train_parser = commands.add_parser("train", help="Train a model (resumable).")
    train_parser.add_argument("--dataset", required=True, help="Training dataset spec.")
    train_parser.add_argument("--val-dataset", help="Validation dataset spec (optional).")
    _add_model_arguments(train_parser)
    train_parser.add_argument(
        "--num-classes", type=int, required=True, help="Classes, background included."
    )
    train_parser.add_argument(
        "--weights",
        help="'imagenet', 'none', or a VGG16 classifier weights file (default: the model's: "
        "imagenet for the VGG16 nets, none for SegNet-Basic, which trains from scratch).",
    )
    train_parser.add_argument(
        "--init-from", help="A trained .keras FCN to start from (staged training: 32s→16s→8s)."
    )
    train_parser.add_argument(
        "--recipe",
        choices=("default", "paper"),
        default="default",
        help="'paper': the solver of the model's paper; 'default': Adam 3e-4, warm-up, cosine "
        "decay, whole images without augmentation (default: default).",
    )
    train_parser.add_argument("--epochs", type=int, default=20, help="Epochs (default: 20).")
    train_parser.add_argument("--batch-size", type=int, help="Batch size (default: the recipe's).")
    train_parser.add_argument(
        "--learning-rate", type=float, help="Learning rate (default: the recipe's)."
    )
    train_parser.add_argument(
        "--crop-size",
        type=int,
        help="Side of random training crops (default: the recipe's; whole images for both).",
    )
    train_parser.add_argument(
        "--recipe-option",
        action="append",
        metavar="KEY=VALUE",
        help="Change a field of the recipe (keras_fcn.training.Recipe), e.g. warmup_steps=20, "
        "augment=true, scale_range=0.75,1.25, crop_size=none, schedule=constant; repeatable "
        "(default: none).",
    )
    train_parser.add_argument(
        "--class-weights",
        choices=CLASS_WEIGHTINGS,
        help="Weigh each pixel's loss by its class, computed from the training labels in one "
        "pass: 'median-frequency' (SegNet's), 'inverse-frequency' or 'none' (default: the "
        "recipe's, none).",
    )
    train_parser.add_argument(
        "--output", default="runs/train", help="Run directory (default: runs/train)."
    )
    train_parser.add_argument(
        "--strategy",
        choices=training.STRATEGIES,
        default="auto",
        help="tf.distribute strategy (default: auto).",
    )
    train_parser.add_argument(
        "--precision",
        choices=training.PRECISIONS,
        default="float32",
        help="Keras dtype policy: mixed_bfloat16 for CPUs and TPUs, mixed_float16 for GPUs "
        "(default: float32).",
    )
    train_parser.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        help="Compile the training step (XLA on TensorFlow and JAX, torch.compile on PyTorch) "
        "(default: the backend's: on for JAX, off for TensorFlow and PyTorch).",
    )
    train_parser.add_argument("--seed", type=int, default=0, help="Random seed (default: 0).")
    train_parser.set_defaults(handler=train)


def train_parser() -> argparse.ArgumentParser:
    """The parser of `keras-fcn train` command lines alone.

    Unlike `build_parser`, whose export options come from `keras_fcn.export`, it needs no
    TensorFlow: a `train` command line can be parsed (`training_run`) and trained with
    `keras_fcn.training.train_model` on batches made elsewhere, on any Keras backend.

    Example:

    >>> args = train_parser().parse_args(["train", "--dataset", "x", "--num-classes", "2"])
    >>> args.model, args.epochs, args.jit_compile
    ('fcn8s', 20, None)
    """
    parser = argparse.ArgumentParser(prog="keras-fcn")
    _add_train_command(parser.add_subparsers(dest="command", required=True))
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of every subcommand."""
    from keras_fcn import registry
    from keras_fcn.classes import PALETTES
    from keras_fcn.presets import PRESETS
    from keras_fcn.uncertainty import UNCERTAINTIES

    parser = argparse.ArgumentParser(
        prog="keras-fcn", description="Fully Convolutional Networks for semantic segmentation."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo_parser = commands.add_parser(
        "demo", help="Offline demo: train FCN-8s on synthetic shapes, evaluate, export, serve."
    )
    demo_parser.add_argument(
        "--output", default="runs/demo", help="Run directory (default: runs/demo)."
    )
    demo_parser.add_argument(
        "--export-dir",
        default="saved_models/demo",
        help="SavedModel base directory; version 1 is written (default: saved_models/demo).",
    )
    demo_parser.add_argument("--epochs", type=int, default=10, help="Epochs (default: 10).")
    demo_parser.add_argument(
        "--train-examples",
        type=int,
        default=1024,
        help="Synthetic training images (default: 1024).",
    )
    demo_parser.add_argument(
        "--image-size", type=int, default=64, help="Side of the synthetic images (default: 64)."
    )
    demo_parser.add_argument("--seed", type=int, default=0, help="Random seed (default: 0).")
    demo_parser.set_defaults(handler=demo)

    _add_train_command(commands)

    evaluate_parser = commands.add_parser("evaluate", help="Score a model on a dataset.")
    evaluate_parser.add_argument("--dataset", required=True, help="Dataset spec.")
    _add_model_or_preset_arguments(evaluate_parser, "A .keras FCN.")
    evaluate_parser.add_argument(
        "--split", default="val", help="Split of the dataset (default: val)."
    )
    evaluate_parser.add_argument(
        "--num-classes", type=int, help="Expected classes (default: the model's)."
    )
    evaluate_parser.add_argument("--json", help="Also write the report as JSON to this file.")
    _add_precision_argument(evaluate_parser, default="float32")
    evaluate_parser.set_defaults(handler=evaluate)

    predict_parser = commands.add_parser("predict", help="Segment images.")
    _add_model_or_preset_arguments(
        predict_parser,
        "A .keras FCN or an export (SavedModel, ONNX, OpenVINO or LiteRT; its directory).",
    )
    predict_parser.add_argument("images", nargs="+", help="Image files.")
    predict_parser.add_argument(
        "--output", default="predictions", help="Output directory (default: predictions)."
    )
    predict_parser.add_argument(
        "--samples",
        type=_at_least_two,
        help="Monte Carlo dropout passes of a Bayesian model (.keras, e.g. bayesian-segnet): "
        "the mask is the argmax of their mean softmax, and <stem>_uncertainty.png is written "
        "beside it (default: one deterministic pass, no uncertainty).",
    )
    predict_parser.add_argument(
        "--uncertainty",
        choices=UNCERTAINTIES,
        default="variance",
        help="With --samples: 'variance' of the sampled softmax averaged over the classes, or "
        "'entropy' of the mean softmax (default: variance).",
    )
    predict_parser.add_argument(
        "--palette",
        choices=sorted(PALETTES),
        default="voc",
        help="Colours of the masks and overlays: the dataset the model was trained on "
        "(default: voc).",
    )
    _add_precision_argument(predict_parser, default=None)
    predict_parser.set_defaults(handler=predict)

    export_parser = commands.add_parser(
        "export", help="Export for TF Serving, ONNX Runtime, OpenVINO or LiteRT."
    )
    _add_model_or_preset_arguments(export_parser, "A .keras FCN.")
    export_parser.add_argument(
        "--export-dir", required=True, help="Base directory, e.g. saved_models/NAME."
    )
    export_parser.add_argument("--version", type=int, default=1, help="Version (default: 1).")
    _add_deployment_arguments(export_parser)
    export_parser.set_defaults(handler=export)

    convert_parser = commands.add_parser(
        "convert", help="Write a trained net of the original release as a .keras file."
    )
    convert_parser.add_argument(
        "--preset",
        required=True,
        choices=list(PRESETS),
        help="The net (keras_fcn.PRESETS).",
    )
    _add_preset_arguments(convert_parser, heads=False)
    convert_parser.add_argument(
        "--output", help="The .keras file to write (default: PRESET.keras)."
    )
    convert_parser.set_defaults(handler=convert)

    check_parser = commands.add_parser("check-data", help="List every problem of a dataset.")
    check_parser.add_argument("spec", help="Dataset spec.")
    check_parser.add_argument(
        "--num-classes", type=int, required=True, help="Classes, background included."
    )
    check_parser.add_argument("--split", default="train", help="Split (default: train).")
    check_parser.set_defaults(handler=check_data)

    summary_parser = commands.add_parser(
        "summary", help="Print the layer table and parameter counts of models."
    )
    summary_parser.add_argument(
        "--model",
        nargs="+",
        choices=list(registry.MODELS),
        default=list(registry.MODELS),
        help="Models to build (default: all).",
    )
    summary_parser.add_argument(
        "--num-classes", type=int, default=21, help="Classes scored (default: 21, PASCAL VOC)."
    )
    _add_architecture_arguments(summary_parser)
    summary_parser.set_defaults(handler=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
    except (UsageError, ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"keras-fcn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"keras-fcn {args.command}: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    return status or 0
