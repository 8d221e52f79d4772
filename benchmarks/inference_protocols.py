"""What the papers' test-time protocols cost: time and memory per image against one pass.

Each row runs one protocol of `keras_fcn.PROTOCOLS` (scales, flips, sliding windows, their merge,
a dense CRF) through `keras_fcn.inference.ProtocolPredictor` on one seeded image: a VOC-sized
500×375 image with 21 classes for the VOC protocols, a Cityscapes 2048×1024 image with 19
classes for Cityscapes' (PSPNet's six scales at 713×713 windows: 81 windows, 162 passes with
their mirrors). The model is small on purpose: three stride-2 3×3 convolutions (16, 32, 64
channels), one dilated 3×3 (64), a 1×1 classifier and a nearest ×8 upsampling cropped to the
input, about 1.2 GFLOP per 713×713 window, so that the table shows what the protocol itself
costs (resizing, padding, windows, merging, accumulating) next to the model; "passes" and
"Mpixel" say how many times and over how many pixels the model runs, which is what a real net's
time grows with. Each row's time is also given as a multiple of the single-scale pass on the
same image, measured in the same run.

Every row makes one warm-up call (tracing included: "first call"), then keeps the best and the
median of `--repeats` calls; the memory columns are the peaks of one more call above the state
before it.

`--potts-example DIR` also compares `keras_fcn.dense_crf` with the outputs that `pydensecrf`'s
own example publishes (`examples/` of github.com/lucasb-eyer/pydensecrf: `im{1,2,3}.png`,
`anno{1,2,3}.png`, `out{1,2,3}.png`; Potts compatibilities, labels with probability 0.7, a
smoothness kernel of 3 px and weight 3, an appearance kernel of 80 px and 13 colour levels and
weight 10, 5 iterations), and reruns the example's own code path here.

Usage, from the repository root:

    python -m benchmarks.inference_protocols            # every protocol, VOC and Cityscapes
    python -m benchmarks.inference_protocols --quick    # the VOC image only, one repeat
    python -m benchmarks.inference_protocols --smoke    # seconds: checks that the script runs
    python -m benchmarks.inference_protocols --potts-example pydensecrf/examples
"""

import argparse
import dataclasses
import pathlib

import keras
import numpy as np

from benchmarks import arguments
from benchmarks.machine import MEMORY_HEADERS, PeakMemory, machine_info, time_calls
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn.inference import (
    PROTOCOLS,
    CRFSettings,
    ProtocolPredictor,
    dense_crf,
    scaled_size,
    window_starts,
)
from keras_fcn.layers import CropToReference

IMAGES = {
    # name: (height, width, classes, protocols)
    "voc": (
        375,
        500,
        21,
        (
            "single-scale",
            "pspnet-ss",
            "pspnet-ms",
            "deeplab-v3-ms",
            "deeplab-v2-msc",
            "deeplab-v2-msc-crf",
        ),
    ),
    "cityscapes": (
        1024,
        2048,
        19,
        ("single-scale", "pspnet-cityscapes-ss", "pspnet-cityscapes-ms", "deeplab-v3-ms"),
    ),
}
"""The images timed, each with the protocols of its dataset (single-scale first: the ratios'
reference)."""

SMOKE_SIZES = {"voc": (38, 50), "cityscapes": (64, 128)}
SMOKE_WINDOW = 32
"""A smoke run's images and windows; its protocols have no base size (PSPNet's would scale
even a tiny image to 2049 pixels)."""

HEADERS = [
    "image",
    "protocol",
    "passes",
    "Mpixel",
    "first call (s)",
    "best (s)",
    "median (s)",
    "× single-scale",
    *MEMORY_HEADERS,
]


def small_model(num_classes: int) -> keras.Model:
    """The small segmentation net of the table (see the module docstring), seeded."""
    keras.utils.set_random_seed(0)
    images = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(images)
    for filters in (16, 32, 64):  # 1/2, 1/4, 1/8
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(64, 3, dilation_rate=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(num_classes, 1)(x)
    x = keras.layers.UpSampling2D(8)(x)  # nearest: bilinear needs a static size
    return keras.Model(images, CropToReference()([x, images]), name="small")


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A seeded RGB image in [0, 255] of smooth colour blobs (a random field upsampled)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (1, max(2, height // 32), max(2, width // 32), 3))
    image = keras.ops.image.resize(coarse.astype("float32"), (height, width))
    return keras.ops.convert_to_numpy(image)[0]


def model_passes(protocol, size: tuple[int, int]) -> tuple[int, float]:
    """How many times a protocol runs the model on an image of `size`, and over how many
    megapixels (padding included)."""
    passes, pixels = 0, 0
    for scale in protocol.scales:
        scaled = scaled_size(size, scale, protocol.base_size)
        window = protocol.window or scaled
        stride = protocol.window_stride or scaled
        padded = [max(side, side_window) for side, side_window in zip(scaled, window, strict=True)]
        count = len(window_starts(padded[0], window[0], stride[0])) * len(
            window_starts(padded[1], window[1], stride[1])
        )
        count *= 2 if protocol.flip else 1
        passes += count
        pixels += count * window[0] * window[1]
    return passes, pixels / 1e6


def shrunk(protocol):
    """A protocol as a smoke run runs it: small windows, no base size."""
    return dataclasses.replace(
        protocol,
        window=(SMOKE_WINDOW, SMOKE_WINDOW) if protocol.window else None,
        stride=None,
        base_size=None,
    )


def crf_available() -> bool:
    try:
        import pydensecrf.densecrf  # noqa: F401
    except ImportError:
        return False
    return True


def time_protocols(args: argparse.Namespace) -> None:
    """Prints one row per image and protocol, as each is measured."""
    print_headers(HEADERS)
    for image_name in args.images:
        height, width, num_classes, names = IMAGES[image_name]
        if args.smoke:
            height, width = SMOKE_SIZES[image_name]
        image = smooth_image(height, width)[None]
        model = small_model(num_classes)
        reference = None
        for name in names:
            protocol = PROTOCOLS[name]
            if args.protocols and name not in args.protocols and name != "single-scale":
                continue
            if protocol.crf is not None and not crf_available():
                print(f"({name} skipped: pydensecrf2 is not installed)")
                continue
            protocol = shrunk(protocol) if args.smoke else protocol
            predictor = ProtocolPredictor(model, protocol, batch_size=args.batch_size)
            timing = time_calls(lambda run=predictor, batch=image: run(batch), args.repeats)
            with PeakMemory() as memory:
                predictor(image)
            reference = reference or timing.best
            passes, megapixels = model_passes(protocol, (height, width))
            print_row(
                [
                    f"{image_name} {width}×{height}",
                    name,
                    passes,
                    f"{megapixels:.1f}",
                    f"{timing.first:.3f}",
                    f"{timing.best:.3f}",
                    f"{timing.median:.3f}",
                    f"{timing.best / reference:.2f}",
                    *memory.cells(),
                ]
            )


def read_labels(path: pathlib.Path) -> np.ndarray:
    """An RGB annotation as one integer per pixel (0xBBGGRR), as the example reads it."""
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def compare_with_potts_example(directory: pathlib.Path) -> None:
    """Prints how often `dense_crf` and the example's own code path agree with the example's
    published outputs."""
    import time

    import pydensecrf.densecrf as densecrf
    from PIL import Image
    from pydensecrf.utils import (
        create_pairwise_bilateral,
        create_pairwise_gaussian,
        unary_from_labels,
    )

    example = CRFSettings(pos_w=3, pos_xy_std=3, bi_w=10, bi_xy_std=80, bi_rgb_std=13)
    print(
        "\n### Dense CRF against pydensecrf's Potts example\n\n"
        "Share of pixels whose label equals the example's published `out*.png`; the example's "
        "own path is its generic `DenseCRF` with `create_pairwise_*` features ordered (y, x, "
        "r, g, b), rerun here; `keras_fcn.dense_crf` uses `DenseCRF2D`, whose features are "
        "ordered (x, y, r, g, b).\n"
    )
    print_headers(["image", "size", "labels", "dense_crf", "example's path", "dense_crf (s)"])
    for index in (1, 2, 3):
        image = np.array(Image.open(directory / f"im{index}.png").convert("RGB"))
        colours, labels = np.unique(
            read_labels(directory / f"anno{index}.png"), return_inverse=True
        )
        unknown = 0 in colours
        colours = colours[1:] if unknown else colours
        published = np.searchsorted(colours, read_labels(directory / f"out{index}.png"))
        height, width = image.shape[:2]
        unary = unary_from_labels(labels, len(colours), gt_prob=0.7, zero_unsure=unknown)
        probabilities = np.exp(-unary).T.reshape(height, width, len(colours))
        start = time.perf_counter()
        ours = dense_crf(image, probabilities, iterations=5, settings=example).argmax(-1)
        seconds = time.perf_counter() - start
        crf = densecrf.DenseCRF(height * width, len(colours))
        crf.setUnaryEnergy(unary)
        for features, compat in (
            (create_pairwise_gaussian(sdims=(3, 3), shape=(height, width)), 3),
            (create_pairwise_bilateral(sdims=(80, 80), schan=(13, 13, 13), img=image, chdim=2), 10),
        ):
            crf.addPairwiseEnergy(
                features,
                compat=compat,
                kernel=densecrf.DIAG_KERNEL,
                normalization=densecrf.NORMALIZE_SYMMETRIC,
            )
        theirs = np.array(crf.inference(5)).argmax(0).reshape(height, width)
        print_row(
            [
                f"im{index}.png",
                f"{width}×{height}",
                len(colours),
                f"{np.mean(ours == published):.5f}",
                f"{np.mean(theirs == published):.5f}",
                f"{seconds:.3f}",
            ]
        )


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_subset(
        parser,
        "--images",
        list(IMAGES),
        "images to time: voc (500×375, the VOC and ADE20K protocols) and cityscapes (2048×1024) "
        "(default: both)",
    )
    parser.add_argument(
        "--protocols",
        nargs="+",
        choices=list(PROTOCOLS),
        help="protocols to time, with single-scale always (default: each image's)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=4, help="windows per model call (default: 4)"
    )
    arguments.add_repeats(parser, 2)
    parser.add_argument(
        "--potts-example",
        type=pathlib.Path,
        help="the examples/ folder of pydensecrf's repository, to compare dense_crf with its "
        "published outputs (default: no comparison)",
    )
    arguments.add_quick(parser, "the VOC image only, 1 repeat")
    arguments.add_smoke(
        parser,
        f"images of {SMOKE_SIZES['voc'][1]}×{SMOKE_SIZES['voc'][0]} and "
        f"{SMOKE_SIZES['cityscapes'][1]}×{SMOKE_SIZES['cityscapes'][0]}, windows of "
        f"{SMOKE_WINDOW}, no base size, 1 repeat",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeats = ["voc"], 1
    if args.smoke:
        args.repeats = 1
    return args


def main(args: argparse.Namespace) -> None:
    description = f"""
        One image per row, batch 1, {args.batch_size} windows per model call; the small net of the
        module docstring with random weights. One warm-up call, then the best and the median of
        {args.repeats} calls; × single-scale: best time over the single-scale pass's on the same
        image. Memory columns: peaks of one more call above the state before it.
    """
    print_header("Test-time protocols", machine_info(), args.smoke, description)
    time_protocols(args)
    if args.potts_example is not None:
        compare_with_potts_example(args.potts_example)


if __name__ == "__main__":
    main(parse_args())
