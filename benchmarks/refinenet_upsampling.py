"""What RefineNet's bilinear resize costs against the release's bicubic one, in mean IU.

RefineNet's release resizes with MATLAB's bicubic `imresize`, in its fusions and for its scores
(`keras_fcn.RefineNet(upsampling="bicubic")`, exact); the default `upsampling="bilinear"` is
cheaper. This script runs the same weights both ways on a dataset and prints, per resize, the
paper's four scores (`keras_fcn.metrics.SegmentationScores`), the mean IU's difference from
bicubic, the share of labelled pixels whose class differs from bicubic's, and the CPU time per
image relative to bicubic.

The weights: a released net (`--preset voc-refinenet101 --weights refinenet_res101_voc2012.mat`,
the `.mat` downloaded by hand from the Google Drive folder `keras_fcn.PRESETS[name].url`), or a
RefineNet `.keras` file (`--model-file`), such as one that `benchmarks.camvid --model refinenet101
-- --option upsampling=bicubic` trains. The images: any dataset spec of `keras_fcn.data`
(`folder:IMAGES,LABELS` for a local copy of the preset's dataset, `camvid:DIR,split=test`, ...).

Usage, from the repository root:

    python -m benchmarks.refinenet_upsampling --preset voc-refinenet101 \\
        --weights refinenet_res101_voc2012.mat \\
        --dataset folder:VOC2012/JPEGImages,VOC2012/SegmentationClass --limit 300
    python -m benchmarks.refinenet_upsampling --model-file runs/refinenet/best.keras \\
        --dataset camvid:/data/CamVid,split=test,scale=0.25
    python -m benchmarks.refinenet_upsampling --smoke   # seconds: a narrow random net
"""

import argparse
import time
from collections.abc import Iterable

import keras
import numpy as np

from benchmarks.arguments import script_parser
from benchmarks.machine import machine_info
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.inference import logits_function
from keras_fcn.layers import ImresizeToReference, ResizeToReference
from keras_fcn.metrics import PixelAccuracy, SegmentationScores
from keras_fcn.models.refinenet import UPSAMPLINGS, RefineNet, resize_layer
from keras_fcn.presets import PRESETS, from_preset

REFINENET_PRESETS = tuple(name for name in PRESETS if PRESETS[name].model.startswith("refinenet"))
"""The presets this script runs."""

RELEASED = "bicubic"
"""The release's resize, the reference of the differences."""

SMOKE_IMAGES = 2
SMOKE_SIZE = 40
SMOKE_CLASSES = 3

SCORES = ("pixel_accuracy", "mean_accuracy", "mean_iou", "frequency_weighted_iou")


def parse_args(argv=None) -> argparse.Namespace:
    parser = script_parser(__doc__)
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--preset", choices=REFINENET_PRESETS, help="a released RefineNet")
    weights.add_argument("--model-file", help="a RefineNet .keras file")
    parser.add_argument("--weights", help="the preset's .mat file, downloaded by hand")
    parser.add_argument("--dataset", help="a dataset spec of keras_fcn.data (the images)")
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N images (default: all)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="seconds: a narrow random RefineNet-50, 2 images"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        return args
    if not args.dataset or not (args.model_file or (args.preset and args.weights)):
        parser.error("--dataset and either --model-file or --preset with --weights (or --smoke).")
    return args


def with_upsampling(model: keras.Model, upsampling: str) -> keras.Model:
    """`model` (a RefineNet) with every resize made `upsampling`'s, sharing its other layers and
    so its weights."""

    def resize_as_asked(layer):
        if isinstance(layer, (ImresizeToReference, ResizeToReference)):
            return resize_layer(upsampling, name=layer.name, dtype=layer.dtype_policy.name)
        return layer

    return keras.models.clone_model(model, clone_function=resize_as_asked)


def _loaded_model(args: argparse.Namespace) -> keras.Model:
    if args.smoke:
        keras.utils.set_random_seed(0)
        return RefineNet(SMOKE_CLASSES, depth=50, adapt_widths=(8, 4, 4, 4))
    if args.preset:
        return from_preset(args.preset, args.weights)
    return keras.saving.load_model(args.model_file)


def _batches(args: argparse.Namespace, num_classes: int) -> Iterable:
    if args.smoke:
        rng = np.random.default_rng(0)
        for _ in range(SMOKE_IMAGES):
            image = rng.integers(0, 256, (1, SMOKE_SIZE, SMOKE_SIZE, 3)).astype("float32")
            yield image, rng.integers(0, num_classes, (1, SMOKE_SIZE, SMOKE_SIZE))
        return
    from keras_fcn.data import from_spec

    dataset = from_spec(args.dataset, split="test", num_classes=num_classes)
    if args.limit:
        dataset = dataset.take(args.limit)
    yield from dataset.batch(1).as_numpy_iterator()


def main(args: argparse.Namespace) -> None:
    loaded = _loaded_model(args)
    num_classes = int(loaded.output.shape[-1])
    models = {upsampling: with_upsampling(loaded, upsampling) for upsampling in UPSAMPLINGS}
    forwards = {upsampling: logits_function(model) for upsampling, model in models.items()}
    scores = {u: SegmentationScores(num_classes, ignore_class=IGNORE_LABEL) for u in models}
    agreement = {u: PixelAccuracy(num_classes, ignore_class=IGNORE_LABEL) for u in models}
    seconds = dict.fromkeys(models, 0.0)
    images = 0
    for image, label in _batches(args, num_classes):
        class_ids = {}
        for upsampling, forward in forwards.items():
            start = time.process_time()
            logits = keras.ops.convert_to_numpy(forward(image))
            if images:  # the first call compiles
                seconds[upsampling] += time.process_time() - start
            scores[upsampling].update_state(label, logits)
            class_ids[upsampling] = logits.argmax(-1)
        for upsampling in models:
            # Agreement with bicubic, over the labelled pixels only.
            released = np.where(label == IGNORE_LABEL, IGNORE_LABEL, class_ids[RELEASED])
            agreement[upsampling].update_state(released, class_ids[upsampling])
        images += 1
    source = "random narrow RefineNet-50" if args.smoke else (args.preset or args.model_file)
    print_header(
        "RefineNet: bilinear against the release's bicubic resize",
        machine_info(),
        args.smoke,
        f"{source}; {images} images of {args.dataset or 'random pixels'}; the same weights "
        "both ways, run as the library's single-scale inference runs them (`logits_function`); "
        "CPU time of the forward passes after the first image.",
    )
    print_headers(
        [
            "resize",
            *(f"{score} (%)" for score in SCORES),
            "mean IU − bicubic's (points)",
            "labelled pixels of another class than bicubic's (%)",
            "CPU time ÷ bicubic's",
        ]
    )
    released_iou = 100 * float(scores[RELEASED].result()["mean_iou"])
    for upsampling in models:
        result = {name: 100 * float(value) for name, value in scores[upsampling].result().items()}
        print_row(
            [
                upsampling,
                *(f"{result[score]:.2f}" for score in SCORES),
                f"{result['mean_iou'] - released_iou:+.2f}",
                f"{100 - 100 * float(agreement[upsampling].result()):.2f}",
                f"{seconds[upsampling] / seconds[RELEASED]:.2f}",
            ]
        )


if __name__ == "__main__":
    main(parse_args())
