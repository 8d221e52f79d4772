"""Where a ResNet-era net's float32 CPU time goes: each kind of convolution alone, against the
whole net.

For each selected net of `keras_fcn.registry` (DeepLab v2 ResNet-101 by default), with a
trained net's biases and batch-normalization statistics (`with_trained_statistics`), the script
takes the float32 graph the library runs for inference (`in_process_model`: batch normalization
folded, dilated and wide-input convolutions as `DilatedConv2D` and `TapSumConv2D`) and groups
its convolutions by kind: class, kernel, dilation, input and output channels, and the size of
the map they read for a batch 1 of `--size`² (513 by default). One layer of each kind runs
alone in a `tf.function` on the input it receives in the net; its best CPU time (process seconds
÷ cores, `benchmarks.machine.Timing`), less that of a `tf.function` call that does nothing on the
same input (about half a millisecond here, a tenth of a 1×1 convolution's time), times the number
of layers of that kind is the kind's time. The whole net is timed the same way; the difference
between it and the sum over the kinds is what the net spends besides its convolutions alone
(batch normalization is folded): pooling, the preprocessing, the resizes, and the ReLUs and
residual additions, whether TensorFlow fuses them into the convolutions or not.
Each row's share of the float32 matmul ceiling (measured before and after, the better kept)
says how close that kind's kernel runs to the machine's matrix rate.

Run: `python -m benchmarks.resnet_layers [--models NAME ...] [--size 513] [--repeats 5]`.
"""

import argparse
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from benchmarks import arguments, smoke
from benchmarks.batches import random_batch
from benchmarks.flops import conv_flops
from benchmarks.machine import (
    machine_info,
    matmul_ceiling,
    release_memory,
    time_calls,
    usable_cores,
)
from benchmarks.models import with_trained_statistics
from benchmarks.resnet_speed import (
    BUILD_OPTIONS,
    NUM_CLASSES,
    SIZE,
    inference_model,
    pin_threads,
)
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn import registry

HEADERS = [
    "convolution",
    "map",
    "layers",
    "G MACs (all)",
    "one alone, best CPU time less a call's (ms)",
    "all, CPU time (ms)",
    "part of the net's time",
    "share of float32 ceiling (CPU time)",
]


@dataclasses.dataclass(frozen=True)
class Kind:
    """What makes two convolutions of a net cost the same."""

    layer: str
    kernel: tuple[int, int]
    strides: tuple[int, int]
    rate: tuple[int, int]
    channels: tuple[int, int]
    map: tuple[int, int]

    def cells(self) -> list[str]:
        (height, width), inputs, outputs = self.kernel, *self.channels
        steps = [
            f", {label} {rows if rows == columns else f'{rows}×{columns}'}"
            for label, (rows, columns) in (("stride", self.strides), ("rate", self.rate))
            if max(rows, columns) > 1
        ]
        return [
            f"{self.layer} {height}×{width}{''.join(steps)}, {inputs:,} → {outputs:,}",
            f"{self.map[0]}×{self.map[1]}",
        ]


def kinds_of(model: keras.Model, shape: tuple) -> dict[Kind, list]:
    """The convolutions of `model` for an input of `shape`, by kind, each kind's layers with
    their `LayerFlops`, in graph order."""
    kinds = {}
    for count in conv_flops(model, shape):
        layer = model.get_layer(count.name)
        kind = Kind(
            type(layer).__name__,
            tuple(layer.kernel_size),
            tuple(layer.strides),
            tuple(layer.dilation_rate),
            (count.input_shape[-1], count.output_shape[-1]),
            tuple(count.input_shape[1:3]),
        )
        kinds.setdefault(kind, []).append((layer, count))
    return kinds


def time_kinds(model: keras.Model, images: np.ndarray, repeats: int) -> dict[Kind, tuple]:
    """Each kind's layers (as `kinds_of` lists them) and the best CPU seconds of its first one
    alone, on the input it gets in `model`, less the cost of calling a `tf.function` (one that
    returns a single value of the same input, timed alike)."""
    kinds = kinds_of(model, images.shape)
    first = [members[0][0] for members in kinds.values()]
    probe = keras.Model(model.inputs, [layer.input for layer in first])
    inputs = probe(tf.constant(images), training=False)
    dispatch = tf.function(lambda value: tf.nest.flatten(value)[0][0, 0, 0, 0])
    seconds = {}
    for kind, layer, value in zip(kinds, first, inputs, strict=True):
        call = tf.function(lambda value, layer=layer: layer(value, training=False))
        timing = time_calls(lambda call=call, value=value: call(value).numpy(), repeats)
        empty = time_calls(lambda value=value: dispatch(value).numpy(), repeats)
        seconds[kind] = max(timing.cpu_best - empty.cpu_best, 0.0)
    return {kind: (kinds[kind], seconds[kind]) for kind in kinds}


def net_rows(name: str, args: argparse.Namespace) -> None:
    """Prints the table of one net: its kinds, the sum, the whole net and the difference."""
    keras.utils.set_random_seed(0)
    model = with_trained_statistics(
        registry.build(name, NUM_CLASSES, weights=None, **BUILD_OPTIONS.get(name, {}))
    )
    images, _ = random_batch(1, (args.size, args.size), NUM_CLASSES)
    timed = inference_model(model, "float32")
    ceiling = matmul_ceiling(args.ceiling_size)
    kinds = time_kinds(timed, images, args.repeats)
    forward = tf.function(lambda x: timed(x, training=False))
    floats = tf.constant(images)
    whole = time_calls(lambda: forward(floats).numpy(), args.repeats)
    ceiling = ceiling.better(matmul_ceiling(args.ceiling_size))

    def share(macs: int, cpu_seconds: float) -> str:
        return f"{2 * macs / cpu_seconds / 1e9 / ceiling.cpu:.2f}"

    rows, total_seconds, total_macs = [], 0.0, 0
    for kind, (members, alone) in kinds.items():
        macs = sum(count.macs for _, count in members)
        seconds = alone * len(members)
        total_seconds, total_macs = total_seconds + seconds, total_macs + macs
        rows.append((seconds, kind, members, macs, alone))
    print(f"\n### {name}, batch 1 of {args.size}×{args.size}\n")
    print_headers(HEADERS)
    for seconds, kind, members, macs, alone in sorted(rows, key=lambda row: -row[0]):
        print_row(
            [
                *kind.cells(),
                len(members),
                f"{macs / 1e9:.1f}",
                f"{alone * 1e3:.1f}",
                f"{seconds * 1e3:.0f}",
                f"{seconds / whole.cpu_best:.1%}",
                share(macs, seconds),
            ]
        )
    layers = sum(len(members) for _, _, members, _, _ in rows)
    outside = whole.cpu_best - total_seconds
    for label, count, macs, seconds in (
        ("sum over the convolutions", layers, total_macs, total_seconds),
        ("whole net", "", total_macs, whole.cpu_best),
    ):
        print_row(
            [
                label,
                "",
                count,
                f"{macs / 1e9:.1f}",
                "",
                f"{seconds * 1e3:.0f}",
                f"{seconds / whole.cpu_best:.1%}",
                share(macs, seconds),
            ]
        )
    print_row(
        [
            "outside the convolutions",
            "",
            "",
            "",
            "",
            f"{outside * 1e3:.0f}",
            f"{outside / whole.cpu_best:.1%}",
            "",
        ]
    )
    print(f"<!-- {name}: float32 ceiling {ceiling.cpu:.0f} GFLOP/s by CPU time -->", flush=True)
    release_memory()


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_models(parser, ["deeplab-aspp-resnet101"], "to profile")
    parser.add_argument(
        "--size", type=int, default=SIZE, help=f"side of the square input (default: {SIZE})"
    )
    arguments.add_repeats(parser, 5, "timed calls of each layer and of the net after a warm-up")
    arguments.add_ceiling_size(parser)
    arguments.add_smoke(
        parser,
        f"torchvision-fcn-resnet50 at {smoke.SIZE + 1}×{smoke.SIZE + 1}, {smoke.REPEATS} repeat",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        smoke.shrink(args, models=["torchvision-fcn-resnet50"], size=smoke.SIZE + 1)
    return args


def main(args: argparse.Namespace) -> None:
    pin_threads(usable_cores())
    print_header(
        "Where a ResNet-era net's float32 CPU time goes",
        machine_info(),
        args.smoke,
        "Our float32 inference graph (batch normalization folded); each kind of convolution: one "
        f"layer alone in a tf.function on its real input, best of {args.repeats} calls after a "
        "warm-up, less an empty call's time, times the layers of that kind; the whole net timed "
        "the same way; CPU time is process seconds ÷ cores.",
    )
    for name in args.models:
        net_rows(name, args)


if __name__ == "__main__":
    main(parse_args())
