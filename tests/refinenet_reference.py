"""RefineNet's MatConvNet release written with raw ops: the tests' reference for
`keras_fcn.models.refinenet`, its `.mat` reader and mapping, and MATLAB's `imresize`.

Parameters are a dict of MatConvNet parameter names to arrays in MATLAB's own layout, as the
released DagNNs hold them: `<layer>_filter` `[H W Cin Cout]`, `<layer>_bias` `1×Cout`,
`<bn>_mult` / `<bn>_bias` `C×1`, `<bn>_moments` `C×2` (mean, then sqrt(variance + ε));
the classifier, a simplenn layer of the loss group, is `classifier` with `filters` and `biases`.
The forward pass follows main/gen_network_refine_group.m, main/My_net_util.m,
main/gen_network_pool_block.m, main/gen_network_featnet_resnet.m and main/my_resize.m, in float64
with torch's functional ops (inputs NHWC, computed NCHW).
"""

import numpy as np
import torch
from resnet_reference import BLOCKS, BLOCKS_101, _msra_block
from torch.nn import functional

PLANES = (64, 128, 256, 512)
BLOCKS_BY_DEPTH = {50: BLOCKS, 101: BLOCKS_101, 152: (3, 8, 36, 3)}


# MATLAB's imresize (Image Processing Toolbox imresize.m), line for line.


def matlab_contributions(in_length, out_length, scale, antialiasing, border):
    """`contributions` for the bicubic kernel (1-based indices): a window of P = ceil(width) + 2
    taps from floor(u − width / 2), weights normalised per row, out-of-range indices clamped (up
    to R2016) or mirrored (later releases). Returns 0-based indices."""

    def cubic(x):
        a = np.abs(x)
        near = (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1)
        return near + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2))

    kernel_width = 4.0
    kernel = cubic
    if scale < 1 and antialiasing:
        kernel = lambda x: scale * cubic(scale * x)  # noqa: E731
        kernel_width = kernel_width / scale
    x = np.arange(1, out_length + 1, dtype=np.float64)[:, None]
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = int(np.ceil(kernel_width)) + 2
    indices = left + np.arange(taps)[None, :]
    weights = kernel(u - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    if border == "replicate":
        indices = np.clip(indices, 1, in_length)
    else:
        aux = np.concatenate([np.arange(1, in_length + 1), np.arange(in_length, 0, -1)])
        indices = aux[np.mod(indices - 1, len(aux)).astype(int)]
    return weights, indices.astype(int) - 1


def matlab_imresize(x, output_size, scale, antialiasing=True, border="replicate"):
    """`imresize` of NHWC `x` in float64: `resizeAlongDim` along each axis with its
    `contributions`, the axis of the smaller scale first (`dimensionOrder`)."""
    x = np.asarray(x, np.float64)
    for axis in np.argsort(scale, kind="stable") + 1:
        weights, indices = matlab_contributions(
            x.shape[axis], output_size[axis - 1], scale[axis - 1], antialiasing, border
        )
        taken = np.take(x, indices, axis=axis)  # (…, out, taps, …) along the axis
        shape = [1] * taken.ndim
        shape[axis], shape[axis + 1] = weights.shape
        x = (taken * weights.reshape(shape)).sum(axis=axis + 1)
    return x


def my_resize(x, size):
    """main/my_resize.m's GPU path on NHWC `x`: `imresize(x, s)` with s the larger of the two
    ratios (bicubic, the default), then the first `size` rows and columns."""
    scale = max(out / n for out, n in zip(size, x.shape[1:3], strict=True))
    full = [int(np.ceil(scale * n)) for n in x.shape[1:3]]
    return matlab_imresize(x, full, (scale, scale))[:, : size[0], : size[1]]


# Random parameters, as the released files hold them.


def _matlab_vector(values):
    return np.asarray(values, np.float32).reshape(-1, 1)


def head_convolutions(
    widths=(512, 256, 256, 256), pooling: str = "original", adapt_prefix: str = "adapt_input_path"
) -> dict:
    """The head's convolutions as the release's graph lists them
    (`net_graphs/part2_cascaed_refinenet{,_pooling_improved}.pdf`, from
    main/gen_network_refine_group.m): name → (filter shape `[3 3 Cin Cout]`, whether it has a
    bias, the gain of its random initialisation here)."""
    layers = {}

    def rcu(prefix, width):
        layers[f"{prefix}_conv"] = ((3, 3, width, width), True, 0.5)
        layers[f"{prefix}_conv_relu_varout_dimred"] = ((3, 3, width, width), False, 0.5)

    channels = (2048, 1024, 512, 256)
    for path, (cin, width) in enumerate(zip(channels, widths, strict=True), start=1):
        layers[f"p_ims1d2_outl{path}_dimred"] = ((3, 3, cin, width), False, 1.0)
        for unit in (1, 2):
            rcu(f"{adapt_prefix}{path}_b{unit}", width)
    width = widths[0]
    for block in range(1, 5):
        prefix = f"mflow_conv_g{block}"
        if block > 1:  # filter_num_after_joint: the smaller width of the two inputs
            joint = min(width, widths[block - 1])
            previous = f"mflow_conv_g{block - 1}_b3_joint_varout_dimred"
            layers[previous] = ((3, 3, width, joint), False, 1.0)
            path = f"{adapt_prefix}{block}_b2_joint_varout_dimred"
            layers[path] = ((3, 3, widths[block - 1], joint), False, 1.0)
            width = joint
        for link in range(1, 5):
            if pooling == "original":
                name = f"{prefix}_pool{link}_outvar_dimred"
            else:  # dim_adapt_name: the variable convolved, then _pb<link>
                variable = f"{prefix}_pool{link - 1}_outvar"
                name = f"{prefix}_poolprev_relu_varout_pb1" if link == 1 else f"{variable}_pb{link}"
            layers[name] = ((3, 3, width, width), False, 0.5)
        for unit in (1, 2, 3):
            rcu(f"{prefix}_b{unit}", width)
    return layers


def random_parameters(
    rng: np.random.Generator,
    num_classes: int,
    depth: int = 50,
    widths=(512, 256, 256, 256),
    pooling: str = "original",
    adapt_prefix: str = "adapt_input_path",
) -> dict:
    """The parameters of a MatConvNet RefineNet: MSRA's ResNet as MatConvNet imports it (conv1
    with a bias, `bn*` with `_mult`, `_bias`, `_moments`) and the head of the release's graph
    (`net_graphs/part2_cascaed_refinenet{,_pooling_improved}.pdf`), He-scaled."""
    p = {}

    def conv(name, kernel, cin, cout, bias=False, gain=2.0):
        scale = np.sqrt(gain / (kernel * kernel * cin))
        p[f"{name}_filter"] = rng.normal(0, scale, (kernel, kernel, cin, cout)).astype(np.float32)
        if bias:
            p[f"{name}_bias"] = rng.normal(0, 0.1, (1, cout)).astype(np.float32)

    def bn(name, channels):
        p[f"{name}_mult"] = _matlab_vector(rng.uniform(0.2, 1.0, channels))
        p[f"{name}_bias"] = _matlab_vector(rng.normal(0, 0.2, channels))
        moments = [rng.normal(0, 0.5, channels), rng.uniform(0.7, 1.4, channels)]
        p[f"{name}_moments"] = np.stack(moments, axis=1).astype(np.float32)

    conv("conv1", 7, 3, 64, bias=True)
    bn("bn_conv1", 64)
    blocks, inplanes = BLOCKS_BY_DEPTH[depth], 64
    for stage, (planes, stage_blocks) in enumerate(zip(PLANES, blocks, strict=True), start=2):
        for block in range(stage_blocks):
            name = f"{stage}{_msra_block(stage, block, blocks)}"
            if block == 0:
                conv(f"res{name}_branch1", 1, inplanes, 4 * planes)
                bn(f"bn{name}_branch1", 4 * planes)
            for branch, (kernel, cin, cout) in zip(
                "abc",
                ((1, inplanes, planes), (3, planes, planes), (1, planes, 4 * planes)),
                strict=True,
            ):
                conv(f"res{name}_branch2{branch}", kernel, cin, cout)
                bn(f"bn{name}_branch2{branch}", cout)
            inplanes = 4 * planes

    for name, (shape, has_bias, gain) in head_convolutions(widths, pooling, adapt_prefix).items():
        conv(name, shape[0], shape[2], shape[3], bias=has_bias, gain=gain)
    width = min(widths)  # block g4's
    p["classifier"] = {
        "filters": rng.normal(0, np.sqrt(1 / (9 * width)), (3, 3, width, num_classes)).astype(
            np.float32
        ),
        "biases": rng.normal(0, 0.1, (1, num_classes)).astype(np.float32),
    }
    return p


# The forward pass.


def _tensor(array) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, np.float64))


def _conv(x, p, name, stride=1, padding=1):
    """MatConvNet's `vl_nnconv` of `[H W Cin Cout]` filters (`_bias` where the layer has one)."""
    weight = _tensor(p[f"{name}_filter"]).permute(3, 2, 0, 1)
    bias = p.get(f"{name}_bias")
    bias = None if bias is None else _tensor(bias).reshape(-1)
    return functional.conv2d(x, weight, bias, stride=stride, padding=padding)


def _bnorm(x, p, name):
    """`vl_nnbnorm` with given moments: mult · (x − μ) / σ + bias, σ already holding ε."""
    mean, sigma = (_tensor(p[f"{name}_moments"][:, column]) for column in (0, 1))
    mult, bias = (_tensor(p[f"{name}_{key}"]).reshape(-1) for key in ("mult", "bias"))
    shape = (1, -1, 1, 1)
    return mult.reshape(shape) * (x - mean.reshape(shape)) / sigma.reshape(shape) + bias.reshape(
        shape
    )


def matconvnet_resnet(x, p, depth):
    """MSRA's ResNet imported by MatConvNet, padded symmetrically (`fix_padding_resnet`), on NCHW
    `x`: conv1 7×7 stride 2 pad 3 with bias, `bn_conv1`, ReLU, pool1 3×3 stride 2 pad 1 rounding
    down (MatConvNet's pooling); blocks stride in `branch2a` (1×1) and `branch1`. Returns
    res2c … res5c (the taps `p_ims1d2_outl4` … `outl1`)."""
    x = functional.relu(_bnorm(_conv(x, p, "conv1", stride=2, padding=3), p, "bn_conv1"))
    x = functional.max_pool2d(x, 3, stride=2, padding=1)
    blocks, taps = BLOCKS_BY_DEPTH[depth], []
    for stage, stage_blocks in enumerate(blocks, start=2):
        for block in range(stage_blocks):
            name = f"{stage}{_msra_block(stage, block, blocks)}"
            stride = 2 if block == 0 and stage > 2 else 1
            shortcut = x
            if block == 0:
                shortcut = _conv(x, p, f"res{name}_branch1", stride=stride, padding=0)
                shortcut = _bnorm(shortcut, p, f"bn{name}_branch1")
            y = _conv(x, p, f"res{name}_branch2a", stride=stride, padding=0)
            y = functional.relu(_bnorm(y, p, f"bn{name}_branch2a"))
            y = functional.relu(_bnorm(_conv(y, p, f"res{name}_branch2b"), p, f"bn{name}_branch2b"))
            y = _bnorm(_conv(y, p, f"res{name}_branch2c", padding=0), p, f"bn{name}_branch2c")
            x = functional.relu(shortcut + y)
        taps.append(x)
    return taps[::-1]


def _rcu(x, p, prefix):
    """`add_res_conv_block`: `_prev_relu`, `_conv` (with bias), `_conv_relu`, `_dimred`,
    `_joint`."""
    y = functional.relu(_conv(functional.relu(x), p, f"{prefix}_conv"))
    return x + _conv(y, p, f"{prefix}_conv_relu_varout_dimred")


def _crp(x, p, prefix, pooling):
    """`do_gen_block` / `do_gen_block_convbeforepool` with `chained_pool_num` 4, pool 5×5 pad 2
    (MatConvNet's max-pooling ignores the padding)."""
    x = functional.relu(x)
    var, link, total = f"{prefix}_poolprev_relu_varout", x, x
    for index in range(1, 5):
        if pooling == "original":
            link = functional.max_pool2d(link, 5, stride=1, padding=2)
            link = _conv(link, p, f"{prefix}_pool{index}_outvar_dimred")
        else:
            link = _conv(link, p, f"{var}_pb{index}")
            link = functional.max_pool2d(link, 5, stride=1, padding=2)
        var = f"{prefix}_pool{index}_outvar"
        total = total + link
    return total


def _resize(x, size, upsampling):
    """`My_sum_layer`'s resize of NCHW `x` to `size`: MATLAB's bicubic GPU path, or bilinear
    with pixel centres aligned (torch's interpolate)."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    if upsampling == "bilinear":
        return functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
    resized = my_resize(x.numpy().transpose(0, 2, 3, 1), size)
    return _tensor(resized.transpose(0, 3, 1, 2))


def refinenet_logits(
    images,
    p,
    depth=50,
    pooling="original",
    upsampling="bilinear",
    adapt_prefix="adapt_input_path",
):
    """The release's net at test time on RGB `images` (N, H, W, 3) in [0, 255]: minus 128, the
    ResNet, the adaptation of each path (`p_ims1d2_outl{n}_dimred`, two RCUs), the four
    RefineNet blocks (fusion by `_dimred` convolutions and `My_sum_layer`, CRP, three RCUs), the
    classifier (3×3 with bias, pad 1), resized to the images. Returns NHWC logits."""
    x = _tensor(np.asarray(images, np.float64) - 128.0).permute(0, 3, 1, 2)
    taps = matconvnet_resnet(x, p, depth)
    paths = []
    for number, tap in enumerate(taps, start=1):
        path = _conv(tap, p, f"p_ims1d2_outl{number}_dimred")
        for unit in (1, 2):
            path = _rcu(path, p, f"{adapt_prefix}{number}_b{unit}")
        paths.append((path, f"{adapt_prefix}{number}_b2_joint_varout"))
    x = None
    for block, (path, path_var) in enumerate(paths, start=1):
        if x is not None:
            coarse = _conv(x, p, f"mflow_conv_g{block - 1}_b3_joint_varout_dimred")
            fine = _conv(path, p, f"{path_var}_dimred")
            size = [max(a, b) for a, b in zip(coarse.shape[2:], fine.shape[2:], strict=True)]
            path = _resize(coarse, size, upsampling) + _resize(fine, size, upsampling)
        x = _crp(path, p, f"mflow_conv_g{block}", pooling)
        for unit in (1, 2, 3):
            x = _rcu(x, p, f"mflow_conv_g{block}_b{unit}")
    classifier = p["classifier"]
    weight = _tensor(classifier["filters"]).permute(3, 2, 0, 1)
    scores = functional.conv2d(x, weight, _tensor(classifier["biases"]).reshape(-1), padding=1)
    logits = _resize(scores, tuple(np.shape(images)[1:3]), upsampling)
    return logits.numpy().transpose(0, 2, 3, 1)
