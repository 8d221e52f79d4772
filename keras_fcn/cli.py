"""The `keras-fcn` command line: one entry point from data to a served model.

Run `keras-fcn --help` (or `python -m keras_fcn --help`) for the subcommands.
"""

import argparse
import sys

MODEL_NAMES = ("fcn32s", "fcn16s", "fcn8s", "fcn8s-atonce")
"""Model names as the CLI spells them."""


class UsageError(Exception):
    """A mistake in the command line or its inputs, reported as one line on stderr."""


def _variant(model_name: str) -> str:
    return model_name.replace("-", "_")


def summary(args: argparse.Namespace) -> None:
    """Builds each requested FCN and prints its layer table and parameter counts."""
    from keras_fcn.models import build_fcn

    for model_name in args.model:
        model = build_fcn(
            _variant(model_name),
            num_classes=args.num_classes,
            weights=None,
            fc_units=args.fc_units,
            padding=args.padding,
        )
        model.summary(line_length=110)


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="keras-fcn", description="Fully Convolutional Networks for semantic segmentation."
    )
    subcommands = parser.add_subparsers(dest="command", required=True)

    summary_parser = subcommands.add_parser(
        "summary", help="Print the layer table and parameter counts of FCN variants."
    )
    summary_parser.add_argument(
        "--model",
        nargs="+",
        choices=MODEL_NAMES,
        default=list(MODEL_NAMES),
        help="Variants to build (default: all four).",
    )
    summary_parser.add_argument(
        "--num-classes", type=int, default=21, help="Classes scored (default: 21, PASCAL VOC)."
    )
    summary_parser.add_argument(
        "--fc-units", type=int, default=4096, help="Width of fc6/fc7 (default: the paper's 4096)."
    )
    summary_parser.add_argument(
        "--padding",
        choices=("original", "aligned"),
        default="original",
        help="Geometry: the Caffe pad 100, or padding to a multiple of 32 (default: original).",
    )
    summary_parser.set_defaults(handler=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except UsageError as error:
        print(f"keras-fcn {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
