"""The flags that several `keras-fcn` subcommands share, added to a parser by group: the model
or preset, its architecture options, precision, output, scale, test-time protocol and
deployment. Imports no Keras (see `keras_fcn.cli.arguments`)."""

import argparse


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default="fcn8s",
        help="Model by name; keras-fcn models lists them (default: fcn8s).",
    )
    add_architecture_arguments(parser)


def add_architecture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fc-units",
        type=int,
        help="Width of fc6/fc7; narrower for quick CPU runs (default: the model's own, its "
        "paper's width).",
    )
    parser.add_argument(
        "--geometry",
        help="FCN's geometry: 'original' (the Caffe pad 100) or 'aligned' (padding to a "
        "multiple of 32) (default: the model's own, 'original'; DeepLab and Dilation have "
        "'original' only).",
    )
    parser.add_argument(
        "--backbone",
        help="The backbone, for a model that takes one, e.g. resnet101 "
        "(keras_fcn.backbones.BACKBONES) (default: the model's own).",
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
        help="Any other build option the model declares (keras_fcn.model_options.OPTIONS), e.g. "
        "dropout=0.1, context=large, input_shape=(512,512,3); repeatable (default: none).",
    )


def add_precision_argument(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--precision",
        default=default,
        help="Compute in bfloat16 (about twice as fast on CPUs with AVX512_BF16 or AMX; logits "
        "stay float32) or float32"
        + (
            " (default: float32)."
            if default
            else " (default: float32 for a .keras file, an export's own precision otherwise)."
        ),
    )


def add_output_argument(
    parser: argparse.ArgumentParser, default: str, what: str = "Run directory"
) -> None:
    parser.add_argument("--output", default=default, help=f"{what} (default: {default}).")


def positive_scale(value: str) -> float:
    scale = float(value)
    if not scale > 0:
        raise argparse.ArgumentTypeError(f"must be a positive factor, received {value}.")
    return scale


def add_scale_argument(parser: argparse.ArgumentParser, images: str) -> None:
    parser.add_argument(
        "--scale",
        type=positive_scale,
        help=f"Resize {images} by this factor before the model sees them, e.g. 0.25 for a "
        "model trained on CamVid at scale=0.25 (default: the scale the model was trained at, "
        "which keras-fcn train records in its .keras file; else none).",
    )


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """The test-time protocol's flags (`keras_fcn.inference.Protocol`) and the dense CRF's."""
    from keras_fcn.inference import CRF_SETTINGS, MERGES, PROTOCOLS  # data, without Keras

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


def add_deployment_arguments(parser: argparse.ArgumentParser) -> None:
    """The export verb's format, precision, calibration and accuracy guard flags."""
    parser.add_argument(
        "--format",
        default="saved_model",
        help="saved_model (TF Serving), onnx (ONNX Runtime, Triton), openvino (OpenVINO, "
        "OpenVINO Model Server) or litert (phones, edge) (default: saved_model).",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        help="float32, bfloat16 or int8, as the format takes them "
        "(keras_fcn.export.FORMAT_PRECISIONS) (default: float32).",
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
        help="Largest mean IU loss accepted, as a fraction (default: "
        "keras_fcn.export.MAX_MIOU_DROP, 0.003).",
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


def add_preset_arguments(parser: argparse.ArgumentParser, heads: bool = True) -> None:
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


def add_model_or_preset_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help=model_help)
    source.add_argument(
        "--preset",
        help="A trained net of the original releases by name; keras-fcn presets lists them "
        "(keras_fcn.PRESETS). Downloaded and converted once.",
    )
    add_preset_arguments(parser)
