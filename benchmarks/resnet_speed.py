"""CPU inference of the ResNet-era nets against the same nets in PyTorch, and a training step's
peak memory.

For each selected net of `keras_fcn.registry` (DeepLab v2 ResNet-101, DeepLab v3 ResNet-50/101,
torchvision's FCN and DeepLabV3 on ResNet-50/101, all by default) with random weights, batch 1
at 513×513 (`--size`; torchvision's nets are usually run at 520, their registry's native size),
the script builds the same net in PyTorch and times both in one process, interleaved call by
call (ours, PyTorch's, ours, ...), each side pinned to the same number of threads
(`--threads`, one per usable core by default):

- DeepLab v3 against torchvision's `deeplabv3_resnet{50,101}` (the issue's peer: no PyTorch
  DeepLab v3 of the paper exists). Ours runs at output stride 8, the paper's evaluation, as
  torchvision's does; the nets differ where the releases do (keras.applications' stride in the
  1×1, biased convolutions and multi-grid; torchvision's extra 3×3 in the head), so each side's
  MACs are counted and printed.
- torchvision's four nets against torchvision's own builders: the same layer list.
- DeepLab v2 ResNet-101 against torchvision's `resnet101` rearranged into MSRA's Caffe layout
  (stride in `res3a`'s 1×1, every `res4` 3×3 dilated by 2 and `res5` by 4, pool1 rounding up)
  with ASPP-L's four dilated 3×3 convolutions summed and the 8× corner-aligned zoom.

Paths (`--paths`): `float32` (our `tf.function` against `torch.inference_mode`), `bfloat16`
(ours: `keras_fcn.export.bfloat16_model`; PyTorch's: the module and the image cast to
`torch.bfloat16`), and the two OpenVINO settings of `benchmarks.deploy`'s peers: our OpenVINO
export against OpenVINO on the PyTorch net exported to ONNX (`torch.onnx.export`), both
compiled with the f32 hint (`openvino-f32`) and with OpenVINO's defaults (`openvino-default`,
bfloat16 on CPUs with AVX512_BF16 or AMX). Our export takes uint8 images and also returns class
ids and probabilities; PyTorch's ONNX returns the logits.

Our side is what the library runs for inference: `keras_fcn.export.precision.in_process_model`
(what `keras_fcn.export.make_predictor` and `keras-fcn predict` run), in a `tf.function`, and
`keras_fcn.export.export_model` for OpenVINO. Where those fold batch normalization into the
convolutions, this benchmark times the folded graph without a change here
(`inference_model`). Our nets get the nonzero biases and batch-normalization statistics of a
trained net (`benchmarks.models.with_trained_statistics`): a fresh net's folded biases are zero,
TensorFlow's graph optimizer removes them, and the ReLUs then run apart from the convolutions
instead of fused into them (DeepLab v2 ResNet-101 about 2 % slower). PyTorch's timing does not
depend on the values.

Every row: one warm-up call each, then `--repeats` interleaved calls each; the **median** wall
and CPU time of each side (CPU time: process seconds ÷ cores, steadier on a shared machine; see
`benchmarks.machine.Timing`). MACs are counted from each side's graph: ours by
`benchmarks.flops.conv_flops` (Conv2D layers, output positions × kh × kw × input channels),
PyTorch's by forward hooks on every `nn.Conv2d` during its warm-up call (output elements ×
kh × kw × input channels ÷ groups). The float32 4096² matmul ceiling is measured before and
after each net (the better kept); "share of ceiling" is ours (and PyTorch's) FLOPs (2 · MACs)
per median CPU second over it; × PyTorch is PyTorch's median CPU time over ours (above 1: ours
is faster).

`--dilation` adds a table of our float32 graph (whose dilated convolutions run as
`keras_fcn.layers.DilatedConv2D`, one dilated convolution) against the same folded graph with
Keras' `Conv2D` in their place (which TensorFlow runs as `SpaceToBatchND`, a convolution and
`BatchToSpaceND`: the graph before `DilatedConv2D`), interleaved call by call, for
`--dilation-models` (DeepLab v3 ResNet-50 at output stride 8 and DeepLab v2 ResNet-101 by
default); its last column is the ratio of their median CPU times (above 1: `DilatedConv2D` is
faster): 2.00 on DeepLab v3 ResNet-50 and 1.07 on DeepLab v2 ResNet-101 at 513×513 on 2 cores
(benchmarks/README.md).

`--tap-sums` adds the same comparison for `keras_fcn.layers.TapSumConv2D` (convolutions from
a 2,048-channel input to a narrower output as one matrix product and shifted sums) against the
graph with those convolutions as the copy would otherwise run them, for `--tap-sum-models`
(DeepLab v2 ResNet-101's ASPP-L, torchvision's FCN-ResNet50 head and PSPNet-50's by default).

`--phases` adds the same comparison for the ResNet stages the copy runs on the phases of their
maps (`keras_fcn.inference.phase_layout`: the third stage's 3×3 convolutions at dilation 2 as
`keras_fcn.layers.PhaseConv2D`) against the copy without phases (`inference_copy(model,
phases=False)`), for `--phase-models` (DeepLab v2 ResNet-101, torchvision's FCN-ResNet50 and
DeepLab v3 ResNet-50 at output stride 8 by default).

`--memory` adds the peak memory of DeepLab v3 ResNet-101 (`--memory-model`) training steps at
513×513 (output stride 16, the paper's training; `--memory-batches`), each in a fresh process:
`model.fit`'s step (`train_on_batch`, SGD with momentum,
`SparseCategoricalCrossentropy(ignore_class=255)`), a warm-up step (tracing, the momentum), then
measured steps. It prints the process's peak resident set size
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`) after the model is built and after the steps, and
the steady step's peaks above the state before it (`PeakMemory`: TensorFlow's allocator and the
kernel's `VmHWM`).

PyTorch's nets need torchvision (random weights; nothing downloads): `pip install --no-deps
torchvision==0.28.0` beside the project's CPU torch 2.13. Without it, only our side is timed.

Usage, from the repository root:

    python -m benchmarks.resnet_speed                       # every net, float32 and bfloat16
    python -m benchmarks.resnet_speed --models deeplabv3-resnet101 --paths openvino-f32 \\
        openvino-default
    python -m benchmarks.resnet_speed --models --memory     # the training step's memory only
    python -m benchmarks.resnet_speed --models --phases     # with and without phases only
    python -m benchmarks.resnet_speed --smoke               # seconds: checks that it runs
"""

import argparse
import copy
import dataclasses
import importlib
import os
import resource
import sys
import tempfile
import types

import numpy as np
import tensorflow as tf

from benchmarks import arguments, smoke
from benchmarks.batches import random_batch
from benchmarks.flops import total_flops
from benchmarks.machine import (
    MEMORY_HEADERS,
    PeakMemory,
    Timing,
    machine_info,
    matmul_ceiling,
    release_memory,
    run_in_fresh_process,
    time_calls,
    usable_cores,
)
from benchmarks.models import with_trained_statistics
from benchmarks.tables import print_header, print_headers, print_row
from keras_fcn import registry
from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.inference import inference_copy

NUM_CLASSES = 21
"""PASCAL VOC's classes, background included: what every net here scores."""

PEERS = {
    "deeplab-aspp-resnet101": "DeepLab v2 (torchvision resnet101 in Caffe's layout + ASPP-L)",
    "deeplabv3-resnet50": "torchvision deeplabv3_resnet50",
    "deeplabv3-resnet101": "torchvision deeplabv3_resnet101",
    "torchvision-fcn-resnet50": "torchvision fcn_resnet50",
    "torchvision-fcn-resnet101": "torchvision fcn_resnet101",
    "torchvision-deeplabv3-resnet50": "torchvision deeplabv3_resnet50",
    "torchvision-deeplabv3-resnet101": "torchvision deeplabv3_resnet101",
}
"""Each net timed and its PyTorch peer, in the order of the table."""

BUILD_OPTIONS = {
    "deeplabv3-resnet50": {"output_stride": 8},
    "deeplabv3-resnet101": {"output_stride": 8},
}
"""Options of the registry's build: DeepLab v3 is evaluated at output stride 8 (the paper's
practice, torchvision's only stride)."""

SIZE = 513
"""DeepLab's crop, every net's timed side."""

PATHS = ("float32", "bfloat16", "openvino-f32", "openvino-default")
DEFAULT_PATHS = ("float32", "bfloat16")

DILATION_MODELS = ("deeplabv3-resnet50", "deeplab-aspp-resnet101")
"""The nets `--dilation` times by default: DeepLab v3's ASPP at rates 12, 24, 36 on a dilated
ResNet-50, and DeepLab v2's dilated ResNet-101 with ASPP-L at rates 6, 12, 18, 24."""

TAP_SUM_MODELS = ("deeplab-aspp-resnet101", "torchvision-fcn-resnet50", "pspnet50")
"""The nets `--tap-sums` times by default: DeepLab v2's ASPP-L (3×3, 2,048 → 21 at rates 6 to
24), torchvision's FCN head (3×3, 2,048 → 512) and PSPNet's (3×3, 4,096 → 512); any net of the
registry can be named."""

PHASE_MODELS = ("deeplab-aspp-resnet101", "torchvision-fcn-resnet50", "deeplabv3-resnet50")
"""The nets `--phases` times by default: ResNet's third stage at dilation 2 on phases, in
DeepLab v2's ResNet-101 and torchvision's and DeepLab v3's ResNet-50 at output stride 8."""

MEMORY_MODELS = ("deeplabv3-resnet101", "deeplabv3-resnet50")
"""The nets whose training step `--memory` measures: the issue's, and a smaller one."""
MEMORY_OUTPUT_STRIDE = 16
"""The paper trains DeepLab v3 at output stride 16 (and evaluates at 8)."""

ROW_HEADERS = [
    "model",
    "path",
    "input",
    "parameters",
    "G MACs",
    "median (s)",
    "median, CPU time (s)",
    "core use",
    "share of float32 ceiling (CPU time)",
    "PyTorch peer",
    "peer parameters",
    "peer G MACs",
    "peer median (s)",
    "peer median, CPU time (s)",
    "peer share of float32 ceiling (CPU time)",
    "× PyTorch (CPU time)",
]


@dataclasses.dataclass(frozen=True)
class Swap:
    """A layer the inference copy runs in place of Keras' own, timed against the graph without
    it: `--dilation`, `--tap-sums` and `--phases`."""

    layer: str
    """The class in `keras_fcn.layers` (`DilatedConv2D`, `TapSumConv2D`, `PhaseConv2D`)."""
    counted: str
    """The table's name of the layers swapped."""
    without: str
    """What runs in their place without the swap, as the table calls it."""
    title: str
    """The table's heading and first sentence."""

    def headers(self) -> list[str]:
        return [
            "model",
            "input",
            self.counted,
            "G MACs",
            f"{self.layer} median, CPU time (s)",
            "share of float32 ceiling (CPU time)",
            f"{self.without} median, CPU time (s)",
            f"{self.without} share of float32 ceiling (CPU time)",
            f"× {self.without} (CPU time)",
        ]


DILATION = Swap(
    "DilatedConv2D",
    "dilated convolutions",
    "Keras Conv2D",
    "Dilated convolutions: DilatedConv2D against Keras' Conv2D\n\nOur float32 graph (batch "
    "normalization folded, dilated convolutions as DilatedConv2D) against the same graph with "
    "Keras' dilated Conv2D (SpaceToBatchND, convolution, BatchToSpaceND)",
)
TAP_SUMS = Swap(
    "TapSumConv2D",
    "tap-sum convolutions",
    "convolution",
    "Tap sums: TapSumConv2D against the convolution\n\nOur float32 graph (wide-input "
    "convolutions as TapSumConv2D) against the same graph with those convolutions as the copy "
    "would otherwise run them (DilatedConv2D where dilated, Keras' Conv2D otherwise)",
)
PHASES = Swap(
    "PhaseConv2D",
    "convolutions on phases",
    "DilatedConv2D",
    "Phases: ResNet stages on the phases of their maps against the dilated convolution\n\nOur "
    "float32 graph (ResNet's third stage at dilation 2 on the phases of its maps, its 3×3 "
    "convolutions as PhaseConv2D) against the same graph without phases (`inference_copy(model, "
    "phases=False)`: those convolutions as DilatedConv2D)",
)

MEMORY_ROW_HEADERS = [
    "model",
    "output stride",
    "crop",
    "batch",
    "parameters",
    "median step (s)",
    "peak RSS after build (MiB)",
    "peak RSS after the steps (MiB)",
    *MEMORY_HEADERS,
]


def import_torchvision() -> types.ModuleType | None:
    """torchvision, imported beside the project's CPU torch; `None` where it is not installed.

    PyPI's torchvision wheel is built against the CUDA torch: its `_C` operators do not load
    into the CPU build, and `torchvision._meta_registrations` then fails at import, registering
    fake kernels for operators that do not exist (`torchvision::nms`). Those kernels serve the
    detection ops only; the segmentation nets never reach them, so the module is replaced by an
    empty one before the import.
    """
    if importlib.util.find_spec("torchvision") is None:
        return None
    sys.modules.setdefault(
        "torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations")
    )
    return importlib.import_module("torchvision")


def torch_peer(name: str, torchvision: types.ModuleType):
    """The PyTorch net timed against the registry's `name`, in `eval()` mode, random weights:
    a module mapping NCHW float32 images to NCHW logits at the images' size."""
    import torch
    from torch import nn
    from torch.nn import functional

    segmentation = torchvision.models.segmentation
    builders = {
        "deeplabv3-resnet50": segmentation.deeplabv3_resnet50,
        "deeplabv3-resnet101": segmentation.deeplabv3_resnet101,
        "torchvision-fcn-resnet50": segmentation.fcn_resnet50,
        "torchvision-fcn-resnet101": segmentation.fcn_resnet101,
        "torchvision-deeplabv3-resnet50": segmentation.deeplabv3_resnet50,
        "torchvision-deeplabv3-resnet101": segmentation.deeplabv3_resnet101,
    }

    class Logits(nn.Module):
        """torchvision's `{"out": logits}` as the logits."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, images):
            return self.net(images)["out"]

    class DeepLabV2(nn.Module):
        """DeepLab v2's ResNet-101 with ASPP-L (DrSleep/tensorflow-deeplab-resnet
        `misc/deploy.prototxt`) from torchvision's ResNet-101 at output stride 8."""

        def __init__(self, rates=(6, 12, 18, 24)):
            super().__init__()
            resnet = torchvision.models.resnet101(
                weights=None, replace_stride_with_dilation=[False, True, True]
            )
            # res3a strides in its 1×1 (conv1), torchvision in its 3×3 (conv2).
            resnet.layer2[0].conv1.stride, resnet.layer2[0].conv2.stride = (2, 2), (1, 1)
            # Every res4 3×3 dilated by 2 and res5 by 4: torchvision keeps each first block at
            # the previous rate.
            for layer, rate in ((resnet.layer3, 2), (resnet.layer4, 4)):
                for block in layer:
                    block.conv2.dilation = block.conv2.padding = (rate, rate)
            resnet.maxpool = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)  # Caffe's pool1
            self.backbone = nn.Sequential(*list(resnet.children())[:-2])
            self.aspp = nn.ModuleList(
                nn.Conv2d(2048, NUM_CLASSES, 3, padding=rate, dilation=rate) for rate in rates
            )

        def forward(self, images):
            features = self.backbone(images)
            scores = sum(branch(features) for branch in self.aspp)
            return functional.interpolate(
                scores, size=images.shape[-2:], mode="bilinear", align_corners=True
            )

    if name == "deeplab-aspp-resnet101":
        net = DeepLabV2()
    else:
        net = Logits(builders[name](weights=None, weights_backbone=None, num_classes=NUM_CLASSES))
    with torch.no_grad():  # random BN statistics, as our random nets have none to fold either
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def torch_macs(net, images) -> tuple[int, object]:
    """Multiply-accumulates of every `nn.Conv2d` of `net` on `images`, counted by forward hooks
    during one pass; returns them and the pass's output."""
    import torch
    from torch import nn

    macs = 0

    def count(module, inputs, output):
        nonlocal macs
        height, width = module.kernel_size
        macs += output.numel() * module.in_channels // module.groups * height * width

    convolutions = [module for module in net.modules() if isinstance(module, nn.Conv2d)]
    handles = [module.register_forward_hook(count) for module in convolutions]
    try:
        with torch.inference_mode():
            output = net(images)
    finally:
        for handle in handles:
            handle.remove()
    return macs, output


def inference_model(model, precision: str):
    """The model our inference path runs in a precision (`in_process_model`: what
    `make_predictor` and `keras-fcn predict` run). Batch normalization folding, where the
    library does it, happens there, so that this benchmark times what users run."""
    from keras_fcn.export.precision import in_process_model

    return in_process_model(model, precision)


def our_call(model, path: str, images: np.ndarray, workdir: str):
    """Our side of a path: a call without argument that blocks until its output is ready."""
    if path in ("float32", "bfloat16"):
        timed = inference_model(model, path)
        forward = tf.function(lambda x: timed(x, training=False))
        floats = tf.constant(images)
        return lambda: forward(floats).numpy()
    import openvino

    from keras_fcn.export import export_model
    from keras_fcn.export.layout import IMAGES_INPUT
    from keras_fcn.export.runtimes import compile_openvino

    directory = os.path.join(workdir, f"{model.name}-openvino")
    if not os.path.isdir(directory):
        export_model(model, directory, "openvino", "float32")
    # The input's shape fixed, as the PyTorch net's ONNX fixes it.
    graph = openvino.Core().read_model(os.path.join(directory, "1", "model.xml"))
    graph.reshape({IMAGES_INPUT: list(images.shape)})
    hint = "float32" if path == "openvino-f32" else None
    request = compile_openvino(graph, hint).create_infer_request()
    uint8 = images.astype("uint8")
    return lambda: request.infer({IMAGES_INPUT: uint8})


def peer_call(net, path: str, images: np.ndarray, workdir: str, name: str):
    """PyTorch's side of a path (see `our_call`)."""
    import torch

    nchw = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    if path in ("float32", "bfloat16"):
        # A copy: `Module.to` casts in place, and the float32 path keeps `net`.
        timed = net if path == "float32" else copy.deepcopy(net).to(torch.bfloat16)
        inputs = nchw if path == "float32" else nchw.to(torch.bfloat16)

        def call():
            with torch.inference_mode():
                return timed(inputs)

        return call
    from keras_fcn.export.runtimes import compile_openvino

    path_onnx = os.path.join(workdir, f"{name}-torch.onnx")
    if not os.path.exists(path_onnx):
        torch.onnx.export(
            net.float(),
            (nchw,),
            path_onnx,
            input_names=["images"],
            output_names=["logits"],
            opset_version=17,
            dynamo=False,
        )
    hint = "float32" if path == "openvino-f32" else None
    request = compile_openvino(path_onnx, hint).create_infer_request()
    return lambda: request.infer({"images": nchw.numpy()})


def interleaved(calls: list, repeats: int) -> list[Timing]:
    """Times each call `repeats` times, one after the other in every round, after one warm-up
    round; returns each call's `Timing`."""
    timings = [time_calls(call, 1, warmup=0) for call in calls]
    for timing in timings:  # the warm-up round's time is each call's `first`
        timing.first, timing.seconds, timing.cpu_seconds = timing.seconds[0], [], []
    for _ in range(repeats):
        for call, timing in zip(calls, timings, strict=True):
            once = time_calls(call, 1, warmup=0)
            timing.seconds += once.seconds
            timing.cpu_seconds += once.cpu_seconds
    return timings


def median_cpu(timing: Timing) -> float:
    return float(np.median(timing.cpu_seconds))


def share(macs: int, timing: Timing, ceiling_cpu: float) -> str:
    return f"{2 * macs / median_cpu(timing) / 1e9 / ceiling_cpu:.2f}"


def time_net(name: str, args: argparse.Namespace, torchvision, workdir: str) -> None:
    """Builds one net and its peer, times every path interleaved, prints one row per path."""
    import keras

    keras.utils.set_random_seed(0)
    model = with_trained_statistics(
        registry.build(name, NUM_CLASSES, weights=None, **BUILD_OPTIONS.get(name, {}))
    )
    images, _ = random_batch(1, (args.size, args.size), NUM_CLASSES)
    macs = total_flops(model, images.shape) // 2
    net = torch_peer(name, torchvision) if torchvision else None
    peer_macs = None
    if net is not None:
        import torch

        torch.manual_seed(0)
        peer_macs, _ = torch_macs(net, torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
    calls = []
    for path in args.paths:
        calls.append(our_call(model, path, images, workdir))
        if net is not None:
            calls.append(peer_call(net, path, images, workdir, name))
    ceiling = matmul_ceiling(args.ceiling_size)
    timings = interleaved(calls, args.repeats)
    ceiling = ceiling.better(matmul_ceiling(args.ceiling_size))
    per_path = 2 if net is not None else 1
    for index, path in enumerate(args.paths):
        ours = timings[per_path * index]
        row = [
            name,
            path,
            f"{args.size}×{args.size}",
            f"{model.count_params():,}",
            f"{macs / 1e9:.1f}",
            f"{np.median(ours.seconds):.2f}",
            f"{median_cpu(ours):.2f}",
            f"{median_cpu(ours) / np.median(ours.seconds):.2f}",
            share(macs, ours, ceiling.cpu),
        ]
        if net is None:
            row += ["torchvision not installed", *[""] * 6]
        else:
            peer = timings[per_path * index + 1]
            row += [
                PEERS[name],
                f"{sum(p.numel() for p in net.parameters()):,}",
                f"{peer_macs / 1e9:.1f}",
                f"{np.median(peer.seconds):.2f}",
                f"{median_cpu(peer):.2f}",
                share(peer_macs, peer, ceiling.cpu),
                f"{median_cpu(peer) / median_cpu(ours):.2f}",
            ]
        print_row(row)
    print(f"<!-- {name}: float32 ceiling {ceiling.cpu:.0f} GFLOP/s by CPU time -->", flush=True)
    release_memory()


def without_swap(model, swap: Swap):
    """A copy of an inference model (`inference_model`) with the layers of `swap` as the copy
    would run them without it, the same weights: for `DILATION`, Keras' `Conv2D` (the graph
    TensorFlow ran before `DilatedConv2D`); for `TAP_SUMS`, `DilatedConv2D` where dilated and
    Keras' `Conv2D` otherwise."""
    import keras

    from keras_fcn import layers
    from keras_fcn.export.graphs import plain_convolution_class

    swapped = getattr(layers, swap.layer)

    def clone_layer(layer):
        if isinstance(layer, swapped):
            plain = plain_convolution_class(layer) if swap is TAP_SUMS else keras.layers.Conv2D
            return plain.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone_layer)
    for target, source in zip(copy.weights, model.weights, strict=True):
        target.assign(source)
    return copy


def time_swap(name: str, args: argparse.Namespace, swap: Swap) -> list:
    """Our float32 graph against it without `swap`, interleaved: one table row."""
    import keras

    from keras_fcn import layers

    keras.utils.set_random_seed(0)
    model = with_trained_statistics(
        registry.build(name, NUM_CLASSES, weights=None, **BUILD_OPTIONS.get(name, {}))
    )
    images, _ = random_batch(1, (args.size, args.size), NUM_CLASSES)
    macs = total_flops(model, images.shape) // 2
    ours = inference_model(model, "float32")
    plain = inference_copy(model, phases=False) if swap is PHASES else without_swap(ours, swap)
    floats = tf.constant(images)
    calls = []
    for timed in (ours, plain):
        forward = tf.function(lambda x, timed=timed: timed(x, training=False))
        calls.append(lambda forward=forward: forward(floats).numpy())
    ours_logits, plain_logits = calls[0](), calls[1]()
    error = np.abs(ours_logits - plain_logits).max() / np.abs(plain_logits).max()
    if error > 1e-5:
        raise RuntimeError(f"{name}: {swap.layer}'s logits differ by {error:.1e}.")
    ceiling = matmul_ceiling(args.ceiling_size)
    timings = interleaved(calls, args.repeats)
    ceiling = ceiling.better(matmul_ceiling(args.ceiling_size))
    swapped = sum(isinstance(layer, getattr(layers, swap.layer)) for layer in ours.layers)
    release_memory()
    return [
        name,
        f"{args.size}×{args.size}",
        swapped,
        f"{macs / 1e9:.1f}",
        f"{median_cpu(timings[0]):.2f}",
        share(macs, timings[0], ceiling.cpu),
        f"{median_cpu(timings[1]):.2f}",
        share(macs, timings[1], ceiling.cpu),
        f"{median_cpu(timings[1]) / median_cpu(timings[0]):.2f}",
    ]


def pin_threads(threads: int) -> None:
    """One pool of `threads` for TensorFlow's kernels (oneDNN's too) and for PyTorch's."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def peak_rss_mib() -> float:
    """The process's peak resident set size so far (`ru_maxrss`, KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_training_memory(
    name: str, output_stride: int, size: int, batch: int, repeats: int, threads: int
) -> list:
    """A training step's peak memory (in this process; run it in a fresh one): one table row."""
    import keras

    pin_threads(threads)
    model = registry.build(name, NUM_CLASSES, weights=None, output_stride=output_stride)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=IGNORE_LABEL
        ),
    )
    images, labels = random_batch(batch, (size, size), NUM_CLASSES)
    after_build = peak_rss_mib()
    model.train_on_batch(images, labels)  # warm-up: tracing, the momentum
    memory = PeakMemory()
    with memory:
        timing = time_calls(lambda: model.train_on_batch(images, labels), repeats, warmup=0)
    return [
        name,
        output_stride,
        f"{size}×{size}",
        batch,
        f"{model.count_params():,}",
        f"{timing.median:.1f}",
        f"{after_build:.0f}",
        f"{peak_rss_mib():.0f}",
        *memory.cells(),
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_subset(
        parser,
        "--models",
        list(PEERS),
        "nets to time against PyTorch (default: all; none with --memory alone)",
        nargs="*",
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=PATHS,
        default=list(DEFAULT_PATHS),
        help=f"paths to time (default: {' '.join(DEFAULT_PATHS)})",
    )
    parser.add_argument(
        "--size", type=int, default=SIZE, help=f"side of the square input (default: {SIZE})"
    )
    arguments.add_repeats(parser, 5, "interleaved timed calls of each side after one warm-up")
    parser.add_argument(
        "--threads",
        type=int,
        default=usable_cores(),
        help="threads of TensorFlow's and PyTorch's kernels (default: one per usable core)",
    )
    parser.add_argument(
        "--dilation",
        action="store_true",
        help="also time our float32 graph against it with Keras' dilated Conv2D",
    )
    parser.add_argument(
        "--dilation-models",
        nargs="+",
        choices=list(PEERS),
        default=list(DILATION_MODELS),
        help=f"nets of --dilation (default: {' '.join(DILATION_MODELS)})",
    )
    parser.add_argument(
        "--tap-sums",
        action="store_true",
        help="also time our float32 graph against it with its tap-sum convolutions as convolutions",
    )
    arguments.add_models(
        parser, TAP_SUM_MODELS, "to time with and without tap sums", flag="--tap-sum-models"
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also time our float32 graph against it without stages on phases",
    )
    arguments.add_models(
        parser, PHASE_MODELS, "to time with and without phases", flag="--phase-models"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help=f"also measure a training step's memory (output stride {MEMORY_OUTPUT_STRIDE}) in "
        "a fresh process per batch",
    )
    parser.add_argument(
        "--memory-model",
        choices=MEMORY_MODELS,
        default=MEMORY_MODELS[0],
        help=f"the net of the training steps (default: {MEMORY_MODELS[0]})",
    )
    arguments.add_batches(
        parser, [1, 2], "batches of the training steps (default: 1 2)", flag="--memory-batches"
    )
    arguments.add_ceiling_size(parser)
    arguments.add_smoke(
        parser,
        f"torchvision-fcn-resnet50 at {smoke.SIZE + 1}×{smoke.SIZE + 1}, {smoke.REPEATS} repeat, "
        f"float32, and against Keras' dilated Conv2D, without tap sums and without phases; "
        f"{MEMORY_MODELS[1]}'s "
        "training step at that "
        "size, batch 1",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        smoke.shrink(
            args,
            models=["torchvision-fcn-resnet50"],
            paths=["float32"],
            size=smoke.SIZE + 1,  # DeepLab's k · 8 + 1
            dilation=True,
            dilation_models=["torchvision-fcn-resnet50"],
            tap_sums=True,
            tap_sum_models=["torchvision-fcn-resnet50"],
            phases=True,
            phase_models=["torchvision-fcn-resnet50"],
            memory=True,
            memory_model=MEMORY_MODELS[1],
            memory_batches=[1],
        )
    return args


def main(args: argparse.Namespace) -> None:
    pin_threads(args.threads)
    print_header(
        "The ResNet era on CPU: against PyTorch, and a training step's memory",
        {
            **machine_info(),
            "threads (TensorFlow and PyTorch)": str(args.threads),
        },
        args.smoke,
    )
    torchvision = import_torchvision()
    if args.models:
        peer = (
            f"torchvision {torchvision.__version__} on torch {sys.modules['torch'].__version__}"
            if torchvision
            else "torchvision not installed: our side only"
        )
        print(
            "Random weights (ours with a trained net's nonzero biases and batch-normalization "
            f"statistics), {NUM_CLASSES} classes, batch 1 of {args.size}×{args.size} seeded "
            f"images; {peer}. Each net: one warm-up call per side and path, then "
            f"{args.repeats} interleaved calls each, medians kept; the {args.ceiling_size}² "
            "float32 matmul ceiling measured before and after each net, the better kept.\n"
        )
        print_headers(ROW_HEADERS)
        with tempfile.TemporaryDirectory(prefix="resnet-speed-") as workdir:
            for name in args.models:
                time_net(name, args, torchvision, workdir)
    for swap, enabled, names in (
        (DILATION, args.dilation, args.dilation_models),
        (TAP_SUMS, args.tap_sums, args.tap_sum_models),
        (PHASES, args.phases, args.phase_models),
    ):
        if not enabled:
            continue
        print(
            f"\n### {swap.title}, batch 1 of {args.size}×{args.size}: one warm-up call each, "
            f"then {args.repeats} interleaved calls each, medians kept.\n"
        )
        print_headers(swap.headers())
        for name in names:
            print_row(time_swap(name, args, swap))
    if args.memory:
        print(
            f"\n### Training step: {args.memory_model}\n\nEach batch in a fresh process: the model "
            f"at output stride {MEMORY_OUTPUT_STRIDE}, SGD with momentum, one warm-up step, then "
            f"{args.repeats} measured steps. Peak RSS is the process's (`ru_maxrss`, weights, "
            "TensorFlow and Python included); the last two columns are the steady steps' peaks "
            "above the state before them.\n"
        )
        print_headers(MEMORY_ROW_HEADERS)
        for batch in args.memory_batches:
            print_row(
                run_in_fresh_process(
                    measure_training_memory,
                    args.memory_model,
                    MEMORY_OUTPUT_STRIDE,
                    args.size,
                    batch,
                    args.repeats,
                    args.threads,
                )
            )


if __name__ == "__main__":
    main(parse_args())
