"""PSPNet's released nets written out from their prototxts with raw `torch.nn.functional` ops, for
the tests: the layer list with Caffe's names and blob shapes, random parameters for it, the
forward pass in float64, and the Keras layer each Caffe layer is.

Written from hszhao/PSPNet `evaluation/prototxt/pspnet101_VOC2012_473.prototxt`,
`pspnet101_cityscapes_713.prototxt` and `pspnet50_ADE20K_473.prototxt`, not from keras_fcn:
- `conv1_1_3x3_s2` (3×3/64, stride 2, pad 1), `conv1_2_3x3` (3×3/64, pad 1), `conv1_3_3x3`
  (3×3/128, pad 1), each bias-free + `/bn` (type `BN`) + `/relu`; `pool1_3x3_s2` MAX 3, stride 2,
  pad 1 (Caffe rounds up: torch's `ceil_mode`);
- blocks `conv{s}_{b}`: `_1x1_reduce` + `/bn` + `/relu`, `_3x3` (pad = dilation) + `/bn` +
  `/relu`, `_1x1_increase` + `/bn`, and in the first block `conv{s}_1_1x1_proj` + `/bn`; the
  Eltwise SUM `conv{s}_{b}` of the projection (or the block's input) and the increase, then
  `/relu`. conv3_1 strides in `conv3_1_3x3` (101) or `conv3_1_1x1_reduce` (50) and in
  `conv3_1_1x1_proj`; every `conv4_*_3x3` has pad 2 dilation 2, every `conv5_*_3x3` pad 4
  dilation 4;
- `conv5_3_pool{1,2,3,6}` AVE kernel = stride (60/30/20/10 at 473), `_conv` 1×1/512 bias-free +
  `/bn` + `/relu`, `_interp` Interp to conv5's size (corners aligned); `conv5_3_concat` of
  [conv5_3, pool6, pool3, pool2, pool1]; `conv5_4` 3×3/512 pad 1 bias-free + `/bn` + `/relu`
  (the dropout is the identity at test time); `conv6` 1×1 with bias; `conv6_interp`
  zoom 8 (n → 8 (n − 1) + 1), cropped to the image here;
- `BN` (PSPNet's `bn_layer.cpp`, frozen): (x − mean) / sqrt(var + 1e-5) · slope + bias, its four
  blobs (1, C, 1, 1) in the order slope, bias, mean, variance;
- the auxiliary head of the released files (kazuto1011/pspnet-pytorch `convert.py`, hszhao/semseg
  `model/pspnet.py`): `conv4_24` 3×3/256 pad 1 bias-free + `/bn` + ReLU on conv4's output, then
  `conv6_1` 1×1 with bias, zoomed by 8 as `conv6`.
Where conv5's side is not a multiple of a bin, the pools are torch's `adaptive_avg_pool2d` (as
hszhao/semseg's PyTorch PSPNet pools); where it is, the prototxt's AVE pooling.

Inputs are RGB `(N, H, W, 3)` in [0, 255]; `data` is BGR minus (103.939, 116.779, 123.68)
(`pre_img.m`: RGB minus (123.68, 116.779, 103.939), then BGR). Outputs are NHWC.
"""

import numpy as np
import torch
from torch.nn import functional

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
"""Blocks of conv2 … conv5 (the prototxts' `conv2_1` … `conv5_3`)."""

WIDTHS = (64, 128, 256, 512)
"""The 3×3's channels in conv2 … conv5; blocks output four times as many."""

DILATIONS = {2: 1, 3: 1, 4: 2, 5: 4}
"""Pad = dilation of every `conv{s}_*_3x3`."""

MEAN_BGR = (103.939, 116.779, 123.68)
"""`pre_img.m`'s mean, in the BGR order of the net's input."""

EPSILON = 1e-5
"""`BNParameter`'s default epsilon."""

AUX_LAYERS = ("conv4_24", "conv4_24/bn", "conv6_1")
"""The auxiliary head's layers holding blobs."""


def layer_list(depth: int, num_classes: int, aux: bool = False) -> list[tuple[str, str, list]]:
    """The layers of the net, `(name, type, blob shapes)` in the prototxt's order; layers
    without blobs (ReLU, Pooling, Eltwise, Interp, Concat, Dropout) included with `[]`."""
    layers = []

    def conv_bn(name, out_channels, in_channels, kernel_size, relu=True):
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        layers.append((name, "Convolution", [shape]))
        layers.append((f"{name}/bn", "BN", [(1, out_channels, 1, 1)] * 4))
        if relu:
            layers.append((f"{name}/relu", "ReLU", []))

    conv_bn("conv1_1_3x3_s2", 64, 3, 3)
    conv_bn("conv1_2_3x3", 64, 64, 3)
    conv_bn("conv1_3_3x3", 128, 64, 3)
    layers.append(("pool1_3x3_s2", "Pooling", []))
    channels = 128
    for stage, (blocks, width) in enumerate(zip(BLOCKS[depth], WIDTHS, strict=True), start=2):
        for block in range(1, blocks + 1):
            prefix = f"conv{stage}_{block}"
            conv_bn(f"{prefix}_1x1_reduce", width, channels, 1)
            conv_bn(f"{prefix}_3x3", width, width, 3)
            conv_bn(f"{prefix}_1x1_increase", 4 * width, width, 1, relu=False)
            if block == 1:
                conv_bn(f"{prefix}_1x1_proj", 4 * width, channels, 1, relu=False)
            layers += [(prefix, "Eltwise", []), (f"{prefix}/relu", "ReLU", [])]
            channels = 4 * width
        if stage == 4 and aux:
            aux_at = len(layers)
    for bins in (1, 2, 3, 6):
        layers.append((f"conv5_3_pool{bins}", "Pooling", []))
        conv_bn(f"conv5_3_pool{bins}_conv", 512, 2048, 1)
        layers.append((f"conv5_3_pool{bins}_interp", "Interp", []))
    layers.append(("conv5_3_concat", "Concat", []))
    conv_bn("conv5_4", 512, 4096, 3)
    layers.append(("conv5_4/dropout", "Dropout", []))
    layers.append(("conv6", "Convolution", [(num_classes, 512, 1, 1), (num_classes,)]))
    layers.append(("conv6_interp", "Interp", []))
    if aux:
        head = [
            ("conv4_24", "Convolution", [(256, 1024, 3, 3)]),
            ("conv4_24/bn", "BN", [(1, 256, 1, 1)] * 4),
            ("conv4_24/relu", "ReLU", []),
            ("conv4_24/dropout", "Dropout", []),
            ("conv6_1", "Convolution", [(num_classes, 256, 1, 1), (num_classes,)]),
        ]
        layers = layers[:aux_at] + head + layers[aux_at:]
    return layers


def parameter_count(depth: int, num_classes: int, aux: bool = False) -> int:
    """Every number the layer list's blobs hold: kernels, biases and the four per channel of
    each `BN` (Keras' count, moving statistics included)."""
    layers = layer_list(depth, num_classes, aux)
    return sum(int(np.prod(shape)) for _, _, shapes in layers for shape in shapes)


def random_parameters(rng: np.random.Generator, layers) -> dict[str, list[np.ndarray]]:
    """He-scaled kernels, biases, and `BN` blobs with non-trivial statistics, float32 values in
    float64 arrays (the file holds float32), blobs in the file's shapes."""
    parameters = {}
    for name, layer_type, shapes in layers:
        if layer_type == "BN":
            channels = shapes[0][1]
            blobs = [
                rng.uniform(0.2, 1.0, channels),
                rng.normal(0, 0.2, channels),
                rng.normal(0, 0.5, channels),
                rng.uniform(0.5, 2.0, channels),
            ]
            parameters[name] = [blob.reshape(1, channels, 1, 1) for blob in blobs]
        elif layer_type == "Convolution":
            _, in_channels, height, width = shapes[0]
            kernel = rng.normal(0, np.sqrt(2 / (in_channels * height * width)), shapes[0])
            parameters[name] = [kernel] + [rng.normal(0, 0.1, shape) for shape in shapes[1:]]
    return {
        name: [blob.astype("float32").astype("float64") for blob in blobs]
        for name, blobs in parameters.items()
    }


def caffe_layers(layers, parameters) -> list[tuple[str, str, list[np.ndarray]]]:
    """The `.caffemodel`'s layers: `(name, type, float32 blobs)`, layers without blobs too."""
    return [
        (name, layer_type, [np.float32(blob) for blob in parameters.get(name, [])])
        for name, layer_type, _ in layers
    ]


def _tensors(parameters):
    return {name: [torch.from_numpy(blob) for blob in blobs] for name, blobs in parameters.items()}


def _conv_bn(x, p, name, stride=1, pad=0, dilation=1, relu=True):
    """`Convolution` (bias-free) then PSPNet's `BN`, then ReLU."""
    x = functional.conv2d(x, p[name][0], stride=stride, padding=pad, dilation=dilation)
    slope, bias, mean, variance = p[f"{name}/bn"]
    x = (x - mean) / torch.sqrt(variance + EPSILON) * slope + bias
    return functional.relu(x) if relu else x


def _zoom(x, factor: int):
    """`Interp` with `zoom_factor`: n rows become factor · (n − 1) + 1, corners aligned."""
    size = [factor * (side - 1) + 1 for side in x.shape[2:]]
    return functional.interpolate(x, size=size, mode="bilinear", align_corners=True)


def forward(images: np.ndarray, parameters: dict, depth: int, aux: bool = False):
    """The net's logits `(N, H, W, classes)` (and the auxiliary head's, with `aux`), float64."""
    p = _tensors(parameters)
    bgr = np.asarray(images, np.float64)[..., ::-1] - np.array(MEAN_BGR)
    x = torch.from_numpy(np.ascontiguousarray(bgr.transpose(0, 3, 1, 2)))
    x = _conv_bn(x, p, "conv1_1_3x3_s2", stride=2, pad=1)
    x = _conv_bn(x, p, "conv1_2_3x3", pad=1)
    x = _conv_bn(x, p, "conv1_3_3x3", pad=1)
    x = functional.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
    for stage, blocks in enumerate(BLOCKS[depth], start=2):
        rate = DILATIONS[stage]
        for block in range(1, blocks + 1):
            prefix = f"conv{stage}_{block}"
            stride = 2 if (stage, block) == (3, 1) else 1
            reduce_stride, conv_stride = (1, stride) if depth == 101 else (stride, 1)
            h = _conv_bn(x, p, f"{prefix}_1x1_reduce", stride=reduce_stride)
            h = _conv_bn(h, p, f"{prefix}_3x3", stride=conv_stride, pad=rate, dilation=rate)
            h = _conv_bn(h, p, f"{prefix}_1x1_increase", relu=False)
            shortcut = x
            if block == 1:
                shortcut = _conv_bn(x, p, f"{prefix}_1x1_proj", stride=stride, relu=False)
            x = functional.relu(shortcut + h)
        if stage == 4:
            conv4 = x
    height, width = x.shape[2:]
    pooled = {}
    for bins in (1, 2, 3, 6):
        if height % bins == 0 and width % bins == 0:
            kernel = (height // bins, width // bins)
            h = functional.avg_pool2d(x, kernel, stride=kernel)  # the prototxt's AVE pooling
        else:
            h = functional.adaptive_avg_pool2d(x, bins)
        h = _conv_bn(h, p, f"conv5_3_pool{bins}_conv")
        pooled[bins] = functional.interpolate(
            h, size=(height, width), mode="bilinear", align_corners=True
        )
    x = torch.cat([x, pooled[6], pooled[3], pooled[2], pooled[1]], dim=1)
    x = _conv_bn(x, p, "conv5_4", pad=1)
    scores = functional.conv2d(x, p["conv6"][0], p["conv6"][1])
    crop = (slice(None), slice(None), slice(0, images.shape[1]), slice(0, images.shape[2]))
    logits = _zoom(scores, 8)[crop].numpy().transpose(0, 2, 3, 1)
    if not aux:
        return logits
    h = _conv_bn(conv4, p, "conv4_24", pad=1)
    h = functional.conv2d(h, p["conv6_1"][0], p["conv6_1"][1])
    return logits, _zoom(h, 8)[crop].numpy().transpose(0, 2, 3, 1)


_BRANCHES = {"1x1_proj": 0, "1x1_reduce": 1, "3x3": 2, "1x1_increase": 3}


def keras_layer(caffe_name: str) -> str:
    """The Keras layer of a Caffe layer: the backbone keeps keras.applications' names
    (`conv4_3_3x3` is `conv4_block3_2_conv`, its `/bn` `conv4_block3_2_bn`), the stem and head
    their own with `_bn` for `/bn` (`conv1_1_3x3_s2` is `conv1_1_3x3`)."""
    name, _, batch_norm = caffe_name.partition("/")
    parts = name.split("_", 2)
    if len(parts) == 3 and parts[0][4:] in "2345" and parts[2] in _BRANCHES:
        stage, block, branch = parts[0][4:], parts[1], _BRANCHES[parts[2]]
        return f"conv{stage}_block{block}_{branch}_{'bn' if batch_norm else 'conv'}"
    name = name.removesuffix("_s2")
    return f"{name}_bn" if batch_norm else name


def keras_weights(parameters: dict) -> dict[str, list[np.ndarray]]:
    """The parameters as Keras layers' weights: kernels `(kh, kw, in, out)`, `BN` as γ, β,
    moving mean, moving variance."""
    weights = {}
    for name, blobs in parameters.items():
        if len(blobs) == 4:
            weights[keras_layer(name)] = [np.float32(blob.reshape(-1)) for blob in blobs]
        else:
            kernel, *bias = blobs
            weights[keras_layer(name)] = [np.float32(kernel.transpose(2, 3, 1, 0))] + [
                np.float32(b) for b in bias
            ]
    return weights


def relative_error(actual, expected) -> float:
    """Largest absolute difference relative to the largest magnitude of the reference."""
    expected = np.asarray(expected, np.float64)
    return float(np.abs(np.asarray(actual, np.float64) - expected).max() / np.abs(expected).max())
