"""Peak memory of SegNet against FCN-8s at CamVid's 360×480: training steps and inference.

SegNet's argument against FCN is memory: its decoder needs only the max-pooling indices of the
encoder, not the encoder's feature maps, and it has no fc6/fc7. This script measures what a
training step and a forward pass actually hold on this machine, for the registry's models at
full width (SegNet, SegNet-Basic and FCN-8s in both geometries, fc6/fc7 of 4096 units by
default) with random weights, on seeded synthetic 360×480 batches and 11 classes (CamVid's).

A training step is `model.train_on_batch` after `model.compile` with SGD (momentum 0.9) and
`SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)`; inference is the model in a
`tf.function`. Each model runs in a fresh process. Every measured call follows a warm-up call
(tracing, the optimizer's momentum), so the memory columns are the peaks of one steady call
above the state before it: the weights and the momentum are excluded; a training step's
gradients (one float per parameter) and the activations it keeps for the backward pass are
included. "Peak − gradients" subtracts the gradients' size from the TF peak: what the
activations and the kernels' scratch take.

Usage, from the repository root:

    python -m benchmarks.segnet_memory                 # batches 1, 2, 4: several minutes
    python -m benchmarks.segnet_memory --batches 1 --models segnet fcn8s
    python -m benchmarks.segnet_memory --smoke         # seconds: checks that the script runs
"""

import argparse
import functools

import keras
import numpy as np
import tensorflow as tf

from benchmarks import arguments, models, smoke
from benchmarks.batches import random_batch
from benchmarks.machine import (
    MEMORY_HEADERS,
    MIB,
    PeakMemory,
    machine_info,
    run_in_fresh_process,
    time_calls,
)
from benchmarks.tables import MODEL_RUN_HEADERS, print_header, print_headers, print_row
from keras_fcn import registry
from keras_fcn.backbones.vgg16 import FC_UNITS
from keras_fcn.classes import IGNORE_LABEL

DEFAULT_MODELS = ("segnet", "segnet-basic", "fcn8s")
"""SegNet, its small version, and the FCN it answers."""
SIZE = (360, 480)
"""CamVid's image size, SegNet's native one."""
MODES = ("train", "infer")

ROW_HEADERS = [
    *MODEL_RUN_HEADERS,
    "parameters (M)",
    "weights (MiB)",
    "best call (s)",
    *MEMORY_HEADERS,
    "peak − gradients (MiB)",
]


def _blocking(function, images) -> np.ndarray:
    return function(images).numpy()


def measure_model(
    model_name: str,
    geometry: str,
    batches: list[int],
    size: tuple[int, int],
    modes: list[str],
    repeats: int,
    fc_units: int = FC_UNITS,
) -> list[list]:
    """Measures one model at every batch and mode (in this process); returns table rows."""
    model = models.build(model_name, geometry, fc_units)
    parameters = model.count_params()
    weights_mib = 4 * parameters / MIB  # float32
    gradients_mib = 4 * sum(int(np.prod(w.shape)) for w in model.trainable_weights) / MIB
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=IGNORE_LABEL
        ),
    )
    forward = tf.function(lambda images: model(images, training=False))
    rows = []
    for batch in batches:
        images, labels = random_batch(batch, size, models.num_classes(model_name))
        for mode in modes:
            if mode == "train":
                call = functools.partial(model.train_on_batch, images, labels)
            else:
                call = functools.partial(_blocking, forward, tf.constant(images))
            call()  # warm-up: tracing, the optimizer's momentum
            memory = PeakMemory()
            with memory:
                timing = time_calls(call, repeats, warmup=0)
            rows.append(
                [
                    model_name,
                    geometry,
                    f"{size[0]}×{size[1]}",
                    batch,
                    mode,
                    f"{parameters / 1e6:.1f}",
                    f"{weights_mib:.0f}",
                    f"{timing.best:.2f}",
                    *memory.cells(),
                    f"{memory.tf_increase_mib - gradients_mib:.0f}" if mode == "train" else "",
                ]
            )
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_models(parser, DEFAULT_MODELS, "to measure, each in every geometry it has")
    arguments.add_batches(parser, [1, 2, 4], "batch sizes (default: 1 2 4)")
    arguments.add_subset(
        parser, "--modes", MODES, "training steps and/or inference (default: both)"
    )
    arguments.add_repeats(parser, 2, "measured calls after one warm-up (default: 2)")
    arguments.add_fc_units(parser, help="width of FCN's fc6 and fc7 (the paper's 4096)")
    arguments.add_smoke(
        parser,
        f"SegNet and {smoke.MODEL} ({smoke.GEOMETRY}, fc6/fc7 of {smoke.FC_UNITS} units), batch "
        f"{smoke.BATCH} of {smoke.SIZE}×{smoke.SIZE}, {smoke.REPEATS} repeat",
    )
    args = parser.parse_args(argv)
    args.size = SIZE
    args.rows = [
        (name, geometry) for name in args.models for geometry in registry.get(name).geometries
    ]
    if args.smoke:
        smoke.shrink(
            args,
            models=["segnet", smoke.MODEL],
            rows=[("segnet", "original"), (smoke.MODEL, smoke.GEOMETRY)],
            size=(smoke.SIZE, smoke.SIZE),
        )
    return args


def main(args: argparse.Namespace) -> None:
    description = f"""
        Random weights, {args.size[0]}×{args.size[1]} inputs, fc6/fc7 of {args.fc_units} units for
        FCN. Each model runs in a fresh process; every row: one warm-up call, then {args.repeats}
        measured call(s), the best time kept; the memory columns are peaks above the state before
        the measured calls (weights and momentum excluded, a training step's gradients included;
        'peak − gradients' leaves the activations and scratch).
    """
    print_header("SegNet and FCN-8s: peak memory", machine_info(), args.smoke, description)
    print_headers(ROW_HEADERS)
    for model_name, geometry in args.rows:
        rows = run_in_fresh_process(
            measure_model,
            model_name,
            geometry,
            args.batches,
            args.size,
            args.modes,
            args.repeats,
            args.fc_units,
        )
        for row in rows:
            print_row(row)


if __name__ == "__main__":
    main(parse_args())
