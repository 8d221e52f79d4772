"""torchvision's `fcn_resnet50` and `deeplabv3_resnet50` written with raw `torch.nn.functional`
ops in `eval()` mode: the tests' reference for `keras_fcn.models.deeplab_v3`, from
pytorch/vision `torchvision/models/segmentation/{fcn,deeplabv3,_utils}.py`.

The backbone is `resnet_reference.torchvision_resnet50` at output stride 8 (its parameters keep
that module's names, `conv1.weight`, `layer3.0.conv2.weight`, ...); the heads' parameters have
torchvision's state-dict names (`classifier.0.convs.1.0.weight`, `classifier.4.bias`,
`aux_classifier.1.running_var`, ...). Kernels are `(out, in, kh, kw)`; images NCHW RGB in
[0, 255]; everything is computed in float64.
"""

import numpy as np
import resnet_reference
import torch
from torch.nn import functional

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
"""torchvision's `SemanticSegmentation` preset: ImageNet's RGB mean and std of images in [0, 1]."""

RATES = (12, 24, 36)
"""`DeepLabHead`'s `ASPP(in_channels, [12, 24, 36])`."""


def random_parameters(
    rng: np.random.Generator, head: str, num_classes: int, aux: bool
) -> dict[str, np.ndarray]:
    """ResNet-50 (`resnet_reference.random_parameters`) and the head's parameters: He-scaled
    kernels, small biases, batch normalizations with non-trivial statistics.

    Args:
        rng: the generator.
        head: `"fcn"` (`FCNHead(2048)`) or `"deeplabv3"` (`DeepLabHead(2048)`).
        num_classes: the classes scored.
        aux: whether to add `aux_classifier` (`FCNHead(1024)`).
    """
    parameters = resnet_reference.random_parameters(rng)

    def conv(name, out_channels, in_channels, kernel_size, bias=False):
        fan_in = in_channels * kernel_size**2
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        parameters[f"{name}.weight"] = rng.normal(0, np.sqrt(2 / fan_in), shape)
        if bias:
            parameters[f"{name}.bias"] = rng.normal(0, 0.1, out_channels)

    def batch_norm(name, channels):
        parameters[f"{name}.weight"] = rng.uniform(0.2, 1.0, channels)
        parameters[f"{name}.bias"] = rng.normal(0, 0.2, channels)
        parameters[f"{name}.running_mean"] = rng.normal(0, 0.5, channels)
        parameters[f"{name}.running_var"] = rng.uniform(0.5, 2.0, channels)

    def fcn_head(prefix, in_channels):
        conv(f"{prefix}.0", in_channels // 4, in_channels, 3)
        batch_norm(f"{prefix}.1", in_channels // 4)
        conv(f"{prefix}.4", num_classes, in_channels // 4, 1, bias=True)

    if head == "fcn":
        fcn_head("classifier", 2048)
    else:
        for branch, kernel_size in enumerate((1, 3, 3, 3)):
            conv(f"classifier.0.convs.{branch}.0", 256, 2048, kernel_size)
            batch_norm(f"classifier.0.convs.{branch}.1", 256)
        conv("classifier.0.convs.4.1", 256, 2048, 1)
        batch_norm("classifier.0.convs.4.2", 256)
        conv("classifier.0.project.0", 256, 5 * 256, 1)
        batch_norm("classifier.0.project.1", 256)
        conv("classifier.1", 256, 256, 3)
        batch_norm("classifier.2", 256)
        conv("classifier.4", num_classes, 256, 1, bias=True)
    if aux:
        fcn_head("aux_classifier", 1024)
    return parameters


def _conv_bn_relu(x, p, conv, bn, padding=0, dilation=1):
    """`nn.Conv2d(bias=False)`, `nn.BatchNorm2d` in `eval()` mode, `nn.ReLU`."""
    x = functional.conv2d(x, p[f"{conv}.weight"], padding=padding, dilation=dilation)
    x = functional.batch_norm(
        x,
        p[f"{bn}.running_mean"],
        p[f"{bn}.running_var"],
        p[f"{bn}.weight"],
        p[f"{bn}.bias"],
        training=False,
        eps=resnet_reference.EPSILON,
    )
    return functional.relu(x)


def _fcn_head(x, p, prefix):
    """`FCNHead`: 3×3 conv (padding 1), BN, ReLU, Dropout(0.1) (identity in `eval()`), 1×1 conv
    with bias."""
    x = _conv_bn_relu(x, p, f"{prefix}.0", f"{prefix}.1", padding=1)
    return functional.conv2d(x, p[f"{prefix}.4.weight"], p[f"{prefix}.4.bias"])


def _deeplab_head(x, p):
    """`DeepLabHead`: `ASPP` (1×1; 3×3 with padding = dilation = 12, 24, 36; `ASPPPooling`:
    adaptive average pooling to 1×1, 1×1 conv, BN, ReLU, bilinear back with
    `align_corners=False`; concatenated; `project` 1×1, BN, ReLU, Dropout(0.5)), 3×3 conv
    (padding 1), BN, ReLU, 1×1 conv with bias."""
    branches = [_conv_bn_relu(x, p, "classifier.0.convs.0.0", "classifier.0.convs.0.1")]
    for branch, rate in enumerate(RATES, start=1):
        prefix = f"classifier.0.convs.{branch}"
        branches.append(
            _conv_bn_relu(x, p, f"{prefix}.0", f"{prefix}.1", padding=rate, dilation=rate)
        )
    pooled = functional.adaptive_avg_pool2d(x, 1)
    pooled = _conv_bn_relu(pooled, p, "classifier.0.convs.4.1", "classifier.0.convs.4.2")
    branches.append(
        functional.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False)
    )
    x = torch.cat(branches, dim=1)
    x = _conv_bn_relu(x, p, "classifier.0.project.0", "classifier.0.project.1")
    x = _conv_bn_relu(x, p, "classifier.1", "classifier.2", padding=1)
    return functional.conv2d(x, p["classifier.4.weight"], p["classifier.4.bias"])


def segmentation_model(images: np.ndarray, parameters: dict, head: str) -> dict[str, np.ndarray]:
    """torchvision's `_SimpleSegmentationModel.forward` on images preprocessed by its
    `SemanticSegmentation` preset (÷ 255, minus `MEAN`, over `STD`).

    Args:
        images: NCHW RGB images in [0, 255].
        parameters: `random_parameters`' names; `aux_classifier.*` adds the `"aux"` output.
        head: `"fcn"` or `"deeplabv3"`.

    Returns:
        `{"out": logits}` (and `"aux"`), NCHW at the images' size: each head's logits resized by
        `F.interpolate(mode="bilinear", align_corners=False)`.
    """
    mean = np.reshape(MEAN, (1, 3, 1, 1))
    std = np.reshape(STD, (1, 3, 1, 1))
    normalized = (np.asarray(images, np.float64) / 255 - mean) / std
    heads = ("classifier.", "aux_classifier.")
    backbone = {name: value for name, value in parameters.items() if not name.startswith(heads)}
    features = resnet_reference.torchvision_resnet50(normalized, backbone)
    p = {
        name: torch.from_numpy(np.asarray(value, np.float64)) for name, value in parameters.items()
    }
    size = images.shape[-2:]

    def resize(logits):
        return functional.interpolate(logits, size=size, mode="bilinear", align_corners=False)

    conv5 = torch.from_numpy(features["P5"])
    logits = _fcn_head(conv5, p, "classifier") if head == "fcn" else _deeplab_head(conv5, p)
    outputs = {"out": resize(logits)}
    if "aux_classifier.0.weight" in parameters:
        outputs["aux"] = resize(_fcn_head(torch.from_numpy(features["P4"]), p, "aux_classifier"))
    return {name: value.numpy() for name, value in outputs.items()}
