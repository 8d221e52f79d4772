"""Evaluation speed at native VOC sizes: every image a different size, and what retracing costs.

PASCAL VOC images come in many sizes (at most 500 on a side), and evaluation runs them one at a
time at their own size. A `tf.function` traces a new graph for every new input shape unless told
otherwise, and XLA compiles a new program for every shape it meets. This script feeds a seeded
list of images of random sizes (each side between `--min-size` and `--max-size`) at batch 1
through FCN-8s (`--model`, any model of `keras_fcn.registry`) in several ways, once cold and then
again warm over the same list:

- `eager`: `model(x)`, nothing traced;
- `function`: plain `tf.function`: one trace per new shape;
- `function, reduce_retracing`: `tf.function(reduce_retracing=True)`: after the second shape it
  traces one graph with unknown height and width;
- `function, signature`: `tf.function(input_signature=[TensorSpec([None, None, None, 3])])`:
  one trace for all shapes;
- `xla, signature`: the same with `jit_compile=True`: one trace, but XLA compiles per shape;
- `xla, buckets of N`: images padded at the bottom and right to a multiple of N with the mean
  colour, the padded part of the logits cropped away; XLA compiles once per bucket.

Traces are counted with `experimental_get_tracing_count()`. For the aligned geometry, padding with
the mean colour to a multiple of 32 is exactly what the model does itself (the preprocessed mean
colour is 0), so the logits do not change; the table shows the largest difference from the
unpadded logits (larger buckets and the original geometry change the logits near the bottom and
right borders, where the padding enters the receptive fields).

The model is FCN-8s with random weights (score layers too, so that logits are not all zero);
`--fc-units` below the paper's 4096 shortens the run without changing the retracing behaviour.

Usage, from the repository root:

    python -m benchmarks.evaluation            # aligned FCN-8s, 20 images, several minutes
    python -m benchmarks.evaluation --quick    # 6 images, fc6/fc7 of 1024 units, about a minute
    python -m benchmarks.evaluation --smoke    # seconds: checks that the script runs
    python -m benchmarks.evaluation --geometry original --images 10
"""

import argparse
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import arguments, models, smoke
from benchmarks.flops import total_flops
from benchmarks.machine import Timing, machine_info, matmul_ceiling, usable_cores
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn import registry
from keras_fcn.backbones.preprocessing import IMAGENET_MEAN_RGB

IMAGE_SIGNATURE = [tf.TensorSpec([None, None, None, 3], tf.float32)]


def random_sizes(count: int, low: int, high: int, seed: int = 0) -> list[tuple[int, int]]:
    """`count` seeded (height, width) pairs, each side uniform in [low, high]."""
    generator = np.random.default_rng(seed)
    return [tuple(int(side) for side in generator.integers(low, high + 1, 2)) for _ in range(count)]


def build(model_name: str, geometry: str, fc_units: int) -> keras.Model:
    """A model with random weights everywhere, score layers included."""
    model = models.build(model_name, geometry, fc_units)
    generator = np.random.default_rng(1)
    for layer in model.layers:
        if layer.name.startswith("score_"):
            layer.set_weights(
                [generator.normal(0, 0.01, w.shape).astype("float32") for w in layer.weights]
            )
    return model


def pad_to_bucket(images: tf.Tensor, bucket: int) -> tf.Tensor:
    """Pads the bottom and right to a multiple of `bucket` with the mean colour."""
    height, width = images.shape[1], images.shape[2]
    padded_height, padded_width = -(-height // bucket) * bucket, -(-width // bucket) * bucket
    canvas = tf.broadcast_to(
        tf.constant(IMAGENET_MEAN_RGB, tf.float32), (1, padded_height, padded_width, 3)
    ).numpy()
    canvas[:, :height, :width] = images.numpy()
    return tf.constant(canvas)


class Runner:
    """One way of running the model on an image of any size; counts traces where it can."""

    def __init__(self, name: str, model: keras.Model):
        self.name = name
        self.bucket = None

        def forward(images):
            return model(images, training=False)

        self.traced = None
        if name == "eager":
            self.call = forward
        elif name == "function":
            self.traced = tf.function(forward)
        elif name == "function, reduce_retracing":
            self.traced = tf.function(forward, reduce_retracing=True)
        elif name == "function, signature":
            self.traced = tf.function(forward, input_signature=IMAGE_SIGNATURE)
        elif name == "xla, signature":
            self.traced = tf.function(forward, input_signature=IMAGE_SIGNATURE, jit_compile=True)
        elif name.startswith("xla, buckets of "):
            self.bucket = int(name.rsplit(" ", 1)[1])
            self.traced = tf.function(forward, input_signature=IMAGE_SIGNATURE, jit_compile=True)
        else:
            raise ValueError(f"Unknown runner {name!r}.")
        self.call = self.traced or forward

    def model_input(self, images: tf.Tensor) -> tf.Tensor:
        """The tensor the model receives: the image, or the image padded into its bucket."""
        return images if self.bucket is None else pad_to_bucket(images, self.bucket)

    def __call__(self, images: tf.Tensor) -> np.ndarray:
        height, width = images.shape[1], images.shape[2]
        return self.call(self.model_input(images)).numpy()[:, :height, :width]

    @property
    def traces(self) -> str:
        return "—" if self.traced is None else str(self.traced.experimental_get_tracing_count())


def run_pass(runner: Runner, images: list[tf.Tensor]) -> tuple[Timing, list[np.ndarray]]:
    """Runs every image once; returns per-image times and the logits."""
    seconds, cpu_seconds, logits = [], [], []
    for image in images:
        start, cpu_start = time.perf_counter(), time.process_time()
        logits.append(runner(image))
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append((time.process_time() - cpu_start) / usable_cores())
    return Timing(seconds[0], seconds, cpu_seconds), logits


def runner_names(buckets: list[int]) -> list[str]:
    return [
        "eager",
        "function",
        "function, reduce_retracing",
        "function, signature",
        "xla, signature",
        *(f"xla, buckets of {bucket}" for bucket in buckets),
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_model(parser, "to evaluate")
    arguments.add_geometry(parser, "to build the model in")
    parser.add_argument("--images", type=int, default=20, help="number of image sizes")
    parser.add_argument("--min-size", type=int, default=300, help="smallest side")
    parser.add_argument("--max-size", type=int, default=500, help="largest side")
    arguments.add_fc_units(parser)
    arguments.add_ceiling_size(parser)
    parser.add_argument(
        "--buckets",
        nargs="*",
        type=int,
        default=[32, 512],
        help="bucket multiples for the padded XLA runs (512 puts every VOC image in one bucket)",
    )
    parser.add_argument(
        "--runners",
        nargs="+",
        default=None,
        help="subset of the runners to time, by name (default: all)",
    )
    parser.add_argument(
        "--warm-passes",
        type=int,
        default=2,
        help="passes after the first; each image's best time over them is kept",
    )
    arguments.add_quick(parser, "6 images, fc6/fc7 of 1024 units, 1 warm pass")
    arguments.add_smoke(
        parser,
        f"{smoke.MODEL} in the {smoke.GEOMETRY} geometry, 2 images with sides up to "
        f"{smoke.SIZE}, fc6/fc7 of {smoke.FC_UNITS} units, buckets of 32, 1 warm pass",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.fc_units, args.warm_passes = 6, 1024, 1
    if args.smoke:
        smoke.shrink(
            args,
            images=2,
            min_size=smoke.SIZE // 2,
            max_size=smoke.SIZE,
            buckets=[32],
            warm_passes=smoke.REPEATS,
        )
    models.check_geometries(parser, [args.model], [args.geometry])
    if args.warm_passes < 1:
        parser.error(f"--warm-passes must be at least 1, received {args.warm_passes}.")
    if not 0 < args.min_size <= args.max_size:
        parser.error(
            f"--min-size and --max-size must satisfy 0 < min <= max, received "
            f"{args.min_size} and {args.max_size}."
        )
    names = runner_names(args.buckets)
    args.runners = args.runners or names
    unknown = sorted(set(args.runners) - set(names))
    if unknown:
        parser.error(f"unknown runners {unknown}; choose from {names}.")
    return args


def main(args: argparse.Namespace) -> None:
    print_header("FCN evaluation at varying image sizes", machine_info(), args.smoke)
    sizes = random_sizes(args.images, args.min_size, args.max_size)
    generator = np.random.default_rng(2)
    images = [
        tf.constant(generator.uniform(0, 255, (1, height, width, 3)).astype("float32"))
        for height, width in sizes
    ]
    model = build(args.model, args.geometry, args.fc_units)
    reference = [model(image, training=False).numpy() for image in images]
    before = matmul_ceiling(args.ceiling_size)
    print(
        f"{registry.get(args.model).title}, {args.geometry} geometry, fc6/fc7 of "
        f"{args.fc_units} units, random weights; "
        f"{len(images)} images at batch 1, sides in [{args.min_size}, {args.max_size}] "
        f"({len(set(sizes))} distinct sizes), seed 0. Pass 1 meets every size for the first "
        f"time (traces and compilations included); {args.warm_passes} warm passes run the same "
        f"images again, and each image's best warm time is kept. Times are means per image. "
        f"'Overhead' is pass 1 minus warm: the cost of meeting a new shape (tracing, graph "
        f"optimisation, XLA compilation), by wall clock and by CPU time per core. GFLOP/s "
        f"counts the convolutions of the shape the model receives (padded, for buckets) in the "
        f"warm passes, against a matmul ceiling measured before and after the runs (the better "
        f"one, printed below the table).\n"
    )
    headers = [
        "runner",
        "traces",
        "shapes fed",
        "pass 1 (s/image)",
        "warm (s/image)",
        "overhead (s/image)",
        "overhead, CPU time (s/image)",
        "warm GFLOP/s",
        "fraction (wall)",
        "fraction (CPU time)",
        "max abs Δ logits",
    ]
    print_headers(headers)
    results = []
    for name in args.runners:
        runner = Runner(name, model)
        first, _ = run_pass(runner, images)
        warm = [run_pass(runner, images) for _ in range(args.warm_passes)]
        logits = warm[-1][1]
        second = Timing(
            first=float("nan"),
            seconds=list(np.min([timing.seconds for timing, _ in warm], axis=0)),
            cpu_seconds=list(np.min([timing.cpu_seconds for timing, _ in warm], axis=0)),
        )
        shapes = [tuple(runner.model_input(image).shape) for image in images]
        flops = sum(total_flops(model, shape) for shape in shapes)
        difference = max(float(np.abs(a - b).max()) for a, b in zip(logits, reference, strict=True))
        results.append((name, runner.traces, shapes, first, second, flops, difference))
        print(f"  {name}: done", file=sys.stderr, flush=True)
    ceiling = before.better(matmul_ceiling(args.ceiling_size))
    for name, traces, shapes, first, second, flops, difference in results:
        rate = flops / sum(second.seconds) / 1e9
        cpu_rate = flops / sum(second.cpu_seconds) / 1e9
        row = [
            name,
            traces,
            len(set(shapes)),
            f"{np.mean(first.seconds):.2f}",
            f"{np.mean(second.seconds):.2f}",
            f"{np.mean(first.seconds) - np.mean(second.seconds):.2f}",
            f"{np.mean(first.cpu_seconds) - np.mean(second.cpu_seconds):.2f}",
            f"{rate:.0f}",
            f"{rate / ceiling.wall:.2f}",
            f"{cpu_rate / ceiling.cpu:.2f}",
            f"{difference:.1e}",
        ]
        print_row(row)
    print(
        f"\nMatmul ceiling ({args.ceiling_size}²): {ceiling.wall:.0f} GFLOP/s (wall), "
        f"{ceiling.cpu:.0f} (CPU time)."
    )


if __name__ == "__main__":
    main(parse_args())
