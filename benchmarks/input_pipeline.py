"""Throughput of the input pipeline on VOC-sized images, in images per second.

Writes a temporary VOC tree of `--images` JPEGs of 500×375 (smooth colour fields with edges and
noise, so that they compress like photographs, about 60 KB at quality 90) with palette PNG
masks, then times one pass ("epoch") over it through:

- the `voc` source alone (read, decode, palette mapping, checks);
- `training_pipeline` with augmentation (scale 0.5-2, flip), 320×320 crops, batch 8;
- the same with `cache=True` (decoding done once, before the timed passes);
- the paper's recipe: `training_pipeline(crop_size=None, batch_size=1, augment=False)`;
- `evaluation_pipeline` with batch 1.

Each row keeps the best and the median of `--repeats` passes after one warm-up pass, and the
process CPU time per image of the cheapest pass, which stays steady when other work shares the
machine (then the wall-clock rates drop and "CPU utilisation", the share of the cores this
process got, falls below 1). The model is not involved: these are the rates at which the
pipeline can feed one.

Usage, from the repository root:

    python -m benchmarks.input_pipeline
    python -m benchmarks.input_pipeline --images 128 --repeats 5
    python -m benchmarks.input_pipeline --smoke    # seconds: checks that the script runs
"""

import argparse
import os
import tempfile

import numpy as np

from benchmarks import arguments, smoke
from benchmarks.machine import machine_info, time_calls, usable_cores
from benchmarks.tables import markdown_table, print_header
from keras_fcn.data import evaluation_pipeline, training_pipeline, voc
from keras_fcn.data.testing import write_voc_tree

HEIGHT, WIDTH = 375, 500


def photo_like_arrays(seed: int = 0):
    """Returns a function drawing, for each example id in turn, a VOC-sized image and its label."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]

    def arrays(example_id: str) -> tuple[np.ndarray, np.ndarray]:
        del example_id  # examples are drawn in order from one generator
        label = np.zeros((HEIGHT, WIDTH), np.uint8)
        image = np.empty((HEIGHT, WIDTH, 3))
        for channel in range(3):
            frequency = rng.uniform(0.005, 0.03, 2)
            image[..., channel] = 128 + 80 * np.sin(frequency[0] * x + frequency[1] * y)
        for _ in range(rng.integers(1, 4)):
            top, left = rng.integers(0, HEIGHT - 100), rng.integers(0, WIDTH - 100)
            bottom, right = top + rng.integers(60, 200), left + rng.integers(60, 250)
            label[top:bottom, left:right] = rng.integers(1, 21)
            image[top:bottom, left:right] = rng.uniform(0, 255, 3)
        image += rng.normal(0, 8, image.shape)
        return np.clip(image, 0, 255).astype(np.uint8), label

    return arrays


def consume(dataset) -> None:
    for _ in dataset:
        pass


def main(args: argparse.Namespace) -> None:
    print_header("Input pipeline throughput (VOC-sized JPEGs)", machine_info(), args.smoke)
    with tempfile.TemporaryDirectory() as root:
        ids = [f"2007_{index:06d}" for index in range(args.images)]
        write_voc_tree(root, {"train": ids}, photo_like_arrays(), jpeg_quality=90)
        jpeg_kb = np.mean(
            [
                os.path.getsize(os.path.join(root, "JPEGImages", name)) / 1024
                for name in os.listdir(os.path.join(root, "JPEGImages"))
            ]
        )
        print(f"{args.images} JPEGs of {WIDTH}×{HEIGHT}, {jpeg_kb:.0f} KB on average.\n")
        source = voc(root, "train")
        stages = {
            "voc source (decode + checks)": source,
            "training_pipeline: augment, crop 320, batch 8": training_pipeline(
                source, crop_size=320, batch_size=8, seed=0
            ),
            "same, cache=True": training_pipeline(
                source, crop_size=320, batch_size=8, seed=0, cache=True
            ),
            "training_pipeline: paper recipe (batch 1, native, no augmentation)": (
                training_pipeline(source, crop_size=None, batch_size=1, augment=False, seed=0)
            ),
            "evaluation_pipeline: batch 1": evaluation_pipeline(source),
        }
        rows = []
        for name, dataset in stages.items():
            timing = time_calls(lambda dataset=dataset: consume(dataset), args.repeats)
            rows.append(
                [
                    name,
                    f"{args.images / timing.best:.0f}",
                    f"{args.images / timing.median:.0f}",
                    f"{timing.cpu_best * usable_cores() / args.images * 1000:.1f}",
                    f"{timing.utilisation:.2f}",
                ]
            )
            print(f"  {name}: {args.images / timing.best:.0f} images/s", flush=True)
    print()
    headers = [
        "stage",
        "images/s (best)",
        "images/s (median)",
        "CPU ms per image",
        "CPU utilisation",
    ]
    print(markdown_table(headers, rows))


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    parser.add_argument("--images", type=int, default=64, help="number of images in the tree")
    arguments.add_repeats(parser, 5, "timed passes per stage")
    arguments.add_smoke(parser, f"a tree of {smoke.IMAGES} images, {smoke.REPEATS} pass per stage")
    return smoke.parse_args(parser, argv, images=smoke.IMAGES)


if __name__ == "__main__":
    main(parse_args())
