"""Times one confusion-matrix update of a batch of segmentation logits.

Prints a table of the update cost of `keras_fcn.metrics.SegmentationScores` (from logits and
from class ids), of `keras.metrics.MeanIoU` for comparison, and of a 3x3 convolution over the
same batch as a yardstick, each eager, in a `tf.function` and XLA-compiled, with the machine it
ran on.

    python benchmarks/metric_update.py
"""

import argparse
import os
import platform
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from machine import cpu_model

from keras_fcn.metrics import SegmentationScores


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
    rng = np.random.default_rng(0)
    shape = (args.batch, args.size, args.size)
    labels = rng.integers(0, args.classes, size=shape).astype(np.int32)
    labels[rng.random(shape) < 0.1] = 255
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
        metric = keras.metrics.MeanIoU(args.classes, ignore_class=255, sparse_y_pred=False)

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
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; {platform.platform()}")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}")
    print(
        f"batch {args.batch}x{args.size}x{args.size}x{args.classes} logits, 10% pixels = 255, "
        f"median of {args.repeats} runs; the reference convolution is {conv_gflop:.1f} GFLOP."
    )
    print()
    header = f"{'operation':<58} {'mode':<12} {'ms':>8} {'Mpixel/s':>9}"
    print(header)
    print("-" * len(header))
    for name, function in rows.items():
        for mode in ("eager", "tf.function", "jit"):
            elapsed = milliseconds(wrapped(function, mode), args.repeats)
            print(f"{name:<58} {mode:<12} {elapsed:8.1f} {pixels / elapsed / 1e3:9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="images per batch (default: 8)")
    parser.add_argument("--size", type=int, default=512, help="image side (default: 512)")
    parser.add_argument("--classes", type=int, default=21, help="number of classes (default: 21)")
    parser.add_argument(
        "--repeats", type=int, default=10, help="timed runs per row, after 2 warm-ups (default: 10)"
    )
    main(parser.parse_args())
