"""Shared test fixtures (data fixtures only): small PASCAL VOC and SBD trees in a temp directory.

Every example id gets a deterministic image and mask: a rectangle of one class, surrounded by a
void (255) band as VOC draws it, over background, at a size that varies with the id. VOC masks
are written as palette PNGs with PIL, SBD masks as `.mat` files with the `GTcls` struct that
SBD uses (SBD has no void band: it is background there).
"""

import dataclasses
import pathlib
import types
import zlib

import numpy as np
import pytest
import scipy.io
from PIL import Image

from keras_fcn.classes import IGNORE_LABEL, voc_palette


def example_arrays(example_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The image (uint8, smooth so that JPEG keeps it) and VOC label of an example id."""
    code = zlib.crc32(example_id.encode())
    height, width = 20 + code % 9, 24 + code % 11
    label = np.zeros((height, width), np.int32)
    label[3 : height - 4, 4 : width - 5] = IGNORE_LABEL
    label[4 : height - 5, 5 : width - 6] = 1 + code % 20
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([4 * y + 40, 3 * x + 60, np.full_like(x, 90 + code % 50)], axis=-1)
    image[label > 0] = (200, 30, 120)
    return image.astype(np.uint8), label


def write_jpeg(path: pathlib.Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="JPEG", quality=100, subsampling=0)


def write_palette_png(path: pathlib.Path, label: np.ndarray, palette=None) -> None:
    """Writes class indices as a palette PNG (the VOC palette unless one is given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(label.astype(np.uint8), mode="P")
    image.putpalette((voc_palette() if palette is None else np.asarray(palette)).ravel().tolist())
    image.save(path)


def write_sbd_mat(path: pathlib.Path, segmentation: np.ndarray) -> None:
    """Writes a class mask the way SBD's `cls/*.mat` files hold it: `GTcls.Segmentation`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    boundaries = np.empty((20, 1), object)
    for index in range(20):
        boundaries[index, 0] = np.zeros(segmentation.shape, np.uint8)
    present = np.unique(segmentation[(segmentation > 0) & (segmentation < IGNORE_LABEL)])
    gtcls = {
        "Segmentation": segmentation.astype(np.uint8),
        "Boundaries": boundaries,
        "CategoriesPresent": present.astype(np.uint8),
    }
    scipy.io.savemat(path, {"GTcls": gtcls})


@dataclasses.dataclass
class Tree:
    """A written dataset tree: its root, and the arrays written for each example id."""

    root: pathlib.Path
    images: dict
    labels: dict


@pytest.fixture
def voc_tree(tmp_path):
    """Factory writing `VOCdevkit/VOC2012` with the given split lists (id lists)."""

    def make(splits: dict[str, list[str]], name: str = "VOC2012") -> Tree:
        root = tmp_path / "VOCdevkit" / name
        (root / "ImageSets" / "Segmentation").mkdir(parents=True)
        tree = Tree(root, {}, {})
        for split, ids in splits.items():
            (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(
                "".join(f"{i}\n" for i in ids)
            )
            for example_id in ids:
                image, label = example_arrays(example_id)
                write_jpeg(root / "JPEGImages" / f"{example_id}.jpg", image)
                write_palette_png(root / "SegmentationClass" / f"{example_id}.png", label)
                tree.images[example_id], tree.labels[example_id] = image, label
        return tree

    return make


@pytest.fixture
def sbd_tree(tmp_path):
    """Factory writing `benchmark_RELEASE/dataset` with the given split lists (id lists)."""

    def make(splits: dict[str, list[str]]) -> Tree:
        root = tmp_path / "benchmark_RELEASE" / "dataset"
        root.mkdir(parents=True)
        tree = Tree(root, {}, {})
        for split, ids in splits.items():
            (root / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
            for example_id in ids:
                image, label = example_arrays(example_id)
                label = np.where(label == IGNORE_LABEL, 0, label)
                write_jpeg(root / "img" / f"{example_id}.jpg", image)
                write_sbd_mat(root / "cls" / f"{example_id}.mat", label)
                tree.images[example_id], tree.labels[example_id] = image, label
        return tree

    return make


@pytest.fixture
def data_writers():
    """The writers above, for tests that build their own files."""
    return types.SimpleNamespace(
        example=example_arrays,
        jpeg=write_jpeg,
        palette_png=write_palette_png,
        sbd_mat=write_sbd_mat,
    )
