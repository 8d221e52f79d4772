"""Trained nets of the original releases, one call away: `from_preset("voc-fcn8s")`.

The 14 nets of the FCN release, DeepLab-LargeFOV's VOC model, Dilation8's VOC model, DeepLab
v2's ResNet-101 VOC model, torchvision's four COCO nets, PSPNet's three nets and RefineNet's 14
(ResNet-101 and -152 on seven datasets, MatConvNet `.mat` files shared in Google Drive folders,
which are downloaded by hand and passed as `path`: `from_preset("voc-refinenet101",
"refinenet_res101_voc2012.mat")`).

Each `Preset` is one row of data: the model of the registry it is
(`keras_fcn.registry`, built by its one factory), its inputs with the means their weights
expect, the classes it scores, where its `.caffemodel` is published (the URL of the release's
`caffemodel-url` file, or of the zip archive holding it, with the member's name) with its SHA1
where known, and its published score. `from_preset` builds the architecture, downloads the file
once with `keras.utils.get_file`, converts it (`keras_fcn.weights.load_caffemodel`; from an
archive, its member streamed to a temporary file first) and caches the Keras weights in
`$KERAS_HOME/models` (`~/.keras/models`), so that later calls only load them.

The original geometry is the Caffe nets' own, value for value, so the converted models compute
what the released nets compute.

Reference: Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016; the
release shelhamer/fcn.berkeleyvision.org (`*/net.py`, `*/caffemodel-url`, `data/*/classes*.txt`,
`*_layers.py` for the means); Chen et al., ICLR 2015 (DeepLab-LargeFOV's release,
`train2_iter_8000.caffemodel`); Yu & Koltun, ICLR 2016 (fyu/dilation,
`dilation8_pascal_voc.caffemodel`); Chen et al., PAMI 2017 (DeepLab v2's
`deeplab_aspp_resnet101/prototxt_and_model.zip`, `train_iter_20000.caffemodel`, as
kazuto1011/deeplab-pytorch `scripts/setup_caffemodels.sh` downloads it); Zhao et al., CVPR 2017
(hszhao/PSPNet `README.md`, `evaluation/model/README.md`: the three `.caffemodel` files on
Google Drive, which `keras.utils.get_file` cannot download: `from_preset(name, path)` reads one
downloaded by hand).
"""

import contextlib
import dataclasses
import glob
import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping

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
from keras_fcn.downloads import get_file, keras_home
from keras_fcn.model_options import OPTIONS
from keras_fcn.models.fcn import Stream
from keras_fcn.weights.mappings.caffe import load_caffemodel
from keras_fcn.weights.mappings.matconvnet import load_matconvnet_weights
from keras_fcn.weights.mappings.torchvision import load_torchvision_weights

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


def get_preset(name: str) -> Preset:
    """The preset of a name.

    Example:

    >>> get_preset("voc-fcn8s").mean_iou
    65.5
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; the presets are {', '.join(PRESETS)}.")
    return PRESETS[name]


def _sha1(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


_CONVERTED = "{name}-{sha1}.weights.h5"
"""The name of a preset's converted weights in `$KERAS_HOME/models`: keyed by the first 16 hex
digits of its file's SHA1, so that another file never loads stale weights."""


def _cache_path(preset: Preset, sha1: str) -> str:
    """The converted weights of a preset's file."""
    return os.path.join(keras_home(), "models", _CONVERTED.format(name=preset.name, sha1=sha1[:16]))


def cached_files(name: str) -> list[str]:
    """The files of a preset in Keras' cache: its downloaded file and its converted weights.

    Example:

    >>> all(os.path.isfile(path) for path in cached_files("voc-fcn8s"))
    True
    """
    preset = get_preset(name)
    models = os.path.join(keras_home(), "models")
    download = os.path.join(models, preset.file_name)
    pattern = _CONVERTED.format(name=glob.escape(preset.name), sha1="[0-9a-f]" * 16)
    converted = glob.glob(os.path.join(glob.escape(models), pattern))
    return ([download] if os.path.isfile(download) else []) + sorted(converted)


def _download(preset: Preset) -> tuple[str, str]:
    """Downloads the preset's file once (`keras_fcn.downloads.get_file`); returns its path and
    SHA1."""
    path = get_file(
        preset.file_name,
        preset.url,
        f"caffemodel=PATH (--caffemodel PATH), the {preset.file_name} downloaded by hand",
    )
    sha1 = _sha1(path)
    if preset.sha1 is not None and sha1 != preset.sha1:
        os.remove(path)
        raise ValueError(
            f"The file downloaded from {preset.url} has SHA1 {sha1}, not the published "
            f"{preset.sha1}: it was incomplete or altered, and is deleted; call again to "
            "download it again."
        )
    return path, sha1


@contextlib.contextmanager
def _caffemodel_of(preset: Preset, path: str) -> Iterator[str]:
    """The `.caffemodel` at `path`, or, for a zip archive, its member streamed to a temporary
    file next to the cache (deleted afterwards): the reader seeks in the file, which a member
    compressed in the archive does not allow."""
    if not path.lower().endswith(".zip"):
        yield path
        return
    wanted = preset.member or preset.file_name
    try:
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.endswith(".caffemodel")]
            found = [name for name in members if name.rsplit("/", 1)[-1] == wanted]
            if len(found) != 1:
                raise ValueError(
                    f"{path} holds {'no' if not found else 'several'} {wanted} (preset "
                    f"{preset.name!r}); its .caffemodel files are {', '.join(members) or 'none'}."
                )
            directory = os.path.join(keras_home(), "models")
            os.makedirs(directory, exist_ok=True)
            handle, staging = tempfile.mkstemp(
                prefix=f".{preset.name}-", suffix=".caffemodel", dir=directory
            )
            try:
                with archive.open(found[0]) as source, os.fdopen(handle, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 24)
                yield staging
            finally:
                os.remove(staging)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is not a readable zip archive ({error}).") from error


def from_preset(
    name: str,
    path: str | os.PathLike | None = None,
    *,
    caffemodel: str | os.PathLike | None = None,
    verbose: bool = False,
    **options,
) -> keras.Model:
    """Builds a trained net of the original releases with its weights.

    The first call downloads the net's file (a `.caffemodel`, the release's zip archive holding
    it, or torchvision's `.pth`) from the release (hundreds of MB) into `$KERAS_HOME/models`
    (`~/.keras/models`), checks its SHA1 where one is known, converts it and caches the Keras
    weights next to it (`NAME-SHA1.weights.h5`, written atomically); later calls load those, in
    seconds. The model
    takes RGB images in [0, 255] of any size (the preset's mean is subtracted inside it) and
    returns logits of the same size: a tensor, a dict `{"score_sem", "score_geo"}` for the
    SIFT Flow nets, and from a dict `{"color", "hha"}` of images for `nyud-fcn32s-color-hha`.
    Their classes are `PRESETS[name].class_names`. DeepLab v2's ResNet-101 is the net at one
    scale; its published score is that of its multi-scale test net,
    `keras_fcn.models.msc.multi_scale(model)`. torchvision's nets take the same raw images and
    normalize them inside; `aux=True` builds their auxiliary head too, whose weights the `.pth`
    holds (otherwise they are skipped). PSPNet's nets are the released deploy nets (473×473
    inputs, 713×713 for Cityscapes; `input_size=None` for any size), to run under their
    protocols (`PRESETS[name].scores` names them); their files hold the auxiliary head,
    loaded with `aux=True` and otherwise skipped.
    RefineNet's files are shared in Google Drive folders: `path` is required
    (`PRESETS[name].file_name` in the folder `PRESETS[name].url`); their nets score the
    release's channels, `void` included where its class list has it
    (`PRESETS[name].class_names`).

    Reference: Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016;
    Chen et al., ICLR 2015 and PAMI 2017; Yu & Koltun, ICLR 2016.

    Args:
        name: a key of `PRESETS` (`"voc-fcn8s"`, `"siftflow-fcn16s"`, ...).
        path: the net's `.caffemodel`, a zip archive holding it (the release's, as
            downloaded), torchvision's `.pth` or RefineNet's `.mat`, read instead of downloading
            it (offline use);
            its converted weights are cached too, keyed by the file's SHA1.
        caffemodel: the same as `path`, by keyword.
        verbose: show the conversion's progress over the layers, with the time left.
        **options: architecture options (`Preset.build`): `geometry="aligned"`, `input_shape`,
            `dropout`, a narrower `fc_units` for a file written so, torchvision's and PSPNet's
            `aux`, PSPNet's `input_size`.

    Returns:
        The `keras.Model`, named as the preset.

    Raises:
        DownloadError: if the file is neither cached nor downloadable (offline); the message
            names its URL, the cache path to put it at, and `caffemodel=`.
        ValueError: for an unknown name or option, both `path` and `caffemodel`, a download
            whose SHA1 differs from the published one, an archive without the net's
            `.caffemodel`, or a file that is not the net's (see `load_caffemodel`).
        FileNotFoundError: if `path` names no file, or is not given for a net published where
            it cannot be downloaded (PSPNet's, on Google Drive: the message gives the page).

    Example:

    >>> model = keras_fcn.from_preset("voc-fcn8s")  # doctest: +SKIP
    >>> scores = model(images)  # (B, H, W, 21) logits # doctest: +SKIP
    >>> zip_path = "prototxt_and_model.zip"  # the release's archive, downloaded by hand
    >>> model = keras_fcn.from_preset("voc-deeplab-v2-resnet101", zip_path)  # doctest: +SKIP
    """
    if caffemodel is not None:
        if path is not None:
            raise ValueError(
                f"from_preset takes the file once: received path={path!r} and "
                f"caffemodel={caffemodel!r}."
            )
        path = caffemodel
    preset = get_preset(name)
    model = preset.build(**options)
    if path is None and preset.manual_file:
        raise FileNotFoundError(
            f"Preset {name!r} is the file {preset.manual_file}, published on a page that cannot "
            f"be downloaded by a program: {preset.url}. Download it there by hand and call "
            f"from_preset({name!r}, path)."
        )
    if path is None:
        known = preset.sha1 and _cache_path(preset, preset.sha1)
        if known and os.path.isfile(known):
            model.load_weights(known)
            return model
        path, sha1 = _download(preset)
    else:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No weights file at {path!r}.")
        sha1 = _sha1(path)
    cache = _cache_path(preset, sha1)
    if os.path.isfile(cache):
        model.load_weights(cache)
        return model
    if path.lower().endswith((".pth", ".pt")):
        load_torchvision_weights(model, path, verbose)
    elif path.lower().endswith(".mat"):
        load_matconvnet_weights(model, path, verbose)
    else:
        with _caffemodel_of(preset, path) as caffemodel_path:
            load_caffemodel(model, caffemodel_path, verbose)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    handle, staging = tempfile.mkstemp(
        prefix=f".{preset.name}-", suffix=".weights.h5", dir=os.path.dirname(cache)
    )
    os.close(handle)
    try:
        model.save_weights(staging, overwrite=True)
        os.replace(staging, cache)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    return model
