"""ResNet forward passes written with raw `torch.nn.functional` ops: the tests' reference for
`keras_fcn.backbones.resnet` and DeepLab v2's ResNet-101, from torchvision's `resnet.py` and
DeepLab v2's prototxt; and DeepLab v2's `.caffemodel` layers of such parameters, named as MSRA's
Caffe ResNet names them.

Parameters are float64 numpy arrays keyed by torchvision's state-dict names (`conv1.weight`,
`bn1.running_mean`, `layer3.0.conv2.weight`, `layer3.0.downsample.0.weight`, ...), in torch's
layouts (kernels `(out, in, kh, kw)`), and `fc1_voc12_c{i}.weight`/`.bias` for DeepLab's ASPP;
inputs and outputs are NCHW. The references compute in float64.
"""

import numpy as np
import torch
from torch.nn import functional

BLOCKS = (3, 4, 6, 3)
"""Bottleneck blocks of layer1 … layer4 (conv2 … conv5) of ResNet-50."""

BLOCKS_101 = (3, 4, 23, 3)
"""ResNet-101's (He et al., table 1)."""

PLANES = (64, 128, 256, 512)
"""Bottleneck widths of layer1 … layer4; blocks output four times as many channels."""

EPSILON = 1e-5
"""torchvision's `BatchNorm2d` and Caffe's `BatchNorm` default epsilon."""


def random_parameters(rng: np.random.Generator, blocks=BLOCKS) -> dict[str, np.ndarray]:
    """He-scaled kernels and batch normalizations with non-trivial statistics, torchvision's
    names and shapes (a ResNet of `blocks`, ResNet-50 by default, without fc, bias-free
    convolutions)."""
    parameters = {}

    def conv_bn(conv, bn, out_channels, in_channels, kernel_size):
        fan_in = in_channels * kernel_size**2
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        parameters[f"{conv}.weight"] = rng.normal(0, np.sqrt(2 / fan_in), shape)
        parameters[f"{bn}.weight"] = rng.uniform(0.2, 1.0, out_channels)
        parameters[f"{bn}.bias"] = rng.normal(0, 0.2, out_channels)
        parameters[f"{bn}.running_mean"] = rng.normal(0, 0.5, out_channels)
        parameters[f"{bn}.running_var"] = rng.uniform(0.5, 2.0, out_channels)

    conv_bn("conv1", "bn1", 64, 3, 7)
    inplanes = 64
    for layer, (planes, layer_blocks) in enumerate(zip(PLANES, blocks, strict=True), start=1):
        for block in range(layer_blocks):
            prefix = f"layer{layer}.{block}"
            if block == 0:
                conv_bn(f"{prefix}.downsample.0", f"{prefix}.downsample.1", 4 * planes, inplanes, 1)
            conv_bn(f"{prefix}.conv1", f"{prefix}.bn1", planes, inplanes, 1)
            conv_bn(f"{prefix}.conv2", f"{prefix}.bn2", planes, planes, 3)
            conv_bn(f"{prefix}.conv3", f"{prefix}.bn3", 4 * planes, planes, 1)
            inplanes = 4 * planes
    return parameters


def _tensors(parameters: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {
        name: torch.from_numpy(np.asarray(value, np.float64)) for name, value in parameters.items()
    }


def _batch_norm(x, p, name):
    """`nn.BatchNorm2d` in `eval()` mode."""
    return functional.batch_norm(
        x,
        p[f"{name}.running_mean"],
        p[f"{name}.running_var"],
        p[f"{name}.weight"],
        p[f"{name}.bias"],
        training=False,
        eps=EPSILON,
    )


def _bottleneck(x, p, prefix, batch_norm, strides, dilation, project):
    """A bottleneck block on NCHW `x`: `{prefix}.conv1` 1×1, `conv2` 3×3 with padding =
    dilation, `conv3` 1×1, each followed by `batch_norm`, ReLU after the first two; with
    `project`, the shortcut is the projection `downsample.0` (1×1 with the block's stride) and
    its `downsample.1`; ReLU after the sum. `strides` are conv1's and conv2's: the block's
    stride sits on one of them."""
    conv1_stride, conv2_stride = strides
    out = functional.conv2d(x, p[f"{prefix}.conv1.weight"], stride=conv1_stride)
    out = functional.relu(batch_norm(out, p, f"{prefix}.bn1"))
    out = functional.conv2d(
        out, p[f"{prefix}.conv2.weight"], stride=conv2_stride, padding=dilation, dilation=dilation
    )
    out = functional.relu(batch_norm(out, p, f"{prefix}.bn2"))
    out = batch_norm(functional.conv2d(out, p[f"{prefix}.conv3.weight"]), p, f"{prefix}.bn3")
    shortcut = x
    if project:
        shortcut = functional.conv2d(
            x, p[f"{prefix}.downsample.0.weight"], stride=conv1_stride * conv2_stride
        )
        shortcut = batch_norm(shortcut, p, f"{prefix}.downsample.1")
    return functional.relu(out + shortcut)


def torchvision_resnet50(
    images: np.ndarray, parameters: dict, replace_stride_with_dilation=(False, True, True)
) -> dict[str, np.ndarray]:
    """torchvision's `resnet50(replace_stride_with_dilation=...)` in `eval()` mode.

    `ResNet.__init__`: conv1 7×7 stride 2 padding 3, bn1, ReLU, `MaxPool2d(3, 2, 1)` (rounding
    down). `_make_layer`: `previous_dilation = self.dilation`; a dilated layer multiplies
    `self.dilation` by its stride and sets the stride to 1; block 0 gets the stride and
    `previous_dilation`, the others `self.dilation`. `Bottleneck`: conv1 1×1, conv2 3×3 with the
    stride, `padding=dilation`, `dilation=dilation` (`conv3x3`), conv3 1×1, `downsample` 1×1
    with the stride, each followed by its BatchNorm; ReLU after bn1, bn2 and the sum.

    Returns:
        The ReLU after bn1 (`"P1"`) and the outputs of layer1 … layer4 (`"P2"` … `"P5"`).
    """
    p = _tensors(parameters)
    x = torch.from_numpy(np.asarray(images, np.float64))
    x = functional.relu(
        _batch_norm(functional.conv2d(x, p["conv1.weight"], stride=2, padding=3), p, "bn1")
    )
    outputs = {"P1": x}
    x = functional.max_pool2d(x, 3, stride=2, padding=1)
    dilation = 1
    dilate = (False, *replace_stride_with_dilation)
    for layer, (blocks, stride, layer_dilate) in enumerate(
        zip(BLOCKS, (1, 2, 2, 2), dilate, strict=True), start=1
    ):
        previous_dilation = dilation
        if layer_dilate:
            dilation *= stride
            stride = 1
        for block in range(blocks):
            prefix = f"layer{layer}.{block}"
            block_stride, block_dilation = (
                (stride, previous_dilation) if block == 0 else (1, dilation)
            )
            x = _bottleneck(
                x, p, prefix, _batch_norm, (1, block_stride), block_dilation, project=block == 0
            )
        outputs[f"P{layer + 1}"] = x
    return {level: value.numpy() for level, value in outputs.items()}


DEEPLAB_V2_RATES = (1, 1, 2, 4)
"""Dilation (and padding) of the 3×3 `branch2b` of res2 … res5 in DeepLab v2's prototxt:
`res4*_branch2b` pad 2 dilation 2, `res5*_branch2b` pad 4 dilation 4, every block."""

DEEPLAB_V2_STRIDES = (1, 2, 1, 1)
"""Stride of the first block's `branch1` and `branch2a` (1×1) in res2 … res5: only res3a's."""


def _caffe_batch_norm_scale(x, p, name):
    """Caffe's `BatchNorm` (use_global_stats) then `Scale` (bias): (x − mean) / sqrt(var + eps)
    · γ + β, per channel of NCHW."""

    def channel(key):
        return p[f"{name}.{key}"].reshape(1, -1, 1, 1)

    normalized = (x - channel("running_mean")) / torch.sqrt(channel("running_var") + EPSILON)
    return normalized * channel("weight") + channel("bias")


def blocks_of(parameters: dict) -> tuple[int, ...]:
    """The blocks of layer1 … layer4 the parameters hold."""
    return tuple(
        len({name.split(".")[1] for name in parameters if name.startswith(f"layer{layer}.")})
        for layer in range(1, 5)
    )


def deeplab_v2_resnet(images: np.ndarray, parameters: dict) -> dict[str, np.ndarray]:
    """DeepLab v2's ResNet (deploy.prototxt) with the blocks the parameters hold (ResNet-50's or
    ResNet-101's), up to res5c.

    `conv1` 7×7 stride 2 pad 3 without bias, `bn_conv1` + `scale_conv1`, ReLU; `pool1` MAX
    kernel 3 stride 2 pad 1, rounding up (Caffe's `PoolingLayer`; torch's `ceil_mode` keeps
    the same rule, dropping a last window that would start in the padding). Each block:
    `branch2a` 1×1 carrying the stride, `branch2b` 3×3 with pad = dilation
    (`DEEPLAB_V2_RATES`), `branch2c` 1×1, projection `branch1` in the first block, each with
    BatchNorm + Scale; ReLU after 2a, 2b and the Eltwise sum. Parameters use torchvision's
    names: `layer{s}.{b}.conv1/2/3` are `branch2a/2b/2c`, `downsample.0/1` are `branch1`.

    Returns:
        The ReLU after `scale_conv1` (`"P1"`) and the outputs of res2 … res5 (`"P2"` … `"P5"`).
    """
    p = _tensors(parameters)
    x = torch.from_numpy(np.asarray(images, np.float64))
    x = functional.relu(
        _caffe_batch_norm_scale(
            functional.conv2d(x, p["conv1.weight"], stride=2, padding=3), p, "bn1"
        )
    )
    outputs = {"P1": x}
    x = functional.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
    for layer, (blocks, stride, rate) in enumerate(
        zip(blocks_of(parameters), DEEPLAB_V2_STRIDES, DEEPLAB_V2_RATES, strict=True), start=1
    ):
        for block in range(blocks):
            prefix = f"layer{layer}.{block}"
            block_stride = stride if block == 0 else 1
            x = _bottleneck(
                x, p, prefix, _caffe_batch_norm_scale, (block_stride, 1), rate, project=block == 0
            )
        outputs[f"P{layer + 1}"] = x
    return {level: value.numpy() for level, value in outputs.items()}


ASPP_RATES = (6, 12, 18, 24)
"""`fc1_voc12_c0` … `c3`: pad = dilation 6, 12, 18, 24 (ASPP-L)."""

DEEPLAB_MEAN_BGR = (104.008, 116.669, 122.675)
"""The data layer's `mean_value` of DeepLab v2's prototxts, BGR."""


def random_aspp(rng: np.random.Generator, num_classes: int) -> dict[str, np.ndarray]:
    """ASPP-L's four 3×3 convolutions 2048 → classes with biases, He-scaled."""
    parameters = {}
    for index in range(len(ASPP_RATES)):
        shape = (num_classes, 2048, 3, 3)
        parameters[f"fc1_voc12_c{index}.weight"] = rng.normal(0, np.sqrt(2 / (9 * 2048)), shape)
        parameters[f"fc1_voc12_c{index}.bias"] = rng.normal(0, 0.1, num_classes)
    return parameters


def deeplab_v2_scores(images: np.ndarray, parameters: dict) -> np.ndarray:
    """DeepLab v2's ResNet test net at one scale, from the data layer to `fc1_voc12`.

    `data`: RGB images `(N, H, W, 3)` in [0, 255] become BGR minus `DEEPLAB_MEAN_BGR`, NCHW.
    `res5c` feeds `fc1_voc12_c0` … `c3` (3×3 with bias, pad = dilation = `ASPP_RATES`), summed
    by the Eltwise `fc1_voc12`.

    Returns:
        The scores at 1/8, NHWC.
    """
    bgr = np.asarray(images, np.float64)[..., ::-1] - np.array(DEEPLAB_MEAN_BGR)
    features = torch.from_numpy(deeplab_v2_resnet(bgr.transpose(0, 3, 1, 2), parameters)["P5"])
    p = _tensors(parameters)
    scores = sum(
        functional.conv2d(
            features,
            p[f"fc1_voc12_c{index}.weight"],
            p[f"fc1_voc12_c{index}.bias"],
            padding=rate,
            dilation=rate,
        )
        for index, rate in enumerate(ASPP_RATES)
    )
    return scores.numpy().transpose(0, 2, 3, 1)


def interp(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Caffe's `Interp` (`caffe_cpu_interp2`) of NHWC maps to `height` × `width`, in float32:
    output row `h` reads input row `r · h` with `r = (in − 1) / (out − 1)` (0 for one row),
    between rows `⌊r · h⌋` and the next (the last one past the end)."""

    def axis(size_in: int, size_out: int):
        ratio = np.float32(size_in - 1) / np.float32(size_out - 1) if size_out > 1 else 0
        position = np.float32(ratio) * np.arange(size_out, dtype=np.float32)
        below = position.astype(np.int64)
        above = np.minimum(below + 1, size_in - 1)
        return below, above, (position - below).astype(np.float32)

    x = np.asarray(x, np.float32)
    rows, columns = axis(x.shape[1], height), axis(x.shape[2], width)
    below, above, fraction = rows
    x = (1 - fraction)[None, :, None, None] * x[:, below] + fraction[None, :, None, None] * x[
        :, above
    ]
    below, above, fraction = columns
    return (1 - fraction)[None, None, :, None] * x[:, :, below] + fraction[None, None, :, None] * x[
        :, :, above
    ]


def deeplab_v2_logits(images: np.ndarray, parameters: dict) -> np.ndarray:
    """`deeplab_v2_scores` zoomed by `fc1_interp` (Interp `zoom_factor: 8`, corners aligned: n
    scores become 8 (n − 1) + 1) and cropped to the images, NHWC."""
    scores = deeplab_v2_scores(images, parameters)
    height, width = (8 * (n - 1) + 1 for n in scores.shape[1:3])
    return interp(scores, height, width)[:, : images.shape[1], : images.shape[2]]


def _msra_block(stage: int, block: int, blocks: tuple[int, ...]) -> str:
    """MSRA's Caffe name of a block: `a`, `b`, `c`, …; ResNet-101 and deeper number the blocks
    after `a` in stages of more than three (`res3b1`, `res4b22`)."""
    if block == 0:
        return "a"
    if blocks != BLOCKS and blocks[stage - 2] > 3:
        return f"b{block}"
    return "abcdefghijklmnopqrstuvwxyz"[block]


def caffe_layers(parameters: dict, factors: np.ndarray) -> list[tuple[str, str, list]]:
    """DeepLab v2's `.caffemodel` layers holding these parameters, in the prototxt's order.

    `conv1`, `res{s}{b}_branch1`, `res{s}{b}_branch2{a,b,c}` (Convolution, one blob), each
    followed by its BatchNorm `bn…` (`[mean · f, var · f, [f]]`, f the moving-average factor
    from `factors`, one per BatchNorm in turn) and Scale `scale…` (`[γ, β]`); the ASPP
    `fc1_voc12_c{i}` (Convolution, weight and bias); a few layers without blobs (ReLU, Pooling,
    Eltwise), as Caffe writes them. Blobs are float32.
    """
    layers = []
    factors = iter(factors)

    def conv_bn(caffe_name, bn_name, scale_name, conv, bn):
        factor = np.float32(next(factors))
        layers.append((caffe_name, "Convolution", [parameters[f"{conv}.weight"]]))
        mean, var = parameters[f"{bn}.running_mean"], parameters[f"{bn}.running_var"]
        layers.append((bn_name, "BatchNorm", [mean * factor, var * factor, np.array([factor])]))
        layers.append((scale_name, "Scale", [parameters[f"{bn}.weight"], parameters[f"{bn}.bias"]]))

    conv_bn("conv1", "bn_conv1", "scale_conv1", "conv1", "bn1")
    layers += [("conv1_relu", "ReLU", []), ("pool1", "Pooling", [])]
    blocks = blocks_of(parameters)
    for layer, layer_blocks in enumerate(blocks, start=1):
        stage = layer + 1
        for block in range(layer_blocks):
            name = f"{stage}{_msra_block(stage, block, blocks)}"
            prefix = f"layer{layer}.{block}"
            if block == 0:
                conv_bn(
                    f"res{name}_branch1",
                    f"bn{name}_branch1",
                    f"scale{name}_branch1",
                    f"{prefix}.downsample.0",
                    f"{prefix}.downsample.1",
                )
            for index, branch in enumerate("abc", start=1):
                conv_bn(
                    f"res{name}_branch2{branch}",
                    f"bn{name}_branch2{branch}",
                    f"scale{name}_branch2{branch}",
                    f"{prefix}.conv{index}",
                    f"{prefix}.bn{index}",
                )
            layers += [(f"res{name}", "Eltwise", []), (f"res{name}_relu", "ReLU", [])]
    for index in range(len(ASPP_RATES)):
        blobs = [parameters[f"fc1_voc12_c{index}.{key}"] for key in ("weight", "bias")]
        layers.append((f"fc1_voc12_c{index}", "Convolution", blobs))
    layers.append(("fc1_voc12", "Eltwise", []))
    return [
        (name, layer_type, [np.asarray(blob, np.float32) for blob in blobs])
        for name, layer_type, blobs in layers
    ]


def batch_norm_count(parameters: dict) -> int:
    """The BatchNorm layers of the parameters (one `running_mean` each)."""
    return sum(name.endswith(".running_mean") for name in parameters)


def keras_name(torch_name: str) -> str:
    """The keras.applications layer holding a torchvision parameter (`conv1.weight` →
    `conv1_conv`, `layer3.0.conv2.weight` → `conv4_block1_2_conv`, `layer3.0.downsample.1.bias`
    → `conv4_block1_0_bn`)."""
    parts = torch_name.split(".")
    if parts[0].startswith("fc1_voc12"):
        return parts[0]
    if parts[0] in ("conv1", "bn1"):
        return {"conv1": "conv1_conv", "bn1": "conv1_bn"}[parts[0]]
    layer, block, module = int(parts[0][len("layer") :]), int(parts[1]), parts[2]
    prefix = f"conv{layer + 1}_block{block + 1}"
    if module == "downsample":
        return f"{prefix}_0_{'conv' if parts[3] == '0' else 'bn'}"
    return f"{prefix}_{module[-1]}_{module[:-1]}"


def keras_weights(parameters: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """The parameters as Keras layers' weights by layer name: conv kernels transposed to
    `(kh, kw, in, out)`; BatchNorm as gamma, beta, moving mean, moving variance."""
    weights = {}
    for name, value in parameters.items():
        if name.endswith(".weight") and value.ndim == 4:
            weights[keras_name(name)] = [value.transpose(2, 3, 1, 0).astype("float32")]
            bias = parameters.get(name.replace(".weight", ".bias"))
            if bias is not None and name.startswith("fc1_voc12"):
                weights[keras_name(name)].append(bias.astype("float32"))
    for name in parameters:
        if name.endswith(".running_mean"):
            module = name[: -len(".running_mean")]
            weights[keras_name(name)] = [
                parameters[f"{module}.{key}"].astype("float32")
                for key in ("weight", "bias", "running_mean", "running_var")
            ]
    return weights


def relative_error(actual, expected) -> float:
    """Largest absolute difference relative to the largest magnitude of the reference."""
    expected = np.asarray(expected, np.float64)
    return float(np.abs(np.asarray(actual, np.float64) - expected).max() / np.abs(expected).max())


def assert_same_weights(model, other) -> None:
    """Asserts that two models hold the same variables, path for path and value for value."""
    for variable, other_variable in zip(model.weights, other.weights, strict=True):
        assert variable.path == other_variable.path
        np.testing.assert_array_equal(np.asarray(variable), np.asarray(other_variable))
