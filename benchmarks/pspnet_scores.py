"""PSPNet's released nets scored on a local copy of their dataset, beside the published numbers.

Loads a preset (`ade20k-pspnet50`, `voc-pspnet101`, `cityscapes-pspnet101`) from its
`.caffemodel` (downloaded by hand from the Google Drive page `keras_fcn.PRESETS[name].url`),
reads the dataset's images and labels from two directories (`folder` source: images and PNG
labels of the same names), scores every image under each protocol the preset publishes a
number for (`PRESETS[name].scores`: PSPNet's evaluation code, `pspnet-ss` and `pspnet-ms`, or
their Cityscapes forms; `keras_fcn.inference.PROTOCOLS`) and prints the mean IU and pixel
accuracy beside the published ones.

Labels: ADE20K's annotations (`ADEChallengeData2016/annotations/validation`) hold 1–150 for the
classes and 0 for "other", read as class k − 1 and void; Cityscapes' must be the 19 `trainId`s
(`*_gtFine_labelTrainIds.png` of cityscapesScripts' `createTrainIdLabelImgs.py`, 255 void); VOC
2012's published number is on the test set (evaluation server), so a local run can only score
val, which the table says. The mean IU is keras_fcn's (`EvaluationReport`: over the classes
present in the labels or the predictions); PSPNet's `eval_acc.m` averages over every class.

Usage, from the repository root:

    python -m benchmarks.pspnet_scores --preset ade20k-pspnet50 \\
        --weights pspnet50_ADE20K.caffemodel \\
        --images ADEChallengeData2016/images/validation \\
        --labels ADEChallengeData2016/annotations/validation
    python -m benchmarks.pspnet_scores --smoke   # seconds: a tiny random net, synthetic data
"""

import argparse
import dataclasses

import keras
import numpy as np

from benchmarks.arguments import script_parser
from benchmarks.machine import machine_info
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn.evaluation import evaluate
from keras_fcn.inference import get_protocol
from keras_fcn.presets import PRESETS, from_preset

PSPNET_PRESETS = tuple(name for name in PRESETS if PRESETS[name].model.startswith("pspnet"))
"""The presets this script scores."""

LABEL_MAPS = {"ade20k-pspnet50": "0:255/" + "/".join(f"{k}:{k - 1}" for k in range(1, 151))}
"""How a preset's stored labels become its classes (`folder`'s `label_map`), where they
differ."""

SMOKE_IMAGES = 2
SMOKE_SIZE = 40
SMOKE_WINDOW = 24
"""A smoke run: synthetic images of 40 × 40, windows of 24 at a base size of 48."""

METRICS = ("mean_iou", "pixel_accuracy")


def parse_args(argv=None) -> argparse.Namespace:
    parser = script_parser(__doc__)
    parser.add_argument(
        "--preset",
        choices=PSPNET_PRESETS,
        default="ade20k-pspnet50",
        help="the PSPNet preset to score (default: ade20k-pspnet50)",
    )
    parser.add_argument(
        "--weights",
        help="the preset's .caffemodel, downloaded from its Google Drive page (required but "
        "with --smoke)",
    )
    parser.add_argument("--images", help="directory of the dataset's images (required)")
    parser.add_argument(
        "--labels", help="directory of the labels, PNGs named as the images (required)"
    )
    parser.add_argument(
        "--protocols",
        nargs="+",
        default=None,
        help="protocols of keras_fcn.inference.PROTOCOLS to score under (default: those the "
        "preset publishes a score for)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="score only the first N images (default: all)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="seconds: a tiny random stand-in for the net on synthetic images, small windows",
    )
    args = parser.parse_args(argv)
    if not args.smoke and not (args.weights and args.images and args.labels):
        parser.error("--weights, --images and --labels are required (or --smoke).")
    return args


def published(preset_name: str) -> dict[tuple[str, str], float]:
    """The preset's published scores by `(protocol, metric)`."""
    return {(protocol, metric): value for protocol, metric, value in PRESETS[preset_name].scores}


def _smoke_model(num_classes: int) -> keras.Model:
    """A tiny random net standing in for PSPNet in a smoke run."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(num_classes, 3, padding="same"),
        ]
    )


def _smoke_batches(num_classes: int):
    rng = np.random.default_rng(0)
    for _ in range(SMOKE_IMAGES):
        image = rng.integers(0, 256, (1, SMOKE_SIZE, SMOKE_SIZE, 3)).astype("float32")
        label = rng.integers(0, num_classes, (1, SMOKE_SIZE, SMOKE_SIZE)).astype("int32")
        yield image, label


def _dataset_batches(args, num_classes: int):
    from keras_fcn.data import from_spec

    spec = f"folder:{args.images},{args.labels}"
    if args.preset in LABEL_MAPS:
        spec += f",label_map={LABEL_MAPS[args.preset]}"
    dataset = from_spec(spec, num_classes=num_classes)
    if args.limit:
        dataset = dataset.take(args.limit)
    return dataset.batch(1)


def main(args: argparse.Namespace) -> None:
    preset = PRESETS[args.preset]
    scores = published(args.preset)
    names = args.protocols or list(dict.fromkeys(protocol for protocol, _ in scores))
    protocols = [get_protocol(name) for name in names]
    if args.smoke:
        model = _smoke_model(preset.num_classes)
        protocols = [
            dataclasses.replace(protocol, window=SMOKE_WINDOW, base_size=2 * SMOKE_WINDOW)
            for protocol in protocols
        ]
    else:
        model = from_preset(args.preset, args.weights)
    print_header(f"PSPNet scores: {args.preset}", machine_info(), args.smoke)
    print(f"Published: {preset.mean_iou_split}.\n")
    print_headers(["protocol", "metric", "published (%)", "measured (%)"])
    for name, protocol in zip(names, protocols, strict=True):
        batches = (
            _smoke_batches(preset.num_classes)
            if args.smoke
            else _dataset_batches(args, preset.num_classes)
        )
        report = evaluate(model, batches, preset.num_classes, preset.class_names, protocol=protocol)
        for metric in METRICS:
            value = scores.get((name, metric))
            print_row(
                [
                    name,
                    metric,
                    "–" if value is None else f"{value:.2f}",
                    f"{100 * getattr(report, metric):.2f}",
                ]
            )


if __name__ == "__main__":
    main(parse_args())
