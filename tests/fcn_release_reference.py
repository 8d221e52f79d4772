"""The released Caffe FCNs written out independently of keras_fcn, for the tests.

Two things live here, neither using the package's reader or models:

- a protobuf wire-format encoder assembled by hand (varints, length-delimited fields, packed
  floats), writing `.caffemodel` files in Caffe's current format (`NetParameter.layer`, field
  100, with `BlobShape`) and in its legacy one (`NetParameter.layers`, field 2, `V1LayerParameter`
  with the enum layer type and 4-D blob dimensions), from the field numbers of BVLC/caffe's
  `src/caffe/proto/caffe.proto`;
- the nets' forward passes in numpy, float32 as Caffe computes them, in Caffe's NCHW layout on
  Caffe's blobs as stored:
  convolution `top[o, y, x] = Σ W[o, c, i, j] · bottom[c, y·s − p + i, x·s − p + j]`, grouped by
  channel halves; deconvolution as Caffe computes it, the transposed scatter
  `top[o, y·s + i, x·s + j] += Σ W[c, o, i, j] · bottom[c, y, x]` (no flip); max pooling rounding
  up; across-channel LRN; `Crop` at fixed offsets; `Eltwise` sums with coefficients; `Scale`.
  Each net follows its `net.py` of shelhamer/fcn.berkeleyvision.org layer by layer.
"""

import numpy as np

# V1LayerParameter.LayerType values (caffe.proto).
V1_TYPES = {"Convolution": 4, "Deconvolution": 39, "InnerProduct": 14, "ReLU": 18, "Pooling": 17}


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # negative int32/int64 are ten-byte varints
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    return varint(number << 3 | 0) + varint(value)


def encode_blob(array: np.ndarray, legacy_shape: bool = False, double: bool = False) -> bytes:
    """A BlobProto: its shape (BlobShape, or num/channels/height/width) and packed data."""
    if legacy_shape:
        dims = (1,) * (4 - array.ndim) + array.shape  # Caffe aligns legacy dims to the right
        shape = b"".join(
            varint_field(number, dim) for number, dim in zip((1, 2, 3, 4), dims, strict=True)
        )
    else:
        shape = length_delimited(7, length_delimited(1, b"".join(varint(d) for d in array.shape)))
    if double:
        data = length_delimited(8, np.asarray(array, "<f8").tobytes())
    else:
        data = length_delimited(5, np.asarray(array, "<f4").tobytes())
    return shape + data


def encode_layer(name: str, layer_type: str, blobs, legacy: bool = False, **blob_options) -> bytes:
    """A LayerParameter (field 100 of NetParameter) or a V1LayerParameter (field 2)."""
    encoded = [encode_blob(blob, **blob_options) for blob in blobs]
    if legacy:
        body = length_delimited(4, name.encode()) + varint_field(5, V1_TYPES[layer_type])
        body += b"".join(length_delimited(6, blob) for blob in encoded)
        return length_delimited(2, body)
    body = length_delimited(1, name.encode()) + length_delimited(2, layer_type.encode())
    body += b"".join(length_delimited(7, blob) for blob in encoded)
    return length_delimited(100, body)


def encode_net(layers, name: str = "net", legacy: bool = False, **blob_options) -> bytes:
    """A NetParameter holding `layers`, `(name, type, [blobs])` in order.

    Layers without blobs (ReLU, Pooling) are written too, as Caffe writes them.
    """
    header = length_delimited(1, name.encode())
    return header + b"".join(
        encode_layer(layer_name, layer_type, blobs, legacy, **blob_options)
        for layer_name, layer_type, blobs in layers
    )


def write_net(path, layers, **options) -> str:
    """Writes `encode_net(layers, **options)` to `path` (a `pathlib.Path`); returns its name."""
    path.write_bytes(encode_net(layers, **options))
    return str(path)


# ---------------------------------------------------------------------------------------------
# The nets' parameter layers, as (name, type, blob shapes), in the order of their net.py.

VGG16_BLOCKS = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]
"""VGG16's five blocks of 3×3 convolutions (Simonyan & Zisserman, Table 1, configuration D): how
many, and their width."""


def vgg16_convs() -> list[tuple[str, int, int]]:
    """(name, input channels, output channels) of VGG16's convolutions in order, `conv1_1` to
    `conv5_3`; each reads the one before it, the first the RGB image."""
    convs, channels = [], 3
    for block, (count, width) in enumerate(VGG16_BLOCKS, start=1):
        for index in range(1, count + 1):
            convs.append((f"conv{block}_{index}", channels, width))
            channels = width
    return convs


VGG16_CONVS = vgg16_convs()

FCN_UPSAMPLERS = {
    "32s": [("upscore", 64)],
    "16s": [("upscore2", 4), ("upscore16", 32)],
    "8s": [("upscore2", 4), ("upscore_pool4", 4), ("upscore8", 16)],
}
FCN_SKIPS = {"32s": [], "16s": [("pool4", 512)], "8s": [("pool4", 512), ("pool3", 256)]}


def vgg16_layers(fc_units: int, suffix: str = ""):
    layers = []
    for name, cin, cout in VGG16_CONVS:
        layers += [(name + suffix, "Convolution", [(cout, cin, 3, 3), (cout,)])]
        layers += [(name.replace("conv", "relu") + suffix, "ReLU", [])]
    layers += [("fc6" + suffix, "Convolution", [(fc_units, 512, 7, 7), (fc_units,)])]
    layers += [("fc7" + suffix, "Convolution", [(fc_units, fc_units, 1, 1), (fc_units,)])]
    return layers


def fcn_layers(stride: str, heads: dict, fc_units: int, at_once: bool = False):
    """voc-fcn{32,16,8}s (heads {"": 21}), siftflow-fcn* ({"_sem": 33, "_geo": 3}), ..."""
    layers = vgg16_layers(fc_units)
    for head, n in heads.items():
        layers += [(f"score_fr{head}", "Convolution", [(n, fc_units, 1, 1), (n,)])]
        for pool, channels in FCN_SKIPS[stride]:
            if at_once:
                layers += [(f"scale_{pool}{head}", "Scale", [(channels,)])]
            layers += [(f"score_{pool}{head}", "Convolution", [(n, channels, 1, 1), (n,)])]
        for name, kernel in FCN_UPSAMPLERS[stride]:
            layers += [(name + head, "Deconvolution", [(n, n, kernel, kernel)])]
    return layers


def nyud_late_fusion_layers(num_classes: int, fc_units: int):
    """nyud-fcn32s-color-hha: two suffixed VGG16 streams with their score_fr, one upscore."""
    layers = []
    for stream in ("color", "hha"):
        layers += vgg16_layers(fc_units, stream)
        layers += [
            (f"score_fr{stream}", "Convolution", [(num_classes, fc_units, 1, 1), (num_classes,)])
        ]
    return [*layers, ("upscore", "Deconvolution", [(num_classes, num_classes, 64, 64)])]


ALEXNET_CONVS = [
    # name, in, out, kernel, stride, pad, group
    ("conv1", 3, 96, 11, 4, 100, 1),
    ("conv2", 96, 256, 5, 1, 2, 2),
    ("conv3", 256, 384, 3, 1, 1, 1),
    ("conv4", 384, 384, 3, 1, 1, 2),
    ("conv5", 384, 256, 3, 1, 1, 2),
]


def fcn_alexnet_layers(num_classes: int, fc_units: int):
    layers = [
        (name, "Convolution", [(cout, cin // group, k, k), (cout,)])
        for name, cin, cout, k, _, _, group in ALEXNET_CONVS
    ]
    return [
        *layers,
        ("fc6", "Convolution", [(fc_units, 256, 6, 6), (fc_units,)]),
        ("fc7", "Convolution", [(fc_units, fc_units, 1, 1), (fc_units,)]),
        ("score_fr", "Convolution", [(num_classes, fc_units, 1, 1), (num_classes,)]),
        ("upscore", "Deconvolution", [(num_classes, num_classes, 63, 63)]),
    ]


def random_blobs(layers, seed: int):
    """Random blobs for `layers`: He-scaled kernels, small biases, random (not bilinear)
    deconvolutions, and the at-once net's constant scales."""
    rng = np.random.default_rng(seed)
    filled = []
    for name, layer_type, shapes in layers:
        blobs = []
        for shape in shapes:
            if layer_type == "Scale":
                blobs.append(np.full(shape, 0.01 if "pool4" in name else 0.0001, "float32"))
            elif len(shape) == 1:
                blobs.append(rng.normal(0, 0.1, shape).astype("float32"))
            else:
                fan_in = np.prod(shape[1:]) if layer_type == "Convolution" else shape[0]
                scale = np.sqrt(2.0 / fan_in) / (58.0 if name.startswith("conv1") else 1.0)
                blobs.append(rng.normal(0, scale, shape).astype("float32"))
        filled.append((name, layer_type, blobs))
    return filled


# ---------------------------------------------------------------------------------------------
# Caffe's layers in numpy, NCHW, float32.


def convolution(x, weight, bias=None, stride=1, pad=0, group=1):
    """Caffe's Convolution: each kernel tap `(i, j)` adds `W[:, :, i, j] @ bottom` shifted."""
    weight = weight.astype(np.float32)
    x = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    n, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((out_c, n, oh, ow), np.float32)
    cin, cout = c // group, out_c // group
    for g in range(group):
        xg, wg = x[:, g * cin : (g + 1) * cin], weight[g * cout : (g + 1) * cout]
        for i in range(kh):
            for j in range(kw):
                rows = slice(i, i + stride * (oh - 1) + 1, stride)
                cols = slice(j, j + stride * (ow - 1) + 1, stride)
                out[g * cout : (g + 1) * cout] += np.tensordot(
                    wg[:, :, i, j], xg[:, :, rows, cols], axes=([1], [1])
                )
    out = out.transpose(1, 0, 2, 3)
    return out if bias is None else out + bias.astype(np.float32)[None, :, None, None]


def deconvolution(x, weight, stride):
    """Caffe's Deconvolution without bias and padding: the scatter of each input pixel,
    `top[o, y·s + i, x·s + j] += Σ_c W[c, o, i, j] · bottom[c, y, x]`."""
    weight = weight.astype(np.float32)  # (in, out, kh, kw)
    n, _, h, w = x.shape
    _, out_c, kh, kw = weight.shape
    out = np.zeros((out_c, n, stride * (h - 1) + kh, stride * (w - 1) + kw), np.float32)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + stride * (h - 1) + 1, stride)
            cols = slice(j, j + stride * (w - 1) + 1, stride)
            out[:, :, rows, cols] += np.tensordot(weight[:, :, i, j], x, axes=([0], [1]))
    return out.transpose(1, 0, 2, 3)


def max_pool(x, kernel, stride):
    """Caffe's MAX pooling without padding: ceil((size - kernel) / stride) + 1 windows, the last
    ones clipped at the border (padded here with -inf, which never wins)."""
    h, w = x.shape[2:]
    oh, ow = -(-(h - kernel) // stride) + 1, -(-(w - kernel) // stride) + 1
    padded = np.pad(
        x,
        [(0, 0), (0, 0), (0, (oh - 1) * stride + kernel - h), (0, (ow - 1) * stride + kernel - w)],
        constant_values=-np.inf,
    )
    return np.max(
        [
            padded[
                :, :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride
            ]
            for i in range(kernel)
            for j in range(kernel)
        ],
        axis=0,
    )


def lrn(x, local_size=5, alpha=1e-4, beta=0.75, k=1.0):
    channels, pre = x.shape[1], (local_size - 1) // 2
    squares = np.pad(x**2, [(0, 0), (pre, pre), (0, 0), (0, 0)])
    window = sum(squares[:, i : i + channels] for i in range(local_size))
    return x * (k + alpha / local_size * window) ** -beta


def relu(x):
    return np.maximum(x, 0)


def crop(x, offset, reference_hw):
    h, w = reference_hw
    return x[:, :, offset : offset + h, offset : offset + w]


def data(image, mean, reverse_channels=True):
    """The data layers: HWC image → CHW, channels flipped to BGR (colour), minus the mean."""
    image = np.asarray(image, np.float32)
    if reverse_channels:
        image = image[..., ::-1]
    return (image - np.asarray(mean, np.float32)).transpose(2, 0, 1)[None]


# ---------------------------------------------------------------------------------------------
# The nets.


def vgg16_trunk(x, blobs, suffix=""):
    """conv1_1 (pad 100) … pool5, fc6 (7×7, pad 0), fc7; returns pool3, pool4 and fc7."""
    taps = {}
    for index, (name, _, _) in enumerate(VGG16_CONVS):
        x = relu(convolution(x, *blobs[name + suffix], pad=100 if index == 0 else 1))
        if name in ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"):
            x = max_pool(x, 2, 2)
            taps[f"pool{name[4]}"] = x
    x = relu(convolution(taps["pool5"], *blobs["fc6" + suffix]))
    taps["fc7"] = relu(convolution(x, *blobs["fc7" + suffix]))
    return taps


def fcn(blobs, image, mean, stride, head="", at_once=False, reverse_channels=True):
    """voc-fcn{32,16,8}s/net.py (and voc-fcn8s-atonce, siftflow-fcn* with `head`, the NYUDv2
    single-stream nets, HHA unflipped): NHWC logits."""
    x = data(image, mean, reverse_channels)
    taps = vgg16_trunk(x, blobs)
    score = convolution(taps["fc7"], *blobs[f"score_fr{head}"])
    offsets = {"pool4": 5, "pool3": 9}
    for (pool, _), (upsampler, _) in zip(FCN_SKIPS[stride], FCN_UPSAMPLERS[stride], strict=False):
        score = deconvolution(score, *blobs[upsampler + head], stride=2)
        pooled = taps[pool]
        if at_once:
            (scale,) = blobs[f"scale_{pool}{head}"]
            pooled = pooled * scale.astype(np.float32)[None, :, None, None]
        skip = convolution(pooled, *blobs[f"score_{pool}{head}"])
        score = score + crop(skip, offsets[pool], score.shape[2:])
    final, kernel = FCN_UPSAMPLERS[stride][-1]
    score = deconvolution(score, *blobs[final + head], stride=kernel // 2)
    offset = {"32s": 19, "16s": 27, "8s": 31}[stride]
    return crop(score, offset, x.shape[2:]).transpose(0, 2, 3, 1)


def nyud_late_fusion(blobs, color, hha, color_mean, hha_mean):
    """nyud-fcn32s-color-hha/net.py: two streams, score_fused = 0.5 · score_frcolor + 0.5 ·
    score_frhha, upscore (64, 32), crop 19 to the colour input."""
    streams = {"color": data(color, color_mean), "hha": data(hha, hha_mean, reverse_channels=False)}
    scores = [
        convolution(vgg16_trunk(x, blobs, suffix)["fc7"], *blobs[f"score_fr{suffix}"])
        for suffix, x in streams.items()
    ]
    fused = 0.5 * scores[0] + 0.5 * scores[1]
    score = deconvolution(fused, *blobs["upscore"], stride=32)
    return crop(score, 19, streams["color"].shape[2:]).transpose(0, 2, 3, 1)


def fcn_alexnet(blobs, image, mean):
    """voc-fcn-alexnet/net.py: conv1 (11, stride 4, pad 100), pool1 (3, 2), norm1, conv2 (group
    2), pool2, norm2, conv3 … conv5, pool5, fc6 (6×6), fc7, score_fr, upscore (63, 32), crop 18."""
    x = data(image, mean)
    y = x
    for name, _, _, _, stride, pad, group in ALEXNET_CONVS:
        y = relu(convolution(y, *blobs[name], stride=stride, pad=pad, group=group))
        if name in ("conv1", "conv2"):
            y = lrn(max_pool(y, 3, 2))
    y = max_pool(y, 3, 2)
    y = relu(convolution(y, *blobs["fc6"]))
    y = relu(convolution(y, *blobs["fc7"]))
    score = deconvolution(convolution(y, *blobs["score_fr"]), *blobs["upscore"], stride=32)
    return crop(score, 18, x.shape[2:]).transpose(0, 2, 3, 1)


def relative_error(actual, expected) -> float:
    """max |actual − expected| / max |expected|."""
    return float(np.abs(np.asarray(actual, np.float64) - expected).max() / np.abs(expected).max())
