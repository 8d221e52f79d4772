"""Training speed of the FCNs: steps/s and images/s on synthetic batches, with and without XLA.

One training step is `model.train_on_batch` after `model.compile` with SGD (momentum 0.99) and
`SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)`, exactly what `model.fit`
runs per batch. Inputs are seeded random images and labels (a tenth of the pixels set to the
ignore label 255), batch 8 of 320×320 crops by default; models are built by
`keras_fcn.registry` at full width (fc6/fc7 of 4096 units, `--fc-units`) with random weights,
dropout active. Each row runs in a fresh process, so that memory
kept by one configuration (XLA holds several GB) neither adds up nor shows in the next one.

A step costs about 3× the forward FLOPs (forward, gradient with respect to the activations,
gradient with respect to the weights); that nominal count is compared with a float32 4096²
matmul ceiling measured just before and just after each row.

Mixed precision: `mixed_float16` runs only where a GPU exists; on a CPU the rows are skipped
with a note (float16 convolutions run there at float32 speed, and loss scaling adds work).
`mixed_bfloat16` runs on a GPU and on CPUs with bfloat16 instructions (AVX512_BF16 or AMX),
where oneDNN's bfloat16 convolutions are about twice as fast as float32 ones.

Usage, from the repository root:

    python -m benchmarks.training            # full run, several minutes
    python -m benchmarks.training --quick    # aligned FCN-8s, no XLA, 2 repeats, about a minute
    python -m benchmarks.training --smoke    # seconds: checks that the script runs
"""

import argparse
import itertools

import keras
import tensorflow as tf

from benchmarks import arguments, models, smoke
from benchmarks.batches import random_batch
from benchmarks.flops import BACKWARD_FACTOR, total_flops
from benchmarks.machine import (
    CEILING_SIZE,
    MEMORY_HEADERS,
    RATE_HEADERS,
    PeakMemory,
    cpu_flags,
    machine_info,
    rate_cells,
    release_memory,
    run_in_fresh_process,
    time_against_ceiling,
)
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn.backbones.vgg16 import FC_UNITS
from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.training import PRECISIONS


def build_and_compile(
    model_name: str, geometry: str, precision: str, xla: bool, fc_units: int = FC_UNITS
) -> keras.Model:
    """A model with random weights, compiled with the paper's optimizer."""
    model = models.build_in_precision(model_name, geometry, fc_units, precision)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1e-10, momentum=0.99),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=IGNORE_LABEL
        ),
        jit_compile=xla,
    )
    return model


def skip_reason(precision: str) -> str | None:
    """Why a precision is not timed on this machine, or None."""
    if tf.config.list_physical_devices("GPU"):
        return None
    if precision == "mixed_float16":
        return "skipped: no GPU (float16 pays off on GPU tensor cores, see the README)"
    if precision == "mixed_bfloat16" and not cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        return "skipped: the CPU has no bfloat16 instructions (avx512_bf16, amx_bf16)"
    return None


ROW_HEADERS = [
    "model",
    "geometry",
    "precision",
    "XLA",
    "batch",
    "crop",
    "first step (s)",
    "best step (s)",
    "median step (s)",
    "steps/s",
    "images/s",
    "GFLOP/step (3× forward)",
    *RATE_HEADERS,
    "core use",
    *MEMORY_HEADERS,
]


def time_row(
    model_name,
    geometry,
    precision,
    xla,
    batch,
    size,
    repeats,
    fc_units=FC_UNITS,
    ceiling_size=CEILING_SIZE,
) -> list:
    """Times training steps of one configuration; returns a table row."""
    label = [model_name, geometry, precision, "yes" if xla else "no", batch, f"{size}×{size}"]
    reason = skip_reason(precision)
    if reason:
        return [*label, reason] + [""] * (len(ROW_HEADERS) - len(label) - 1)
    model = build_and_compile(model_name, geometry, precision, xla, fc_units)
    images, labels = random_batch(batch, (size, size), models.num_classes(model_name))
    flops = BACKWARD_FACTOR * total_flops(model, images.shape)
    memory = PeakMemory()
    timing, ceiling = time_against_ceiling(
        lambda: model.train_on_batch(images, labels),
        repeats,
        memory=memory,
        ceiling_size=ceiling_size,
    )
    model = None
    release_memory()
    return [
        *label,
        f"{timing.first:.1f}",
        f"{timing.best:.2f}",
        f"{timing.median:.2f}",
        f"{1 / timing.best:.3f}",
        f"{batch / timing.best:.2f}",
        f"{flops / 1e9:.0f}",
        *rate_cells(flops, timing, ceiling),
        f"{timing.utilisation:.2f}",
        *memory.cells(),
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_models(parser, ["fcn8s"], "to train")
    arguments.add_geometries(parser)
    arguments.add_subset(
        parser, "--xla", ("off", "on"), "compile the step without and/or with XLA (jit_compile)"
    )
    arguments.add_subset(
        parser,
        "--precisions",
        PRECISIONS,
        "Keras dtype policies (mixed_float16 is skipped without a GPU, mixed_bfloat16 on CPUs "
        "without bfloat16 instructions)",
    )
    parser.add_argument("--batch", type=int, default=8, help="images per step")
    parser.add_argument("--size", type=int, default=320, help="side of the square crops")
    arguments.add_repeats(parser, None, "timed steps after one warm-up step (default 3)")
    arguments.add_fc_units(parser)
    arguments.add_ceiling_size(parser)
    arguments.add_quick(parser, "aligned FCN-8s in float32 without XLA, 2 repeats")
    arguments.add_smoke(parser, f"one row, {smoke.SUMMARY}, float32 without XLA")
    args = parser.parse_args(argv)
    if args.quick or args.smoke:
        args.models, args.geometries = ["fcn8s"], ["aligned"]
        args.xla, args.precisions = ["off"], ["float32"]
    if args.smoke:
        smoke.shrink(args, batch=smoke.BATCH)
    args.repeats = args.repeats or (2 if args.quick else 3)
    if args.geometries is None:
        args.geometries = models.geometries_of(args.models)
    models.check_geometries(parser, args.models, args.geometries)
    return args


def main(args: argparse.Namespace) -> None:
    description = f"""
        Every row: one warm-up step ("first step", tracing and compilation included), then the best
        and the median of {args.repeats} steps of `train_on_batch`. GFLOP/step is 3× the forward
        convolutions' 2·MACs; the {args.ceiling_size}² float32 matmul ceiling is measured just
        before and just after each row, and the better of the two kept (bfloat16 rows are compared
        with it too, so their fraction can pass 1). Models have random weights and fc6/fc7 of
        {args.fc_units} units. Each row runs in a fresh process; memory columns are peaks above the
        state before the first step (the weights excluded, the optimizer's momentum included).
    """
    print_header("FCN training", machine_info(), args.smoke, description)
    print_headers(ROW_HEADERS)
    for model_name, geometry, precision, xla in itertools.product(
        args.models, args.geometries, args.precisions, args.xla
    ):
        # A fresh process per row: XLA keeps gigabytes that would otherwise add up across rows
        # (and hide in the next row's memory columns).
        row = run_in_fresh_process(
            time_row,
            model_name,
            geometry,
            precision,
            xla == "on",
            args.batch,
            args.size,
            args.repeats,
            args.fc_units,
            args.ceiling_size,
        )
        print_row(row)


if __name__ == "__main__":
    main(parse_args())
