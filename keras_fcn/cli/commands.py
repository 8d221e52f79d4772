"""What each `keras-fcn` subcommand does, from its parsed arguments: every one goes through the
library's own functions (`keras_fcn.data`, `keras_fcn.training`, `keras_fcn.evaluate`,
`keras_fcn.export`, `keras_fcn.from_preset`)."""

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator

from keras_fcn.cli.errors import Interrupted, UsageError
from keras_fcn.cli.loading import (
    check_preset_flags,
    describe_protocol,
    load_keras_model,
    load_model,
    load_preset,
    model_info_of,
    protocol_of,
    scale_of,
)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Holds Ctrl-C back until the block is done (the files it writes are then whole).

    Python's handler runs in the main thread whichever thread the signal reaches (TensorFlow's
    threads take it too), so it is the handler, not the thread's signal mask, that waits.
    """
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and previous is not signal.SIG_IGN:
        raise KeyboardInterrupt


def _weights(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _at_least_two(value: str) -> int:
    number = int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(
            f"needs at least 2 passes (one pass has no variance), received {value}."
        )
    return number


def summary(args: argparse.Namespace) -> None:
    """Builds each requested model and prints its layer table and parameter counts."""
    from keras_fcn import registry

    for model_name in args.model or registry.MODELS:
        model = registry.build(
            model_name, args.num_classes, weights=None, **_model_options(args, model_name)
        )
        model.summary(line_length=100)


def models(args: argparse.Namespace) -> None:
    """Lists the models of the registry: name, title, options, paper recipe, reference."""
    from keras_fcn import registry
    from keras_fcn.model_options import OPTIONS

    for entry in registry.MODELS.values():
        settable = [name for name in entry.options if OPTIONS[name].parse is not None]
        print(f"{entry.name:<24} {entry.title}")
        print(f"{'':<24} options: {', '.join(settable)}")
        print(
            f"{'':<24} paper recipe: {entry.paper_recipe.optimizer} at "
            f"{entry.paper_recipe.learning_rate:g}, batch {entry.paper_recipe.batch_size}"
        )
        print(f"{'':<24} {entry.reference}")


def presets(args: argparse.Namespace) -> None:
    """Lists the trained nets of `keras_fcn.PRESETS`: classes, published mean IU, whether their
    files are in Keras' cache (downloaded, converted) and their size there, and what they are."""
    from keras_fcn.downloads import keras_home
    from keras_fcn.presets import PRESETS, cached_files

    print(f"{'preset':<28} {'classes':>8} {'mean IU':>8}  {'cached':<26} net and dataset")
    for preset in PRESETS.values():
        classes = preset.num_classes
        if isinstance(classes, dict):
            classes = "+".join(str(number) for number in classes.values())
        score = "-" if preset.mean_iou is None else f"{preset.mean_iou:g}"
        files = cached_files(preset.name)
        cached = "no (by hand)" if preset.manual_file else "no"
        if files:
            kinds = ["converted" if path.endswith(".weights.h5") else "file" for path in files]
            megabytes = sum(os.path.getsize(path) for path in files) / 1e6
            cached = f"{' + '.join(kinds)}, {megabytes:,.1f} MB"
        print(f"{preset.name:<28} {classes:>8} {score:>8}  {cached:<26} {preset.title}")
    print(
        f"\nmean IU: the published score (%), where there is one; "
        f"keras_fcn.PRESETS[NAME].mean_iou_split says on what. Cache: "
        f"{os.path.join(keras_home(), 'models')}. 'by hand': a file keras-fcn cannot download; "
        "pass it with --caffemodel."
    )


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
    """Trains a model of the registry on a dataset spec; resumable by re-running the command.
    Its `.keras` files carry the dataset's class names, palette and scale
    (`keras_fcn.model_info`)."""
    import dataclasses

    from keras_fcn import data, training
    from keras_fcn.model_info import dataset_model_info

    run, recipe = training_run(args)
    run = dataclasses.replace(
        run, model_info=dataset_model_info(data.parse_spec(args.dataset), args.num_classes)
    )
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
    try:
        training.train_model(
            run,
            recipe,
            train_data,
            val_data,
            steps_per_epoch=int(train_data.cardinality()),
            class_weights=class_weights,
            scope=strategy.scope(),
        )
    except training.TrainingInterrupted as interruption:
        raise Interrupted(
            f"interrupted in epoch {interruption.epoch}; run the same command to resume"
        ) from None


def evaluate(args: argparse.Namespace) -> None:
    """Prints the four scores and the per-class table of a model on a dataset, scored under a
    test-time protocol (one pass at each image's size by default), which it names first.

    The dataset's images and labels are resized to the scale the model was trained at
    (`keras_fcn.model_info`), or `--scale`, as its training data was; a spec's own `scale=`
    says the data is at that scale already."""
    import tensorflow as tf

    from keras_fcn import data
    from keras_fcn.data.camvid import resize_example
    from keras_fcn.evaluation import evaluate as evaluate_model

    protocol = protocol_of(args)
    model, class_names = load_model(args, args.num_classes)
    info = model_info_of(args)
    num_classes = model.output_shape[-1]
    if args.precision != "float32":
        from keras_fcn.export import in_process_model

        model = in_process_model(model, args.precision)
    spec = data.parse_spec(args.dataset)
    scale, origin = scale_of(args, info)
    dataset = data.from_spec(spec, split=args.split, num_classes=num_classes)
    if "scale" in spec.options and scale is not None:
        if args.scale is not None:
            raise UsageError(
                f"--scale and the dataset spec's scale={spec.options['scale']:g} both resize "
                "the images; give one."
            )
        scale, origin = spec.options["scale"], f"the dataset spec; the model's is {scale:g}"
    elif scale is not None and scale != 1:
        dataset = dataset.map(
            lambda image, label: resize_example(image, label, scale),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = data.evaluation_pipeline(dataset)
    if class_names is None and info is not None:
        class_names = info.class_names
    if class_names is None:  # a model file without them: the dataset's names, where they fit
        class_names = spec.class_names
    if class_names is not None and len(class_names) != num_classes:
        class_names = None
    print(describe_protocol(protocol), flush=True)
    if scale is not None:
        print(f"Scale {scale:g} (from {origin})", flush=True)
    report = evaluate_model(model, dataset, num_classes, class_names, protocol=protocol, verbose=1)
    print(report)
    if args.json:
        report.to_json(args.json)
        print(f"Wrote {args.json}.")


def _protocol_predictor(args: argparse.Namespace, protocol):
    """`--model` (a `.keras` file) or `--preset` under a test-time protocol, as a function from
    uint8 images to class ids."""
    from keras_fcn.inference import ProtocolPredictor

    if args.samples:
        raise UsageError(
            "--samples averages Monte Carlo dropout passes at the image's size; it does not "
            "combine with a test-time protocol (--protocol, --scales, --flip, --window, "
            "--stride, --merge, --crf)."
        )
    if args.preset is not None:
        model = load_preset(args)[0]
    elif os.path.isfile(args.model):
        model = load_keras_model(args.model)
    elif os.path.exists(args.model):
        raise UsageError(
            "a test-time protocol runs a .keras model or a --preset; an export runs one pass at "
            "the image's size (drop --protocol, --scales, --flip, --window, --stride, --merge, "
            "--crf)."
        )
    else:
        raise UsageError(f"no model at {args.model!r}.")
    if args.precision not in (None, "float32"):
        from keras_fcn.export import in_process_model

        model = in_process_model(model, args.precision)
    run = ProtocolPredictor(model, protocol)
    return lambda images: run(images).argmax(axis=-1)


def _prediction_source(args: argparse.Namespace, protocol):
    """What `predict` runs: a function from images to class ids, or, with `--samples`, the
    Bayesian `.keras` model whose Monte Carlo dropout passes it samples (the other is `None`)."""
    from keras_fcn.export import load_predictor  # an export's runtime only, not TensorFlow

    if protocol is not None:
        return _protocol_predictor(args, protocol), None
    if args.preset is not None:
        if args.samples:
            raise UsageError(
                "--samples needs a Bayesian model's .keras file (--model); the presets have no "
                "Monte Carlo dropout."
            )
        from keras_fcn.export import make_predictor

        return make_predictor(load_preset(args)[0], args.precision or "float32"), None
    if not os.path.exists(args.model):
        raise UsageError(f"no model at {args.model!r}.")
    if not args.samples:
        return load_predictor(args.model, precision=args.precision), None
    if not os.path.isfile(args.model):
        raise UsageError(
            "--samples needs the .keras model: an exported SavedModel runs the net without "
            "Monte Carlo dropout."
        )
    model = load_keras_model(args.model)
    if args.precision not in (None, "float32"):
        from keras_fcn.export import in_process_model

        model = in_process_model(model, args.precision)
    return None, model


def predict(args: argparse.Namespace) -> int:
    """Writes a palette PNG mask, an overlay PNG and a figure with a legend for each image, and
    with `--samples` the Monte Carlo dropout uncertainty map of a Bayesian model; under a
    test-time protocol (one pass at the image's size by default), which it names first.

    The classes' names and colours, and the scale each image is segmented at (its class map
    resized back to it), are the model's (`keras_fcn.model_info`) unless `--palette` or
    `--scale` says otherwise. Every readable image is segmented; each unreadable one is named,
    and the exit status is then 1."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from keras_fcn.classes import PALETTES
    from keras_fcn.model_info import resize_image, resize_nearest
    from keras_fcn.progress import Progress
    from keras_fcn.visualization import (
        save_overlay_png,
        save_palette_png,
        save_prediction_figure,
        save_uncertainty_png,
    )

    check_preset_flags(args)
    protocol = protocol_of(args)
    predictor, model = _prediction_source(args, protocol)
    info = model_info_of(args)
    scale, origin = scale_of(args, info)
    palette_name = args.palette or (info and info.palette) or "voc"
    palette = PALETTES[palette_name]()
    drawn_palette = None if palette_name == "voc" else palette  # VOC's leaves background clear
    class_names = info and info.class_names
    print(describe_protocol(protocol), flush=True)
    if scale is not None:
        print(
            f"Scale {scale:g} (from {origin}): each image is segmented at {scale:g} of its size "
            "and its class map resized back to it.",
            flush=True,
        )
    os.makedirs(args.output, exist_ok=True)
    progress = Progress(len(args.images), "predict", unit="images")
    unreadable = []
    try:
        for path in args.images:
            try:
                image = np.asarray(Image.open(path).convert("RGB"))
            except (FileNotFoundError, UnidentifiedImageError, OSError) as error:
                unreadable.append(path)
                progress.note(f"{path}: cannot read the image: {error}")
                progress.add()
                continue
            stem = os.path.splitext(os.path.basename(path))[0]
            outputs = os.path.join(args.output, stem)
            written = ["_mask.png", "_overlay.png"]
            seen = image if scale in (None, 1) else resize_image(image, scale)
            uncertainty = None
            if args.samples:
                from keras_fcn.uncertainty import predict_with_uncertainty

                probabilities, uncertainties = predict_with_uncertainty(
                    model, seen[None], samples=args.samples, uncertainty=args.uncertainty
                )
                class_ids = probabilities[0].argmax(axis=-1)
                uncertainty = resize_nearest(uncertainties[0], image.shape[:2])
                with _uninterrupted():
                    maximum = save_uncertainty_png(uncertainty, f"{outputs}_uncertainty.png")
                written.append(f"_uncertainty.png (white = {args.uncertainty} {maximum:.3g})")
            else:
                class_ids = np.asarray(predictor(seen[None]))[0]
            class_ids = resize_nearest(class_ids, image.shape[:2])
            with _uninterrupted():
                save_palette_png(class_ids, f"{outputs}_mask.png", palette)
                save_overlay_png(f"{outputs}_overlay.png", image, class_ids, drawn_palette)
                save_prediction_figure(
                    f"{outputs}_figure.png",
                    image,
                    class_ids,
                    palette=drawn_palette,
                    class_names=class_names,
                    uncertainty=uncertainty,
                )
            written.append("_figure.png")
            progress.note(f"{path}: {outputs}{', '.join(written)}")
            progress.add()
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted at {path}; the files written for the images before it are complete"
        ) from None
    if unreadable:
        print(
            f"{len(args.images) - len(unreadable)} of {len(args.images)} images segmented; "
            f"{len(unreadable)} could not be read: {', '.join(unreadable)}"
        )
    return 1 if unreadable else 0


def export(args: argparse.Namespace) -> None:
    """Exports a `.keras` model or a preset in a format and precision, guarded on held-out data;
    its `keras_fcn.json` records what the model was trained on (`keras_fcn.model_info`)."""
    from keras_fcn import data
    from keras_fcn.export import AccuracyGuard, calibration_images, export_model
    from keras_fcn.export.layout import OUTPUTS

    model = load_model(args)[0]
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
            min_pixel_agreement=args.min_pixel_agreement,
            on_failure="warn" if args.on_guard_failure == "warn" else "raise",
            **({} if args.max_miou_drop is None else {"max_miou_drop": args.max_miou_drop}),
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
        model_info=model_info_of(args),
        outputs=OUTPUTS if args.probabilities else None,
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
    """Writes a trained net of the original release as a `.keras` file, with its class names and
    palette (`keras_fcn.model_info`)."""
    from keras_fcn.model_info import preset_model_info, write_model_info
    from keras_fcn.presets import from_preset, get_preset

    options = {"geometry": args.geometry} if args.geometry else {}
    if args.fc_units is not None:
        options["fc_units"] = args.fc_units
    model = from_preset(args.preset, caffemodel=args.caffemodel, verbose=True, **options)
    output = args.output or f"{args.preset}.keras"
    model.save(output)
    write_model_info(output, preset_model_info(get_preset(args.preset)))
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
