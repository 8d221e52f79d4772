"""Deployment on this CPU: every export format and precision against the float32 Keras model.

For FCN-8s (`--model`, any model of `keras_fcn.registry`, at full width with seeded random
score layers; or a trained `.keras` file with `--model-path`) at one input size, the script
exports the model in every format and precision of `keras_fcn.export.export_model`, loads each
export with its own runtime, and times, on the same synthetic photos:

- `Keras, tf.function` in float32 (float32 images in, logits out, as in `inference.py`: the
  reference) and in bfloat16 (`keras_fcn.export.bfloat16_model`);
- the SavedModel (TensorFlow, `serve_images`) in float32 and bfloat16;
- ONNX Runtime on the ONNX export in float32 and int8 (its own static quantization);
- OpenVINO on the IR in float32 (`f32` hint), bfloat16 (`bf16` hint) and int8 (NNCF), plain
  and accuracy-controlled (`--int8-min-agreement`: NNCF puts layers back in float until the
  class ids agree with float32's on that fraction of the calibration images' pixels);
- the peers: OpenVINO with its **default settings** on the same IR and on the ONNX file (it
  picks bfloat16 on CPUs with AVX512_BF16 or AMX): the bar the fastest path must reach;
- the LiteRT interpreter (XNNPACK) on the LiteRT export in float32 and full-integer int8, at the
  one input size it takes.

Exports take uint8 images and return class ids (`keras_fcn.export.load_predictor`, numpy in and
out, what `keras-fcn predict` uses). Every row reports the best and median wall-clock time, the
CPU time (steadier on a shared machine), the speed-up over Keras float32 by CPU time, and the
fraction of the same-run float32 matmul ceiling (and, where the CPU multiplies bfloat16 natively,
of the bfloat16 ceiling) by CPU time, counting the network's convolutions only.

Accuracy: each path's class ids against Keras float32's on the timing photos (with random
weights, a pessimistic proxy: random nets have many close calls). With `--dataset SPEC` (a
held-out labelled split, e.g. CamVid val with a trained `--model-path`) the accuracy guard
(`keras_fcn.export.check_agreement`) also runs on it: pixel agreement, mean IU of float32 and of
the path, and the change; int8 is then calibrated on `--calibration-dataset` (default: the same
spec's training split) instead of synthetic photos.

With `--graphs`, the script times instead the graph each runtime gets
(`keras_fcn.export.graphs`): fc6 as `MatmulConv2D`'s matrix product against fc6 as the plain 7×7
convolution with the same weights, in TensorFlow (the Keras model in a `tf.function`, what the
SavedModel runs), ONNX Runtime (float32), OpenVINO (f32 and bf16 hints, on the IR OpenVINO's ONNX
front end reads from the same ONNX file, as `write_openvino` converts it) and LiteRT (XNNPACK,
float32), with the **peer** a user would take instead: the same architecture written in PyTorch
(`peer_fcn8s`, the same layers as the aligned geometry's FCN-8s, random weights), run eagerly
in PyTorch for the TensorFlow row and exported with `torch.onnx.export` (any height and width,
as ours) for the ONNX Runtime and OpenVINO rows. Every graph takes uint8 NHWC images and returns
class ids only. Within a row, the calls are interleaved (ours as matmul, ours as convolution,
the peer, again, ...) after one warm-up each, and the medians kept.

Usage, from the repository root:

    python -m benchmarks.deploy                      # FCN-8s aligned 512×512, 15–30 minutes
    python -m benchmarks.deploy --model-path runs/camvid/best.keras \
        --dataset camvid:/data/CamVid --size 480 --geometry aligned
    python -m benchmarks.deploy --formats openvino --precisions bfloat16 int8
    python -m benchmarks.deploy --graphs --repeats 7  # fc6 per runtime, and the peer
    python -m benchmarks.deploy --smoke              # a minute: checks that the script runs
"""

import argparse
import contextlib
import dataclasses
import gc
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from benchmarks import arguments, models, smoke
from benchmarks.flops import total_flops
from benchmarks.machine import (
    cpu_flags,
    machine_info,
    matmul_ceiling,
    release_memory,
    time_against_ceiling,
    usable_cores,
)
from benchmarks.resnet_speed import interleaved
from benchmarks.serving import photos, with_random_scores
from benchmarks.tables import markdown_table, print_header, print_row
from keras_fcn import data, registry
from keras_fcn.export import (
    MIN_PIXEL_AGREEMENT,
    AccuracyGuardWarning,
    bfloat16_model,
    calibration_images,
    check_agreement,
    export_model,
    float32_model,
    load_predictor,
    make_predictor,
)
from keras_fcn.export.graphs import MATMUL_CONVOLUTIONS, plain_convolutions
from keras_fcn.export.litert import resized_examples, write_litert
from keras_fcn.export.onnx import write_onnx
from keras_fcn.export.runtimes import (
    compile_openvino,
    litert_function,
    onnx_function,
    openvino_function,
)
from keras_fcn.export.segmenter import ClassIds


@dataclasses.dataclass(frozen=True)
class Path:
    """One row: an export (or the Keras model) and the runtime settings it is timed with."""

    name: str
    format: str
    precision: str
    runtime: str
    peer: bool = False
    accuracy_controlled: bool = False


PATHS = (
    Path("Keras, tf.function", "keras", "float32", "TensorFlow"),
    Path("Keras, tf.function", "keras", "bfloat16", "TensorFlow"),
    Path("SavedModel, serve_images", "saved_model", "float32", "TensorFlow"),
    Path("SavedModel, serve_images", "saved_model", "bfloat16", "TensorFlow"),
    Path("ONNX export", "onnx", "float32", "ONNX Runtime"),
    Path("ONNX export", "onnx", "int8", "ONNX Runtime"),
    Path("OpenVINO export", "openvino", "float32", "OpenVINO, f32 hint"),
    Path("OpenVINO export", "openvino", "bfloat16", "OpenVINO, bf16 hint"),
    Path("OpenVINO export", "openvino", "int8", "OpenVINO (NNCF)"),
    Path(
        "OpenVINO export, accuracy-controlled",
        "openvino",
        "int8",
        "OpenVINO (NNCF, accuracy control)",
        accuracy_controlled=True,
    ),
    Path("peer: same IR", "openvino", "default", "OpenVINO, default settings", peer=True),
    Path("peer: same ONNX", "onnx", "default", "OpenVINO, default settings", peer=True),
    Path("LiteRT export", "litert", "float32", "LiteRT (XNNPACK)"),
    Path("LiteRT export", "litert", "int8", "LiteRT (XNNPACK)"),
)
"""Every row, in the order printed."""

FORMATS = tuple(dict.fromkeys(path.format for path in PATHS))
PRECISIONS = tuple(dict.fromkeys(path.precision for path in PATHS))

HEADERS = [
    "path",
    "format",
    "precision",
    "runtime",
    "export (s)",
    "first call (s)",
    "best (s)",
    "median (s)",
    "best, CPU time (s)",
    "× Keras float32 (CPU time)",
    "fraction of float32 ceiling (CPU time)",
    "fraction of bfloat16 ceiling (CPU time)",
    "core use",
    "class ids = float32's",
]

GUARD_HEADERS = [
    "path",
    "format",
    "precision",
    "images",
    "pixel agreement",
    "mean IU, float32",
    "mean IU",
    "change (points)",
    "passes the default guard",
]


def has_native_bfloat16() -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def build_model(args: argparse.Namespace) -> keras.Model:
    """The float32 model: a trained `.keras` file, or the registry's with random scores."""
    if args.model_path:
        import keras_fcn  # noqa: F401  (registers the layers load_model needs)

        # A model trained under mixed_bfloat16 keeps that policy in its file: the reference
        # must compute in float32.
        return float32_model(keras.models.load_model(args.model_path))
    return with_random_scores(models.build(args.model, args.geometry, args.fc_units))


def calibration(args: argparse.Namespace, num_classes: int) -> list[np.ndarray]:
    """int8 calibration images: the user's data, or synthetic photos at the timed size."""
    spec = args.calibration_dataset or args.dataset
    if spec:
        split = "train" if args.calibration_dataset is None else args.calibration_split
        source = data.from_spec(spec, split=split, num_classes=num_classes)
        return calibration_images(source, args.calibration_size)
    return list(photos(args.calibration_size + 8, args.size)[8:])  # not the timed photos


def guard_dataset(args: argparse.Namespace, num_classes: int, input_size=None):
    """The held-out labelled examples of `--dataset` (`None` without one)."""
    if not args.dataset:
        return None
    dataset = data.from_spec(args.dataset, split=args.split, num_classes=num_classes)
    if args.guard_size:
        dataset = dataset.take(args.guard_size)
    return resized_examples(dataset, input_size) if input_size else dataset


def open_path(
    path: Path,
    model: keras.Model,
    images: np.ndarray,
    workdir: str,
    calibration_set,
    min_agreement: float,
) -> tuple[Callable[[], object], Callable[[np.ndarray], np.ndarray], float, tuple | None]:
    """Exports and loads one path.

    Returns:
        The call to time (no argument, blocks until its output is ready), the path as a
        function from uint8 images to class ids, the export's seconds, and the fixed input size
        of the export (LiteRT) or `None`.
    """
    if path.format == "keras":
        timed_model = model if path.precision == "float32" else bfloat16_model(model)
        forward = tf.function(lambda x: timed_model(x, training=False))
        floats = tf.constant(images.astype("float32"))
        return lambda: forward(floats).numpy(), make_predictor(model, path.precision), 0.0, None
    size = images.shape[1:3] if path.format == "litert" else None
    precision = "float32" if path.peer else path.precision
    controlled = "-controlled" if path.accuracy_controlled else ""
    directory = os.path.join(workdir, f"{path.format}-{precision}{controlled}")
    start = time.perf_counter()
    if not os.path.isdir(directory):
        int8 = precision == "int8"
        export_model(
            model,
            directory,
            path.format,
            precision,
            input_size=size,
            calibration=calibration_set() if int8 else None,
            int8_min_agreement=min_agreement if path.accuracy_controlled else None,
        )
    seconds = 0.0 if path.peer else time.perf_counter() - start
    if path.peer:
        file = "model.onnx" if path.format == "onnx" else "model.xml"
        compiled = compile_openvino(os.path.join(directory, "1", file), precision=None)
        request = compiled.create_infer_request()

        def segment(batch: np.ndarray) -> np.ndarray:
            return request.infer({"images": batch})["class_ids"]

    elif path.format == "onnx":  # the session's default threads, without the image checks
        segment = onnx_function(os.path.join(directory, "1", "model.onnx"))
    else:
        segment = load_predictor(os.path.join(directory, "1"))
    return lambda: segment(images), segment, seconds, size


def fraction(flops: float, seconds: float, ceiling: float) -> str:
    return f"{flops / seconds / 1e9 / ceiling:.2f}"


def run_path(
    path: Path,
    args: argparse.Namespace,
    model: keras.Model,
    images: np.ndarray,
    workdir: str,
    context: dict,
) -> tuple[list, list | None]:
    """Times one path; returns its row and, with `--dataset`, its accuracy row."""
    call, segment, export_seconds, size = open_path(
        path, model, images, workdir, context["calibration"], args.int8_min_agreement
    )
    timing, ceiling = time_against_ceiling(call, args.repeats, ceiling_size=args.ceiling_size)
    if path.format == "keras" and path.precision == "float32":
        context["reference_cpu"] = timing.cpu_best
    equal = np.mean(segment(images) == context["reference_ids"])
    bfloat16_ceiling = context["bfloat16_ceiling"]
    row = [
        path.name,
        path.format,
        path.precision,
        path.runtime,
        f"{export_seconds:.0f}" if export_seconds else "",
        f"{timing.first:.2f}",
        f"{timing.best:.3f}",
        f"{timing.median:.3f}",
        f"{timing.cpu_best:.3f}",
        f"{context['reference_cpu'] / timing.cpu_best:.2f}",
        fraction(context["flops"], timing.cpu_best, ceiling.cpu),
        fraction(context["flops"], timing.cpu_best, bfloat16_ceiling.cpu)
        if bfloat16_ceiling
        else "",
        f"{timing.utilisation:.2f}",
        f"{equal:.4f}",
    ]
    print_row(row, file=sys.stderr)  # progress
    guard_row = None
    dataset = guard_dataset(args, context["num_classes"], size)
    if dataset is not None and not (path.format == "keras" and path.precision == "float32"):
        reference = context["reference_predict"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AccuracyGuardWarning)
            report = check_agreement(
                reference,
                segment,
                dataset,
                context["num_classes"],
                min_pixel_agreement=MIN_PIXEL_AGREEMENT.get(path.precision, 0.995),
                on_failure="warn",
            )
        guard_row = [
            path.name,
            path.format,
            path.precision,
            report.images,
            f"{report.pixel_agreement:.4f}",
            f"{100 * report.reference.mean_iou:.2f}",
            f"{100 * report.candidate.mean_iou:.2f}",
            f"{-100 * report.miou_drop:+.2f}",
            "yes" if report.passed else "no",
        ]
    del call, segment
    gc.collect()
    return row, guard_row


@dataclasses.dataclass(frozen=True)
class GraphRow:
    """One row of `--graphs`: a runtime and precision, timed on each graph and on the peer."""

    runtime: str
    format: str
    precision: str
    peer: str


GRAPH_ROWS = (
    GraphRow("TensorFlow (Keras, SavedModel)", "saved_model", "float32", "PyTorch, eager"),
    GraphRow("ONNX Runtime", "onnx", "float32", "its ONNX in ONNX Runtime"),
    GraphRow("OpenVINO, f32 hint", "openvino", "float32", "its ONNX in OpenVINO, f32 hint"),
    GraphRow("OpenVINO, bf16 hint", "openvino", "bfloat16", "its ONNX in OpenVINO, bf16 hint"),
    GraphRow("LiteRT (XNNPACK)", "litert", "float32", ""),
)
"""The rows of `--graphs`, in the order printed."""

GRAPH_HEADERS = [
    "runtime",
    "precision",
    "fc6 as matmul (s)",
    "fc6 as convolution (s)",
    "convolution / matmul",
    "graph exported",
    "peer",
    "peer (s)",
    "exported / peer",
    "class ids, convolution = matmul",
]


def peer_fcn8s(num_classes: int, fc_units: int):
    """FCN-8s in the aligned geometry written in plain `torch.nn`, as a PyTorch user would.

    VGG16's 13 "same" 3×3 convolutions and 5 pools, fc6 (7×7, padding 3) and fc7, the three
    score layers and the three deconvolutions (4×4 stride 2, 4×4 stride 2, 16×16 stride 8),
    the same layers and FLOPs as `keras_fcn.FCN8s(geometry="aligned")` on an input whose sides
    are multiples of 32 (no padding or cropping then). It takes uint8 NHWC images and returns
    int32 class ids, as our exports do. Random weights (speed only).
    """
    import torch
    from torch import nn

    class FCN8s(nn.Module):
        def __init__(self):
            super().__init__()
            self.stages, channels = nn.ModuleList(), 3
            for width, depth in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
                layers = []
                for _ in range(depth):
                    layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                    channels = width
                self.stages.append(nn.Sequential(*layers, nn.MaxPool2d(2, 2, ceil_mode=True)))
            self.fc = nn.Sequential(
                nn.Conv2d(512, fc_units, 7, padding=3),
                nn.ReLU(inplace=True),
                nn.Dropout2d(),
                nn.Conv2d(fc_units, fc_units, 1),
                nn.ReLU(inplace=True),
                nn.Dropout2d(),
                nn.Conv2d(fc_units, num_classes, 1),
            )
            self.score_pool4 = nn.Conv2d(512, num_classes, 1)
            self.score_pool3 = nn.Conv2d(256, num_classes, 1)
            self.upscore2 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False)
            self.upscore_pool4 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False)
            self.upscore8 = nn.ConvTranspose2d(num_classes, num_classes, 16, 8, 4, bias=False)
            mean = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
            self.register_buffer("mean", mean)

        def forward(self, images):
            bgr = images.permute(0, 3, 1, 2)[:, [2, 1, 0]].float() - self.mean
            pool3 = self.stages[2](self.stages[1](self.stages[0](bgr)))
            pool4 = self.stages[3](pool3)
            scores = self.fc(self.stages[4](pool4))
            fuse_pool4 = self.upscore2(scores) + self.score_pool4(pool4)
            fuse_pool3 = self.upscore_pool4(fuse_pool4) + self.score_pool3(pool3)
            return self.upscore8(fuse_pool3).argmax(1).int()

    torch.manual_seed(0)
    return FCN8s().eval()


def peer_call(row: GraphRow, net, images: np.ndarray, workdir: str):
    """The peer's call of a row, or `None` where there is none."""
    import torch

    if row.format == "saved_model":
        torch.set_num_threads(usable_cores())
        inputs = torch.from_numpy(images)

        def call():
            with torch.inference_mode():
                return net(inputs).numpy()

        return call
    if not row.peer:
        return None
    path = os.path.join(workdir, "peer.onnx")
    if not os.path.exists(path):
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                net,
                (torch.from_numpy(images),),
                path,
                input_names=["images"],
                output_names=["class_ids"],
                dynamic_axes={"images": {0: "batch", 1: "height", 2: "width"}},
                opset_version=17,
                dynamo=False,
            )
    if row.format == "onnx":
        segment = onnx_function(path)
    else:
        segment = openvino_function(path, row.precision)
    return lambda: segment(images)


def graph_call(row: GraphRow, model: keras.Model, images: np.ndarray, workdir: str, matmul: bool):
    """Our call of a row on one graph: fc6 as `MatmulConv2D` (`matmul`) or as a convolution."""
    if row.format == "saved_model":
        timed = model if matmul else plain_convolutions(model)
        forward = tf.function(lambda x: ClassIds()(timed(x, training=False)))
        floats = tf.constant(images.astype("float32"))
        return lambda: forward(floats).numpy()
    name = "matmul" if matmul else "convolution"
    if row.format == "litert":
        directory = os.path.join(workdir, f"litert-{name}")
        if not os.path.isdir(directory):
            os.makedirs(directory)
            write_litert(model, directory, input_size=images.shape[1:3], matmul_convolutions=matmul)
        segment = litert_function(os.path.join(directory, "model.tflite"))
        return lambda: segment(images)
    directory = os.path.join(workdir, f"onnx-{name}")
    if not os.path.isdir(directory):
        os.makedirs(directory)
        write_onnx(model, directory, matmul_convolutions=matmul)
    path = os.path.join(directory, "model.onnx")
    segment = (
        onnx_function(path) if row.format == "onnx" else openvino_function(path, row.precision)
    )
    return lambda: segment(images)


def time_graphs(args: argparse.Namespace, model: keras.Model, images: np.ndarray) -> list[list]:
    """The rows of `--graphs`, each timed interleaved (see the module)."""
    net = peer_fcn8s(int(model.outputs[0].shape[-1]), args.fc_units or 4096)
    rows = []
    workdir = tempfile.mkdtemp(prefix="deploy-graphs-")
    try:
        for row in GRAPH_ROWS:
            if row.format not in args.formats or row.precision not in args.precisions:
                continue
            calls = [graph_call(row, model, images, workdir, matmul) for matmul in (True, False)]
            peer = peer_call(row, net, images, workdir)
            ids = [np.asarray(call()) for call in calls]
            timings = interleaved(calls + ([peer] if peer else []), args.repeats)
            matmul, convolution = (timing.median for timing in timings[:2])
            exported = matmul if MATMUL_CONVOLUTIONS[row.format] else convolution
            peer_seconds = timings[2].median if peer else None
            rows.append(
                [
                    row.runtime,
                    row.precision,
                    f"{matmul:.3f}",
                    f"{convolution:.3f}",
                    f"{convolution / matmul:.2f}",
                    "matmul" if MATMUL_CONVOLUTIONS[row.format] else "convolution",
                    row.peer or "none",
                    f"{peer_seconds:.3f}" if peer_seconds else "",
                    f"{exported / peer_seconds:.2f}" if peer_seconds else "",
                    f"{np.mean(ids[0] == ids[1]):.4f}",
                ]
            )
            print_row(rows[-1], file=sys.stderr)  # progress
            del calls, peer
            release_memory()
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_model(parser, "with random weights")
    parser.add_argument(
        "--model-path", help="a trained .keras model instead (for real accuracy numbers)"
    )
    arguments.add_geometry(parser, "of the registry model")
    parser.add_argument(
        "--size",
        type=int,
        help="side of the square photos timed (default: the longer side of the model's native "
        "size, 512 aligned)",
    )
    parser.add_argument("--batch", type=int, default=1, help="images per call (default: 1)")
    arguments.add_repeats(parser, 3)
    arguments.add_fc_units(parser)
    arguments.add_subset(parser, "--formats", FORMATS, "formats to time")
    arguments.add_subset(
        parser,
        "--precisions",
        PRECISIONS,
        "precisions to time ('default': OpenVINO's own choice, the peers)",
    )
    parser.add_argument("--dataset", help="held-out labelled dataset spec for the accuracy table")
    parser.add_argument("--split", default="val", help="its split (default: val)")
    parser.add_argument(
        "--guard-size", type=int, help="compare on its first N images only (default: all)"
    )
    parser.add_argument(
        "--calibration-dataset", help="int8 calibration spec (default: --dataset's train split)"
    )
    parser.add_argument("--calibration-split", default="train", help="its split (default: train)")
    parser.add_argument(
        "--calibration-size", type=int, default=32, help="calibration images (default: 32)"
    )
    parser.add_argument(
        "--int8-min-agreement",
        type=float,
        default=0.995,
        help="agreement with float32 on the calibration images that the accuracy-controlled "
        "OpenVINO int8 row keeps (default: 0.995)",
    )
    parser.add_argument(
        "--graphs",
        action="store_true",
        help="time fc6 as matmul against fc6 as a convolution in each runtime, and the peer "
        "(see above), instead of every format and precision",
    )
    arguments.add_ceiling_size(parser, "side of the matrices of the matmul ceilings")
    arguments.add_smoke(
        parser,
        f"{smoke.MODEL} in the {smoke.GEOMETRY} geometry, {smoke.SIZE}×{smoke.SIZE}, fc6/fc7 of "
        f"{smoke.FC_UNITS} units, {smoke.REPEATS} repeat, 2 calibration images",
        duration="in a minute",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        # The random smoke net is full of close calls: a lower agreement for int8.
        smoke.shrink(args, calibration_size=2, int8_min_agreement=0.9)
    if not args.model_path:
        models.check_geometries(parser, [args.model], [args.geometry])
    args.size = args.size or max(models.native_size(args.model, args.geometry))
    return args


def main(args: argparse.Namespace) -> None:
    print_header("FCN deployment", machine_info(), args.smoke)
    model = build_model(args)
    num_classes = int(model.outputs[0].shape[-1])
    images = photos(args.batch, args.size)
    if args.graphs:
        print(
            f"fc6 per runtime: {registry.get(args.model).title}, {args.geometry} geometry, fc6/fc7 "
            f"of {args.fc_units or 4096} units, random weights; batch {args.batch} of "
            f"{args.size}×{args.size} synthetic photos, class ids out; medians of {args.repeats} "
            "interleaved calls (wall clock) after one warm-up each.\n"
        )
        print(markdown_table(GRAPH_HEADERS, time_graphs(args, model, images)), flush=True)
        return
    bfloat16_ceiling = None
    if has_native_bfloat16():
        bfloat16_ceiling = matmul_ceiling(args.ceiling_size, dtype="bfloat16")
    context = {
        "flops": total_flops(model, (args.batch, args.size, args.size, 3)),
        "num_classes": num_classes,
        "reference_ids": make_predictor(model)(images),
        "reference_predict": make_predictor(model),
        "reference_cpu": float("nan"),
        "bfloat16_ceiling": bfloat16_ceiling,
        "calibration": lambda: calibration(args, num_classes),
    }
    what = args.model_path or (
        f"{registry.get(args.model).title}, {args.geometry} geometry, fc6/fc7 of "
        f"{args.fc_units} units, random weights with seeded random score layers"
    )
    print(
        f"{what}; {num_classes} classes; batch {args.batch} of {args.size}×{args.size} synthetic "
        f"photos ({context['flops'] / args.batch / 1e9:.1f} GFLOP per image in the "
        f"convolutions). Every row: one warm-up call, then the best and the median of "
        f"{args.repeats} calls; the {args.ceiling_size}² float32 matmul ceiling is measured "
        "before and after each row and the better kept"
        + (
            f"; the bfloat16 ceiling once at the start ({bfloat16_ceiling.cpu:.0f} GFLOP/s by "
            "CPU time)."
            if bfloat16_ceiling
            else "; this CPU has no native bfloat16."
        )
        + f" int8 is calibrated on {args.calibration_size} images"
        + (
            f" of {args.calibration_dataset or args.dataset}.\n"
            if args.dataset
            else " (synthetic photos).\n"
        )
    )
    selected = [
        path
        for path in PATHS
        if (path.format in args.formats or (path.peer and "openvino" in args.formats))
        and path.precision in args.precisions
    ]
    reference = PATHS[0]
    if reference not in selected:
        selected.insert(0, reference)  # every speed-up is against it
    rows, guard_rows, failures = [], [], []
    workdir = tempfile.mkdtemp(prefix="deploy-")
    try:
        for path in selected:
            try:
                row, guard_row = run_path(path, args, model, images, workdir, context)
            except (ImportError, ValueError, RuntimeError) as error:
                failures.append(f"- {path.name}, {path.format}, {path.precision}: failed: {error}")
                print(failures[-1], file=sys.stderr, flush=True)
                continue
            rows.append(row)
            if guard_row:
                guard_rows.append(guard_row)
            release_memory()
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)
    # The whole table at the end: the runtimes print progress of their own on stdout.
    print(markdown_table(HEADERS, rows), flush=True)
    if failures:
        print("\n" + "\n".join(failures), flush=True)
    if guard_rows:
        print(
            f"\nAccuracy on {args.dataset} ({args.split}): each path against Keras float32, "
            "the default guard thresholds (mean IU loss at most 0.3 points; pixel agreement "
            "at least 99.5% for bfloat16, 99% for int8).\n"
        )
        print(markdown_table(GUARD_HEADERS, guard_rows), flush=True)


if __name__ == "__main__":
    main(parse_args())
