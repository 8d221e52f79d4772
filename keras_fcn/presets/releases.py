"""The trained nets of the original releases as data: one `Preset` per net, in `PRESETS`.

Each `Preset` is one row of data: the model of the registry it is (`keras_fcn.registry`, built
by its one factory), its inputs with the means their weights expect, the classes it scores,
where its file is published (the URL of the release's `caffemodel-url` file, or of the zip
archive holding it, with the member's name; torchvision's `.pth`; the Google Drive page or
folder of PSPNet's and RefineNet's files) with its SHA1 where known, and its published scores.
`keras_fcn.presets.from_preset` downloads, converts and caches the file.

Reference: Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016; the
release shelhamer/fcn.berkeleyvision.org (`*/net.py`, `*/caffemodel-url`, `data/*/classes*.txt`,
`*_layers.py` for the means); Chen et al., ICLR 2015 (DeepLab-LargeFOV's release,
`train2_iter_8000.caffemodel`); Yu & Koltun, ICLR 2016 (fyu/dilation,
`dilation8_pascal_voc.caffemodel`); Chen et al., PAMI 2017 (DeepLab v2's
`deeplab_aspp_resnet101/prototxt_and_model.zip`, `train_iter_20000.caffemodel`, as
kazuto1011/deeplab-pytorch `scripts/setup_caffemodels.sh` downloads it); Zhao et al., CVPR 2017
(hszhao/PSPNet `README.md`, `evaluation/model/README.md`: the three `.caffemodel` files on
Google Drive); Lin, Milan, Shen & Reid, CVPR 2017 (guosheng/refinenet README, "Trained
models").
"""

import dataclasses
from collections.abc import Mapping

import keras
import numpy as np

from keras_fcn import registry
from keras_fcn.backbones.preprocessing import (
    CAFFE_FCN_MEAN_BGR,
    DEEPLAB_MEAN_BGR,
    DILATION_VOC_MEAN_BGR,
    NYUD_COLOR_MEAN_BGR,
    NYUD_HHA_MEAN,
    PASCAL_CONTEXT_MEAN_BGR,
    PSPNET_MEAN_BGR,
    SIFT_FLOW_MEAN_BGR,
)
from keras_fcn.classes import (
    ADE20K_CLASS_NAMES,
    CITYSCAPES_CLASS_NAMES,
    NYUD_CLASS_NAMES,
    PALETTES,
    PASCAL_CONTEXT_CLASS_NAMES,
    PERSON_PARTS_CLASS_NAMES,
    SIFT_FLOW_GEOMETRIC_CLASS_NAMES,
    SIFT_FLOW_SEMANTIC_CLASS_NAMES,
    SUNRGBD_CLASS_NAMES,
    VOC_CLASS_NAMES,
)
from keras_fcn.model_options import OPTIONS
from keras_fcn.models.fcn import Stream

CAFFEMODEL_URL = "http://dl.caffe.berkeleyvision.org/"
"""Where the release publishes its `.caffemodel` files."""

TORCHVISION_URL = "https://download.pytorch.org/models/"
"""Where PyTorch publishes torchvision's trained weights (`.pth` state dicts)."""

GOOGLE_DRIVE_URL = "https://drive.google.com/file/d/{}/view?usp=sharing"
"""The page of a file shared on Google Drive, by its id (PSPNet's `.caffemodel` files)."""

REFINENET_FOLDERS = {
    101: "https://drive.google.com/open?id=1U2c1N6QJdzB_8HBgXb7mJ6Qk66JDBHI9",
    152: "https://drive.google.com/open?id=1UGhqllXOn_qmDhx_3C9aKCoilZGgycFf",
}
"""The Google Drive folders of RefineNet's trained models by ResNet depth (guosheng/refinenet
README, "Trained models"; mirrored on Baidu Pan, https://pan.baidu.com/s/1nxf2muP and
https://pan.baidu.com/s/1bqDwrWN). Whether they are still shared could not be checked here."""

_REFINENET_DATASETS = (
    # preset prefix, file suffix, title, classes in channel order, pooling[, palette]
    ("voc", "voc2012", "PASCAL VOC 2012", (*VOC_CLASS_NAMES, "void"), "original"),
    (
        "cityscapes",
        "cityscapes",
        "Cityscapes",
        (*CITYSCAPES_CLASS_NAMES, "void"),
        "original",
        "cityscapes",
    ),
    ("nyud", "nyud", "NYUDv2", (*NYUD_CLASS_NAMES, "void"), "improved"),
    (
        "person-parts",
        "person_parts",
        "PASCAL-Person-Part",
        PERSON_PARTS_CLASS_NAMES,
        "improved",
        "voc",
    ),
    (
        "pascalcontext",
        "pascalcontext",
        "PASCAL-Context",
        PASCAL_CONTEXT_CLASS_NAMES,
        "improved",
        "voc",
    ),
    ("sunrgbd", "sunrgbd", "SUN RGB-D", ("void", *SUNRGBD_CLASS_NAMES), "improved"),
    ("ade20k", "ade", "ADE20K", ("void", *ADE20K_CLASS_NAMES), "improved"),
)
"""RefineNet's seven datasets, as its `main/gen_class_info_*.m` list their classes: each class
name, `void` included where the list has it, is one channel of the classifier
(`process_class_info`: `class_num` counts them, and `cnn_layer_dense_softmaxloss_forward.m`
asserts the scores have as many channels), so VOC's net scores 22 channels, the last one void
(never a training target); the README names the datasets whose models use improved pooling."""

_REFINENET_SCORES = {
    "voc-refinenet152": (
        83.4,
        "PASCAL VOC 2012 test, multi-scale (the paper's abstract; the released file is the "
        "model updated on 13 Feb 2018)",
    ),
    "cityscapes-refinenet101": (73.6, "Cityscapes test (the paper's table)"),
}
"""Published mean IU of the nets whose released file is the paper's; the improved-pooling files
score above the paper (README) and have no published number of their own."""


def _refinenet_preset(depth, prefix, suffix, title, classes, pooling, palette="voc") -> "Preset":
    """A RefineNet model of the release: `refinenet_res<depth>_<suffix>.mat` in its folder."""
    name = f"{prefix}-refinenet{depth}"
    mean_iou, split = _REFINENET_SCORES.get(name, (None, "no published score of this file"))
    return Preset(
        name,
        f"RefineNet ResNet-{depth}, {title}",
        f"refinenet{depth}",
        (),
        classes,
        REFINENET_FOLDERS[depth],
        mean_iou=mean_iou,
        mean_iou_split=split,
        manual_file=f"refinenet_res{depth}_{suffix}.mat",
        options=(("pooling", pooling),),
        palette_name=palette,
    )


_PSPNET_FILES = {
    "pspnet50_ADE20K.caffemodel": "1SyCa_mEB-WiwvnqyBBBkWycS1zQDtDzW",
    "pspnet101_VOC2012.caffemodel": "1-jjYyRzbNEwsdQYP2UPJVy0ZV_yCVU2N",
    "pspnet101_cityscapes.caffemodel": "1-Me01pX1KUsut_7l6uJXkIbaBxxSVgX0",
}
"""PSPNet's released files and their ids on Google Drive."""

_PSPNET_SCORES = {
    "ade20k-pspnet50": (
        "ADE20K val (2000 images), multi-scale with flip (protocol pspnet-ms)",
        {
            "pspnet-ss": {"mean_iou": 41.68, "pixel_accuracy": 80.04},
            "pspnet-ms": {"pixel_accuracy": 80.76, "mean_iou": 42.78},
        },
    ),
    "voc-pspnet101": (
        "PASCAL VOC 2012 test (evaluation server), multi-scale with flip (pspnet-ms)",
        {"pspnet-ms": {"mean_iou": 85.41}},
    ),
    "cityscapes-pspnet101": (
        "Cityscapes val (500 images), multi-scale with flip (pspnet-cityscapes-ms)",
        {
            "pspnet-cityscapes-ss": {"mean_iou": 79.70, "pixel_accuracy": 96.38},
            "pspnet-cityscapes-ms": {"pixel_accuracy": 96.59, "mean_iou": 80.91},
        },
    ),
}
"""PSPNet's published scores by preset: the images and protocol of its mean IU, and each
protocol's metrics, the mean IU last (README's table: single and multi-scale, with flip)."""


def _pspnet_preset(prefix, depth, dataset, classes, input_size) -> "Preset":
    """A PSPNet net of the release: `pspnet<depth>_<dataset>.caffemodel` on Google Drive, run
    at `input_size`, drawn with the palette named `prefix`."""
    name = f"{prefix}-pspnet{depth}"
    file = f"pspnet{depth}_{dataset}.caffemodel"
    split, protocols = _PSPNET_SCORES[name]
    scores = tuple(
        (protocol, metric, value)
        for protocol, metrics in protocols.items()
        for metric, value in metrics.items()
    )
    return Preset(
        name,
        f"PSPNet{depth} {dataset}",
        f"pspnet{depth}",
        (Stream("image", PSPNET_MEAN_BGR),),
        classes,
        GOOGLE_DRIVE_URL.format(_PSPNET_FILES[file]),
        mean_iou=scores[-1][2],
        mean_iou_split=split,
        manual_file=file,
        palette_name=prefix,
        options=(("input_size", input_size),),
        scores=scores,
    )


_UNTRAINED = {"weights": None, "kernel_initializer": "zeros"}
"""How presets are built: every weight is loaded next, and zeros cost nothing to draw where
random kernels take seconds and twice the weights' memory."""

_SET_BY_THE_PRESET = ("mean", "streams")
"""Architecture options a preset sets itself: its inputs and their means."""

_SIZES = ("input_shape", "input_size")
"""Options of a preset's `options` that a caller may change: the input size its release ran at
(PSPNet's 473 or 713) runs the same weights at any other size. Its other options (RefineNet's
pooling) say what the file's weights compute, and are the preset's."""


@dataclasses.dataclass(frozen=True)
class Preset:
    """One trained net of the original release.

    Args:
        name: the preset's name, that of the release's directory (`voc-fcn8s`).
        title: how the release's README names it.
        model: the registry's name of its architecture (`"fcn8s"`, `"deeplab-largefov"`).
        streams: the net's inputs and the means their weights expect (`Stream`); none for a
            net that normalizes its images itself (torchvision's).
        class_names: the classes scored, in order; for a net of several heads (SIFT Flow), by
            head name.
        url: where the file is published: the release's `caffemodel-url`, the zip archive
            holding the `.caffemodel`, or torchvision's `.pth`.
        sha1: the file's SHA1 where known, checked after downloading.
        mean_iou: the published mean IU (%) of the net, where there is one.
        mean_iou_split: the images `mean_iou` was measured on, and how.
        member: for an archive, the name of the `.caffemodel` in it (in any of its folders).
        manual_file: for a file published where `keras.utils.get_file` cannot download it (a
            page or a folder of Google Drive: PSPNet's, RefineNet's), its name: it is
            downloaded by hand and passed to `from_preset` as `path`.
        palette_name: the colours of the classes, a name of `keras_fcn.classes.PALETTES`.
        options: architecture options the release fixes, `(name, value)` pairs (PSPNet's
            `input_size`, RefineNet's `pooling`); a caller may change the input size only.
        scores: published scores beyond `mean_iou`, `(protocol, metric, value)` triples: a
            name of `keras_fcn.inference.PROTOCOLS`, a field of `keras_fcn.EvaluationReport`
            (`mean_iou`, `pixel_accuracy`) and the value in percent.

    Example:

    >>> preset = PRESETS["siftflow-fcn8s"]
    >>> preset.num_classes, preset.file_name
    ({'sem': 33, 'geo': 3}, 'siftflow-fcn8s-heavy.caffemodel')
    >>> model = preset.build(fc_units=8)
    >>> sorted(model(np.zeros((1, 37, 53, 3))))
    ['score_geo', 'score_sem']
    """

    name: str
    title: str
    model: str
    streams: tuple[Stream, ...]
    class_names: tuple[str, ...] | Mapping[str, tuple[str, ...]]
    url: str
    sha1: str | None = None
    mean_iou: float | None = None
    mean_iou_split: str = "PASCAL VOC 2011 seg11valid"
    member: str | None = None
    manual_file: str | None = None
    palette_name: str = "voc"
    options: tuple[tuple[str, object], ...] = ()
    scores: tuple[tuple[str, str, float], ...] = ()

    @property
    def file_name(self) -> str:
        """The name of the file published: the `.caffemodel`, the archive holding it, or the
        file on Google Drive."""
        return self.manual_file or self.url.rsplit("/", 1)[-1]

    @property
    def num_classes(self) -> int | dict[str, int]:
        """Classes scored: a number, or one per head."""
        if isinstance(self.class_names, Mapping):
            return {head: len(names) for head, names in self.class_names.items()}
        return len(self.class_names)

    @property
    def palette(self) -> np.ndarray | dict[str, np.ndarray]:
        """The colours of the classes (`(num_classes, 3)` uint8: the VOC colour map the FCN
        release draws every dataset with, or the release's own, `palette_name`), or one palette
        per head."""
        palette = PALETTES[self.palette_name]
        if isinstance(self.class_names, Mapping):
            return {head: palette(len(names)) for head, names in self.class_names.items()}
        return palette(len(self.class_names))

    def build(self, **options) -> keras.Model:
        """The net's architecture with untrained (zero) kernels, named as the preset.

        Args:
            **options: architecture options of its registry entry (`input_shape`, `fc_units`,
                `dropout`, `geometry`; `keras_fcn.model_options.OPTIONS`).

        Returns:
            The model; `from_preset` loads the trained weights into it.
        """
        entry = registry.get(self.model)
        fixed = dict(self.options)
        allowed = {"geometry"} | {
            name
            for name in entry.options
            if OPTIONS[name].architecture
            and name not in _SET_BY_THE_PRESET
            and (name not in fixed or name in _SIZES)
        }
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(
                f"Preset {self.name!r} takes the options {', '.join(sorted(allowed))}; "
                f"received {', '.join(unknown)}."
            )
        options = {**fixed, **options}
        if "streams" in entry.options:
            options["streams"] = self.streams
        elif self.streams:  # torchvision's nets hold their normalization themselves
            (stream,) = self.streams
            options["mean"] = stream.mean
        return registry.build(self.model, self.num_classes, name=self.name, **_UNTRAINED, **options)


_VOC = (Stream("image", CAFFE_FCN_MEAN_BGR),)
_PASCAL_CONTEXT = (Stream("image", PASCAL_CONTEXT_MEAN_BGR),)
_SIFT_FLOW = (Stream("image", SIFT_FLOW_MEAN_BGR),)
_SIFT_FLOW_CLASSES = {"sem": SIFT_FLOW_SEMANTIC_CLASS_NAMES, "geo": SIFT_FLOW_GEOMETRIC_CLASS_NAMES}
_NYUD_COLOR = Stream("color", NYUD_COLOR_MEAN_BGR)
_NYUD_HHA = Stream("hha", NYUD_HHA_MEAN, reverse_channels=False)

PRESETS = {
    preset.name: preset
    for preset in (
        Preset(
            "voc-fcn32s",
            "FCN-32s PASCAL",
            "fcn32s",
            _VOC,
            VOC_CLASS_NAMES,
            CAFFEMODEL_URL + "fcn32s-heavy-pascal.caffemodel",
            mean_iou=63.6,
        ),
        Preset(
            "voc-fcn16s",
            "FCN-16s PASCAL",
            "fcn16s",
            _VOC,
            VOC_CLASS_NAMES,
            CAFFEMODEL_URL + "fcn16s-heavy-pascal.caffemodel",
            mean_iou=65.0,
        ),
        Preset(
            "voc-fcn8s",
            "FCN-8s PASCAL",
            "fcn8s",
            _VOC,
            VOC_CLASS_NAMES,
            CAFFEMODEL_URL + "fcn8s-heavy-pascal.caffemodel",
            sha1="c449ea74dd7d83751d1357d6a8c323fcf4038962",
            mean_iou=65.5,
        ),
        Preset(
            "voc-fcn8s-atonce",
            "FCN-8s PASCAL at-once",
            "fcn8s-atonce",
            _VOC,
            VOC_CLASS_NAMES,
            CAFFEMODEL_URL + "fcn8s-atonce-pascal.caffemodel",
            mean_iou=65.4,
        ),
        Preset(
            "voc-fcn-alexnet",
            "FCN-AlexNet PASCAL",
            "fcn-alexnet",
            _VOC,
            VOC_CLASS_NAMES,
            CAFFEMODEL_URL + "fcn-alexnet-pascal.caffemodel",
            mean_iou=48.0,
        ),
        *(
            Preset(
                f"pascalcontext-fcn{stride}s",
                f"FCN-{stride}s PASCAL-Context",
                f"fcn{stride}s",
                _PASCAL_CONTEXT,
                PASCAL_CONTEXT_CLASS_NAMES,
                CAFFEMODEL_URL + f"pascalcontext-fcn{stride}s-heavy.caffemodel",
            )
            for stride in (32, 16, 8)
        ),
        *(
            Preset(
                f"siftflow-fcn{stride}s",
                f"FCN-{stride}s SIFT Flow",
                f"fcn{stride}s",
                _SIFT_FLOW,
                _SIFT_FLOW_CLASSES,
                CAFFEMODEL_URL + f"siftflow-fcn{stride}s-heavy.caffemodel",
            )
            for stride in (32, 16, 8)
        ),
        Preset(
            "nyud-fcn32s-color",
            "FCN-32s NYUDv2 Color",
            "fcn32s",
            (dataclasses.replace(_NYUD_COLOR, name="image"),),
            NYUD_CLASS_NAMES,
            CAFFEMODEL_URL + "nyud-fcn32s-color-heavy.caffemodel",
        ),
        Preset(
            "nyud-fcn32s-hha",
            "FCN-32s NYUDv2 HHA",
            "fcn32s",
            (_NYUD_HHA,),
            NYUD_CLASS_NAMES,
            CAFFEMODEL_URL + "nyud-fcn32s-hha-heavy.caffemodel",
        ),
        Preset(
            "nyud-fcn32s-color-hha",
            "FCN-32s NYUDv2 Late Color-HHA",
            "fcn32s",
            (_NYUD_COLOR, _NYUD_HHA),
            NYUD_CLASS_NAMES,
            CAFFEMODEL_URL + "nyud-fcn32s-color-hha-heavy.caffemodel",
        ),
        Preset(
            "voc-deeplab-largefov",
            "DeepLab-LargeFOV PASCAL VOC 2012",
            "deeplab-largefov",
            (Stream("image", DEEPLAB_MEAN_BGR),),
            VOC_CLASS_NAMES,
            "http://www.cs.jhu.edu/~alanlab/ccvl/DeepLab-LargeFOV/train2_iter_8000.caffemodel",
            mean_iou=62.25,
            mean_iou_split="PASCAL VOC 2012 val, before the CRF",
        ),
        Preset(
            "voc-dilation8",
            "Dilation8 front-end + large context, PASCAL VOC 2012",
            "dilation8-large",
            (Stream("image", DILATION_VOC_MEAN_BGR),),
            VOC_CLASS_NAMES,
            "http://dl.yf.io/dilation/models/dilation8_pascal_voc.caffemodel",
        ),
        Preset(
            "voc-deeplab-v2-resnet101",
            "DeepLab v2 ResNet-101 ASPP-L, PASCAL VOC 2012 (train_aug)",
            "deeplab-aspp-resnet101",
            (Stream("image", DEEPLAB_MEAN_BGR),),
            VOC_CLASS_NAMES,
            "http://liangchiehchen.com/projects/released/deeplab_aspp_resnet101/"
            "prototxt_and_model.zip",
            mean_iou=76.35,
            mean_iou_split=(
                "PASCAL VOC 2012 val, multi-scale inputs (keras_fcn.models.msc.multi_scale), "
                "before the CRF (77.69 with it)"
            ),
            member="train_iter_20000.caffemodel",
        ),
        *(
            Preset(
                f"torchvision-{net}-resnet{depth}",
                f"torchvision {title}-ResNet{depth}, COCO train2017 with VOC's 20 classes",
                f"torchvision-{net}-resnet{depth}",
                (),
                VOC_CLASS_NAMES,
                f"{TORCHVISION_URL}{net}_resnet{depth}_coco-{file_hash}.pth",
                mean_iou=mean_iou,
                mean_iou_split="COCO val2017, VOC's 20 classes (torchvision's own evaluation)",
            )
            for net, title, depth, file_hash, mean_iou in (
                ("fcn", "FCN", 50, "1167a1af", 60.5),
                ("fcn", "FCN", 101, "7ecb50ca", 63.7),
                ("deeplabv3", "DeepLabV3", 50, "cd0a2569", 66.4),
                ("deeplabv3", "DeepLabV3", 101, "586e9e4e", 67.4),
            )
        ),
        _pspnet_preset("ade20k", 50, "ADE20K", ADE20K_CLASS_NAMES, 473),
        _pspnet_preset("voc", 101, "VOC2012", VOC_CLASS_NAMES, 473),
        _pspnet_preset("cityscapes", 101, "cityscapes", CITYSCAPES_CLASS_NAMES, 713),
        *(
            _refinenet_preset(depth, *dataset)
            for dataset in _REFINENET_DATASETS
            for depth in (101, 152)
        ),
    )
}
"""The trained nets by name: the FCN release's 14, named as its directories, then DeepLab's,
Dilation's and DeepLab v2 ResNet-101's VOC models, torchvision's four, PSPNet's three, and
RefineNet's 14 (`<dataset>-refinenet<depth>`)."""
