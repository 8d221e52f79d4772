"""The command-line flags the benchmark scripts share, each written once with its `help=`.

A script builds its parser with `script_parser`, adds the shared flags it takes with the
`add_*` functions below (so that `--models`, `--fc-units` or `--repeats` mean the same in every
script), then its own flags; `benchmarks.smoke.shrink` sets the shared ones to their smoke
values. No TensorFlow is imported: `benchmarks.accelerator` uses these too.
"""

import argparse
from collections.abc import Sequence

from benchmarks import models
from benchmarks.machine import CEILING_SIZE
from keras_fcn import registry
from keras_fcn.backbones.vgg16 import FC_UNITS

DEFAULT_MODEL = "fcn8s"
"""The model of the scripts that time one model (`--model`)."""


def script_parser(docstring: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A parser whose description is the first paragraph of a script's docstring."""
    return argparse.ArgumentParser(description=docstring.split("\n\n")[0], epilog=epilog)


def add_models(
    parser: argparse.ArgumentParser,
    default: Sequence[str],
    purpose: str,
    flag: str = "--models",
) -> None:
    """`--models` (or another `flag`): names of `keras_fcn.registry.MODELS`.

    Args:
        parser: the script's parser.
        default: the models of a run without the flag.
        purpose: what the script does with them, as in `"to time"`.
        flag: the flag's name.
    """
    shown = "all" if list(default) == list(registry.MODELS) else " ".join(default)
    parser.add_argument(
        flag,
        nargs="+",
        choices=list(registry.MODELS),
        default=list(default),
        help=f"models of keras_fcn.registry {purpose} (default: {shown})",
    )


def add_model(parser: argparse.ArgumentParser, purpose: str) -> None:
    """`--model`: one name of `keras_fcn.registry.MODELS`, `DEFAULT_MODEL` by default.

    Args:
        parser: the script's parser.
        purpose: what the script does with it, as in `"to evaluate"`.
    """
    parser.add_argument(
        "--model",
        choices=list(registry.MODELS),
        default=DEFAULT_MODEL,
        help=f"model of keras_fcn.registry {purpose} (default: {DEFAULT_MODEL})",
    )


def add_geometries(
    parser: argparse.ArgumentParser,
    help: str = "geometries to build the models in (default: every geometry of the models)",
    flag: str = "--geometries",
) -> None:
    """`--geometries` (or another `flag`): geometries of the registry; `None` when left out.

    The script decides what `None` means, and says it in `help`.
    """
    parser.add_argument(flag, nargs="+", choices=models.GEOMETRIES, default=None, help=help)


def add_geometry(parser: argparse.ArgumentParser, purpose: str) -> None:
    """`--geometry`: one geometry of the registry, aligned by default.

    Args:
        parser: the script's parser.
        purpose: which model it applies to, as in `"to build the model in"`.
    """
    parser.add_argument(
        "--geometry",
        choices=models.GEOMETRIES,
        default="aligned",
        help=f"geometry {purpose} (default: aligned)",
    )


def add_subset(
    parser: argparse.ArgumentParser,
    flag: str,
    choices: Sequence[str],
    help: str,
    nargs: str = "+",
) -> None:
    """A flag that picks some of `choices` (`--precisions`, `--modes`, ...), all by default.

    Args:
        parser: the script's parser.
        flag: the flag, as in `"--precisions"`.
        choices: every value, in the order the script runs them.
        help: what the values are.
        nargs: `"+"`, or `"*"` where picking none (the bare flag) is allowed.
    """
    parser.add_argument(flag, nargs=nargs, choices=choices, default=list(choices), help=help)


def add_batches(
    parser: argparse.ArgumentParser, default: Sequence[int], help: str, flag: str = "--batches"
) -> None:
    """`--batches` (or another `flag`): batch sizes, one row (or group of rows) each."""
    parser.add_argument(flag, nargs="+", type=int, default=list(default), help=help)


def add_repeats(
    parser: argparse.ArgumentParser,
    default: int | None,
    help: str = "timed calls per row after one warm-up call",
) -> None:
    """`--repeats`: how many timed calls (steps, passes) each row keeps the best of."""
    parser.add_argument("--repeats", type=int, default=default, help=help)


def add_fc_units(
    parser: argparse.ArgumentParser,
    default: int | None = FC_UNITS,
    help: str = "width of fc6 and fc7 (the paper's 4096)",
) -> None:
    """`--fc-units`: width of fc6 and fc7 for the models that have them (not SegNet)."""
    parser.add_argument("--fc-units", type=int, default=default, help=help)


def add_ceiling_size(
    parser: argparse.ArgumentParser,
    help: str = "side of the float32 matrices of the matmul ceiling",
) -> None:
    """`--ceiling-size`: side of the matrices of `benchmarks.machine.matmul_ceiling`."""
    parser.add_argument("--ceiling-size", type=int, default=CEILING_SIZE, help=help)


def add_quick(parser: argparse.ArgumentParser, shrinks_to: str) -> None:
    """`--quick`: a shorter run of about a minute, for a first look.

    Args:
        parser: the script's parser.
        shrinks_to: what the run times, as in `"FCN-8s, batch 1"`.
    """
    parser.add_argument("--quick", action="store_true", help=f"{shrinks_to} (about a minute)")


def add_smoke(
    parser: argparse.ArgumentParser, shrinks_to: str, duration: str = "in seconds"
) -> None:
    """`--smoke`: a run that checks the script works end to end (see `benchmarks.smoke`).

    Args:
        parser: the script's parser.
        shrinks_to: what the run times, as in `"fcn8s, 64×64, batch 1"`.
        duration: how long it takes.
    """
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"check that the script runs, {duration}: {shrinks_to} (measures nothing)",
    )
