"""Speed of every registry model on an accelerator, on JAX or PyTorch, without TensorFlow.

The accelerator machines have JAX and PyTorch but no TensorFlow, so this script needs only
Keras, numpy and the backend's own library: it imports neither TensorFlow nor a part of
`keras_fcn` that does (`tests/test_benchmarks.py` runs it with TensorFlow blocked). It times,
for each model of `keras_fcn.registry`:

- **inference**: batch 1 at each geometry's native size (500×500 in the original geometry,
  512×512 in the aligned one) and batch 16, in float32 and in `mixed_bfloat16`. On JAX the
  forward pass is one `jax.jit` of `model.stateless_call`, compiled ahead of time; on PyTorch
  it is the eager model under `torch.no_grad()`. Images already sit on the device.
- **a training step**: `model.train_on_batch` on a batch of 16 random 320×320 crops, after
  `keras_fcn.training.compile_for_training` with the default recipe (Adam, warm-up and cosine
  schedule, the loss averaged over labelled pixels, the four scores), in float32 and in
  `mixed_bfloat16`; the step `model.fit` runs (XLA-compiled on JAX, eager on PyTorch).

Each row reports the first call (compilation included), the best and the median of the timed
calls, images/s, the achieved TFLOP/s (2 × the multiply-accumulates of every convolution,
counted from the model by `benchmarks.flops`; 3× that for a training step), the fraction of
the device's dense peak for the precision (`PEAK_TFLOPS`), and peak device memory.

Usage, from the repository root, on the accelerator machine:

    KERAS_BACKEND=jax python -m benchmarks.accelerator                  # every model
    KERAS_BACKEND=jax python -m benchmarks.accelerator --models fcn8s   # one model
    KERAS_BACKEND=torch python -m benchmarks.accelerator --models fcn8s
    KERAS_BACKEND=jax python -m benchmarks.accelerator --smoke          # seconds, CPU too
"""

import argparse
import dataclasses
import datetime
import importlib.metadata
import platform
import sys
import time

import keras

from benchmarks import arguments, models, smoke
from benchmarks.batches import random_batch
from benchmarks.flops import BACKWARD_FACTOR, total_flops
from benchmarks.machine import Timing, program, release_memory, time_calls
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn import registry, training

BACKENDS = ("jax", "torch")
"""The backends the script runs on (TensorFlow's benchmarks are the other scripts)."""

PRECISIONS = ("float32", "mixed_bfloat16")
"""Keras dtype policies timed."""

GIB = 2**30


@dataclasses.dataclass(frozen=True)
class Peak:
    """Dense (no sparsity) peak rates of a device in TFLOP/s, by the kind of arithmetic."""

    bfloat16: float
    tf32: float
    float32: float


PEAK_TFLOPS = {
    "H100 PCIe": Peak(bfloat16=756, tf32=378, float32=51),
    "H100 NVL": Peak(bfloat16=835, tf32=418, float32=60),
    "H200 NVL": Peak(bfloat16=835, tf32=418, float32=60),
    "H100": Peak(bfloat16=989, tf32=495, float32=67),
    "H200": Peak(bfloat16=989, tf32=495, float32=67),
    "A100": Peak(bfloat16=312, tf32=156, float32=19.5),
}
"""Dense peaks by a part of the device's name, the most specific first (`H100` alone is the SXM
part). Source: NVIDIA's H100, H200 and A100 datasheets, whose tensor-core figures are given
with 2:4 sparsity; dense is half of them (H100/H200 SXM: 1,979 → 989 bf16, 989 → 495 tf32; fp32
67 without tensor cores)."""


def backend_version() -> str:
    """The backend's library and version, e.g. `jax 0.10.2`."""
    package = {"jax": "jax", "torch": "torch"}.get(keras.backend.backend())
    if package is None:
        return keras.backend.backend()
    return f"{package} {importlib.metadata.version(package)}"


def device_name() -> str:
    """The name of the device the backend computes on (`cpu` where it has no accelerator)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].device_kind
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def on_accelerator() -> bool:
    return device_name().lower() != "cpu"


def float32_uses_tf32() -> bool:
    """Whether float32 convolutions run as TF32 on the tensor cores of this backend and device.

    On an NVIDIA GPU, JAX's default precision and PyTorch's `cudnn.allow_tf32` (on by default)
    both let float32 convolutions round their inputs to TF32.
    """
    if not on_accelerator():
        return False
    if keras.backend.backend() == "jax":
        import jax

        return jax.config.jax_default_matmul_precision in (None, "default", "tensorfloat32")
    import torch

    return bool(torch.backends.cudnn.allow_tf32)


def peak_tflops(precision: str, args: argparse.Namespace) -> tuple[float | None, str]:
    """The peak a row is compared with, and which one it is (`bf16`, `tf32`, `fp32`)."""
    kind = "bf16" if precision == "mixed_bfloat16" else ("tf32" if float32_uses_tf32() else "fp32")
    override = args.peak_tflops if kind == "bf16" else args.peak_tflops_float32
    if override:
        return override, kind
    name = device_name()
    for part, peak in PEAK_TFLOPS.items():
        if part in name:
            return {"bf16": peak.bfloat16, "tf32": peak.tf32, "fp32": peak.float32}[kind], kind
    return None, kind


def synchronize(value=None) -> None:
    """Waits until the device has finished the work queued so far."""
    if keras.backend.backend() == "jax":
        import jax

        jax.block_until_ready(value)
    else:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def reset_device_peak() -> None:
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()


def device_peak_gib() -> float | None:
    """Peak device memory: since `reset_device_peak` on PyTorch, of the whole process on JAX."""
    if keras.backend.backend() == "jax":
        import jax

        stats = jax.devices()[0].memory_stats()
        return None if not stats else stats["peak_bytes_in_use"] / GIB
    import torch

    return torch.cuda.max_memory_allocated() / GIB if torch.cuda.is_available() else None


def forward(model: keras.Model, images) -> tuple:
    """The timed forward call, its memory in GiB (XLA's buffers on JAX) or None, and the
    seconds spent compiling it ahead of time (0 on PyTorch)."""
    if keras.backend.backend() == "jax":
        import jax

        def stateless(trainable, non_trainable, images):
            return model.stateless_call(trainable, non_trainable, images, training=False)[0]

        arguments = (
            [variable.value for variable in model.trainable_variables],
            [variable.value for variable in model.non_trainable_variables],
            images,
        )
        start = time.perf_counter()
        compiled = jax.jit(stateless).lower(*arguments).compile()
        compile_seconds = time.perf_counter() - start
        usage = compiled.memory_analysis()
        gib = (
            usage.argument_size_in_bytes
            + usage.output_size_in_bytes
            + usage.temp_size_in_bytes
            - usage.alias_size_in_bytes
        ) / GIB
        return (lambda: synchronize(compiled(*arguments))), gib, compile_seconds
    import torch

    def call():
        with torch.no_grad():
            model(images, training=False)
        synchronize()

    return call, None, 0.0


def measured_cells(
    timing: Timing,
    flops: float,
    batch: int,
    precision: str,
    memory_gib: float | None,
    args: argparse.Namespace,
) -> list[str]:
    """A row's cells after its label: the first, best and median call, images/s, the achieved
    TFLOP/s, the peak compared with and the fraction of it, and the memory."""
    rate = flops / timing.best / 1e12
    peak, kind = peak_tflops(precision, args)
    return [
        f"{timing.first:.1f}",
        f"{1e3 * timing.best:.1f}",
        f"{1e3 * timing.median:.1f}",
        f"{batch / timing.best:.3g}",
        f"{rate:.3g}",
        f"{peak:g} ({kind})" if peak else f"unknown ({kind})",
        f"{rate / peak:.2f}" if peak else "",
        "" if memory_gib is None else f"{memory_gib:.2f}",
    ]


def row_headers(size: str, first: str, best: str) -> list[str]:
    """The headers of a table of `measured_cells` rows, with the names of three columns."""
    return [
        *("model", "geometry", size, "batch", "precision", first, best, "median (ms)"),
        *("images/s", "TFLOP/s", "peak TFLOP/s", "fraction of peak", "memory (GiB)"),
    ]


INFERENCE_HEADERS = row_headers("input", "first call (s)", "best (ms)")
TRAINING_HEADERS = row_headers("crop", "first step (s)", "best step (ms)")


def input_size(name: str, geometry: str, side: int | None) -> tuple[int, int]:
    """The inference input `(height, width)`: `side` squared, or the geometry's native size."""
    return (side, side) if side else tuple(models.native_size(name, geometry))


def training_pairs(names: list[str], geometries: list[str] | None) -> list[tuple[str, str]]:
    """The `(model, geometry)` pairs of the training rows: those of `geometries` each model
    has, or by default each model's training geometry."""
    if geometries:
        return models.own_geometries(names, geometries)
    return [(name, models.training_geometry(name)) for name in names]


def inference_row(name, geometry, size, batch, precision, args) -> list:
    """Times the forward pass of one configuration; returns a table row."""
    model = models.build_in_precision(name, geometry, args.fc_units, precision)
    images = keras.ops.convert_to_tensor(random_batch(batch, size, 1)[0])
    flops = total_flops(model, tuple(images.shape))
    reset_device_peak()
    call, xla_gib, compile_seconds = forward(model, images)
    timing = time_calls(call, args.repeats)
    timing = dataclasses.replace(timing, first=compile_seconds + timing.first)
    memory = xla_gib if xla_gib is not None else device_peak_gib()
    label = [name, geometry, f"{size[0]}×{size[1]}", batch, precision]
    return [*label, *measured_cells(timing, flops, batch, precision, memory, args)]


def training_row(name, geometry, crop, batch, precision, args) -> list:
    """Times `train_on_batch` of one configuration; returns a table row."""
    model = models.build_in_precision(name, geometry, args.fc_units, precision)
    num_classes = models.num_classes(name)
    recipe = training.default_recipe(batch_size=batch, crop_size=crop)
    training.compile_for_training(model, recipe, num_classes, total_steps=1000)
    images, labels = (
        keras.ops.convert_to_tensor(array)
        for array in random_batch(batch, (crop, crop), num_classes)
    )
    flops = BACKWARD_FACTOR * total_flops(model, tuple(images.shape))
    reset_device_peak()
    timing = time_calls(lambda: model.train_on_batch(images, labels), args.repeats)
    label = [name, geometry, f"{crop}×{crop}", batch, precision]
    return [*label, *measured_cells(timing, flops, batch, precision, device_peak_gib(), args)]


def machine_info() -> dict[str, str]:
    """Describes the device and libraries, without TensorFlow (see `machine.machine_info`)."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": device_name(),
        "backend": backend_version(),
        "keras": keras.__version__,
        "python": platform.python_version(),
        "float32 convolutions": "TF32 allowed" if float32_uses_tf32() else "float32",
        "command": " ".join([program(), *sys.argv[1:]]),
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_models(parser, registry.MODELS, "to time")
    arguments.add_geometries(
        parser, "geometries of the inference rows (default: every geometry of each model)"
    )
    arguments.add_batches(parser, [1, 16], "inference batch sizes")
    arguments.add_subset(
        parser, "--precisions", PRECISIONS, "Keras dtype policies to time inference and training in"
    )
    parser.add_argument(
        "--train-batch", type=int, default=16, help="training batch size (0: no training rows)"
    )
    parser.add_argument("--crop-size", type=int, default=320, help="side of the training crops")
    arguments.add_geometries(
        parser,
        "geometries of the training rows (default: aligned where the model has it, else its own)",
        flag="--train-geometries",
    )
    arguments.add_repeats(parser, 10)
    arguments.add_fc_units(parser)
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the device's dense bfloat16 peak in TFLOP/s, for a device not in PEAK_TFLOPS",
    )
    parser.add_argument(
        "--peak-tflops-float32",
        type=float,
        default=None,
        help="the peak float32 rows are compared with (TF32 where the backend allows it)",
    )
    arguments.add_smoke(
        parser,
        f"{smoke.SUMMARY}, both precisions for inference, float32 training",
        duration="in seconds, on a CPU too",
    )
    args = parser.parse_args(argv)
    if keras.backend.backend() not in BACKENDS:
        parser.error(
            f"run with KERAS_BACKEND=jax or torch; the backend is {keras.backend.backend()} "
            "(the other benchmark scripts time TensorFlow)."
        )
    args.sizes, args.train_precisions = None, args.precisions
    if args.smoke:
        smoke.shrink(
            args,
            sizes=smoke.SIZE,
            train_batch=smoke.BATCH,
            crop_size=smoke.SIZE,
            train_geometries=[smoke.GEOMETRY],
            train_precisions=["float32"],
        )
    return args


def main(args: argparse.Namespace) -> None:
    description = f"""
        Inference: one warm-up call (compilation included), then the best and the median of
        {args.repeats} calls. Training: `train_on_batch` with the default recipe, timed the same
        way. TFLOP/s counts 2 × the multiply-accumulates of every convolution (3× the forward pass
        for a training step); fc6/fc7 of {args.fc_units} units; random weights. Memory: XLA's
        buffers of the compiled forward pass on JAX, the allocator's peak on PyTorch; for training
        on JAX, the process's peak so far.
    """
    print_header("FCN on an accelerator", machine_info(), args.smoke, description)
    print("### Inference\n")
    print_headers(INFERENCE_HEADERS)
    for name in args.models:
        entry = registry.get(name)
        for geometry in entry.geometries:
            if args.geometries and geometry not in args.geometries:
                continue
            size = input_size(name, geometry, args.sizes)
            for batch in args.batches:
                for precision in args.precisions:
                    print_row(inference_row(name, geometry, size, batch, precision, args))
                    release_memory()
    if args.train_batch < 1:
        return
    print("\n### Training step\n")
    print_headers(TRAINING_HEADERS)
    for name, geometry in training_pairs(args.models, args.train_geometries):
        for precision in args.train_precisions:
            print_row(
                training_row(name, geometry, args.crop_size, args.train_batch, precision, args)
            )
            release_memory()


if __name__ == "__main__":
    main(parse_args())
