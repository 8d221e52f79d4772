"""What `--smoke` shrinks every benchmark to: a check that a script runs, not a measurement.

`tests/test_benchmarks.py` runs every script with `--smoke`, so that a change to the library
that breaks a benchmark fails in CI rather than the next time someone measures.
"""

import argparse

MODEL = "fcn8s"
"""The one model a smoke run builds."""
GEOMETRY = "aligned"
"""Its geometry: the original one pads 100 pixels on each side, 17× the FLOPs of a tiny input."""
SIZE = 64
"""Side of the square inputs (and of the images and crops)."""
FC_UNITS = 16
"""Width of fc6 and fc7."""
BATCH = 1
REPEATS = 1
IMAGES = 8
"""Images of the input pipeline's VOC tree: one training batch of 8."""
CEILING_SIZE = 256
"""Side of the matmul ceiling's matrices."""

SUMMARY = (
    f"{MODEL} in the {GEOMETRY} geometry, {SIZE}×{SIZE}, batch {BATCH}, fc6/fc7 of {FC_UNITS} "
    f"units, {REPEATS} repeat"
)
"""What a smoke run builds and times, as the `--smoke` help of the scripts that time a model
says it."""

NOTE = (
    "**Smoke run (`--smoke`)**: tiny sizes, narrow widths, one repeat. It checks that the "
    "script works end to end; its numbers measure nothing.\n"
)
"""Printed at the top of a smoke run's output."""


def shrink(args: argparse.Namespace, **own) -> None:
    """Sets a script's parsed flags to their values in a smoke run.

    Args:
        args: the parsed flags.
        **own: the smoke values of the script's own flags, by name. The shared ones (those of
            `benchmarks.arguments`, and `--size`) take the values of this module wherever the
            script has them, unless named here.
    """
    values = {
        "models": [MODEL],
        "model": MODEL,
        "geometries": [GEOMETRY],
        "geometry": GEOMETRY,
        "size": SIZE,
        "batches": [BATCH],
        "repeats": REPEATS,
        "fc_units": FC_UNITS,
        "ceiling_size": CEILING_SIZE,
    }
    for name, value in values.items():
        if hasattr(args, name):
            setattr(args, name, value)
    for name, value in own.items():
        setattr(args, name, value)


def parse_args(
    parser: argparse.ArgumentParser, argv: list[str] | None, **own
) -> argparse.Namespace:
    """Parses a script's flags and, with `--smoke`, shrinks them (`shrink(args, **own)`)."""
    args = parser.parse_args(argv)
    if args.smoke:
        shrink(args, **own)
    return args
