"""What `--smoke` shrinks every benchmark to: a check that a script runs, not a measurement.

`tests/test_benchmarks.py` runs every script with `--smoke`, so that a change to the library
that breaks a benchmark fails in CI rather than the next time someone measures.
"""

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

NOTE = (
    "**Smoke run (`--smoke`)**: tiny sizes, narrow widths, one repeat. It checks that the "
    "script works end to end; its numbers measure nothing.\n"
)
"""Printed at the top of a smoke run's output."""
