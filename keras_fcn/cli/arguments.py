"""The `keras-fcn` argument parsers: every subcommand's flags, each with a default and a help."""

import argparse

from keras_fcn.cli.commands import (
    _at_least_two,
    check_data,
    convert,
    demo,
    evaluate,
    export,
    models,
    predict,
    summary,
    train,
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
        help="Width of fc6/fc7; narrower for quick CPU runs (default: the model's own, its "
        "paper's width).",
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


def _add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """The test-time protocol's flags (`keras_fcn.inference.Protocol`) and the dense CRF's."""
    from keras_fcn.inference import CRF_SETTINGS, MERGES, PROTOCOLS

    parser.add_argument(
        "--protocol",
        choices=list(PROTOCOLS),
        help="Score as a paper did (keras_fcn.PROTOCOLS: scales, flip, sliding windows, merge); "
        "the flags below change single settings of it (default: single-scale, the model once "
        "at the image's size).",
    )
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        metavar="SCALE",
        help="Factors of the image's size, one pass each, e.g. 0.5 0.75 1 1.25 (default: the "
        "protocol's; 1).",
    )
    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        help="Also run each pass on the image mirrored left to right (default: the protocol's; "
        "no flip).",
    )
    window_sizes = {
        "--window": "Run the model on sliding windows of this size, averaged where they overlap; "
        "smaller images are padded (default: the protocol's; the whole image at once).",
        "--stride": "Step between windows, at most the window (default: the protocol's, or "
        "PSPNet's ceil(2/3 of the window)).",
    }
    for flag, help in window_sizes.items():
        parser.add_argument(flag, type=int, nargs=2, metavar=("HEIGHT", "WIDTH"), help=help)
    parser.add_argument(
        "--merge",
        choices=MERGES,
        help="How passes merge: logits (PSPNet: softmax of the logits summed with the mirror's), "
        "probabilities (DeepLab v3: their mean) or max (DeepLab v2 MSC: max of logits) "
        "(default: the protocol's; probabilities).",
    )
    parser.add_argument(
        "--crf",
        action="store_true",
        help="Refine the probabilities with DeepLab's dense CRF (needs pip install "
        "keras-fcn[crf]) (default: no CRF, or the protocol's).",
    )
    parser.add_argument(
        "--crf-settings",
        choices=list(CRF_SETTINGS),
        help="The CRF's settings by name; implies --crf (default: deeplab-v2-voc, DeepLab v2's "
        "on VOC).",
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
        "--probabilities",
        action="store_true",
        help="onnx, openvino, litert: also output the probabilities (default: class ids only, "
        "faster; a saved_model has both).",
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
        help="With --preset: the net's .caffemodel file, or the release's .zip holding it, read "
        "instead of downloading it (default: download from the release once, into "
        "~/.keras/models).",
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
    _add_protocol_arguments(evaluate_parser)
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
    _add_protocol_arguments(predict_parser)
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

    models_parser = commands.add_parser(
        "models", help="List the models (--model NAME) with their options and papers."
    )
    models_parser.set_defaults(handler=models)
    return parser
