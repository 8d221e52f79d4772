"""Times one confusion-matrix update of a batch of segmentation logits.

Prints a markdown table of the update cost of `keras_fcn.metrics.SegmentationScores` (from
logits and from class ids), of `keras.metrics.MeanIoU` for comparison, and of a 3x3 convolution
over the same batch as a yardstick, each eager, in a `tf.function` and XLA-compiled, with the
machine it ran on.

Usage, from the repository root:

    python -m benchmarks.metric_update            # 8×512×512, about 20 s
    python -m benchmarks.metric_update --smoke    # seconds: checks that the script runs
"""

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import arguments, smoke
from benchmarks.machine import machine_info
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.metrics import SegmentationScores

HEADERS = ["operation", "mode", "ms", "Mpixel/s"]


def milliseconds(function, repeats: int) -> float:
    """Median wall time of `function()` in ms, after two warm-up calls (tracing, compiling)."""
    for _ in range(2):
        keras.ops.convert_to_numpy(function())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(function())
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def wrapped(function, mode: str):
    if mode == "eager":
        return function
    return tf.function(function, jit_compile=mode == "jit")


def main(args: argparse.Namespace) -> None:
    print_header("Metric update", machine_info(), args.smoke)
    rng = np.random.default_rng(0)
    shape = (args.batch, args.size, args.size)
    labels = rng.integers(0, args.classes, size=shape).astype(np.int32)
    labels[rng.random(shape) < 0.1] = IGNORE_LABEL
    labels = tf.constant(labels)
    logits = tf.constant(rng.normal(size=(*shape, args.classes)).astype(np.float32))
    class_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
    convolution = keras.layers.Conv2D(args.classes, 3, padding="same")
    convolution.build(logits.shape)

    def scores_update(y_pred):
        metric = SegmentationScores(args.classes)

        def update():
            metric.update_state(labels, y_pred)
            return metric.counts_low

        return update

    def keras_mean_iou_update():
        metric = keras.metrics.MeanIoU(args.classes, ignore_class=IGNORE_LABEL, sparse_y_pred=False)

        def update():
            metric.update_state(labels, logits)
            return metric.total_cm

        return update

    rows = {
        "SegmentationScores.update_state(logits)": scores_update(logits),
        "SegmentationScores.update_state(class ids)": scores_update(class_ids),
        "keras.metrics.MeanIoU.update_state(logits)": keras_mean_iou_update(),
        f"reference: Conv2D 3x3 {args.classes}->{args.classes} on the logits": (
            lambda: convolution(logits)
        ),
    }
    pixels = np.prod(shape)
    conv_gflop = 2 * pixels * 9 * args.classes**2 / 1e9
    print(
        f"batch {args.batch}×{args.size}×{args.size}×{args.classes} logits, 10% pixels = "
        f"{IGNORE_LABEL}, median of {args.repeats} runs after 2 warm-ups; the reference "
        f"convolution is {conv_gflop:.3g} GFLOP.\n"
    )
    print_headers(HEADERS)
    for name, function in rows.items():
        for mode in ("eager", "tf.function", "jit"):
            elapsed = milliseconds(wrapped(function, mode), args.repeats)
            row = [name, mode, f"{elapsed:.1f}", f"{pixels / elapsed / 1e3:.1f}"]
            print_row(row)


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    parser.add_argument("--batch", type=int, default=8, help="images per batch (default: 8)")
    parser.add_argument("--size", type=int, default=512, help="image side (default: 512)")
    parser.add_argument("--classes", type=int, default=21, help="number of classes (default: 21)")
    arguments.add_repeats(parser, 10, "timed runs per row, after 2 warm-ups (default: 10)")
    arguments.add_smoke(
        parser, f"batch {smoke.BATCH} of {smoke.SIZE}×{smoke.SIZE}, {smoke.REPEATS} repeat"
    )
    return smoke.parse_args(parser, argv, batch=smoke.BATCH)


if __name__ == "__main__":
    main(parse_args())
