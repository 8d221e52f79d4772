import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data.split_lists import shipped_split
from keras_fcn.data.voc import VOC_NUM_CLASSES, voc, voc_files

TRAIN = ["2007_000032", "2007_000039", "2008_000008"]
VAL = ["2007_000033", "2009_000012"]


def pil_image(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_voc_has_21_classes():
    assert VOC_NUM_CLASSES == 21


def test_train_split_gives_native_size_examples_with_palette_indices(voc_tree):
    tree = voc_tree({"train": TRAIN, "val": VAL})
    examples = list(voc(tree.root, "train"))
    assert len(examples) == len(TRAIN)
    for example_id, (image, label) in zip(TRAIN, examples, strict=True):
        assert image.dtype == tf.uint8 and label.dtype == tf.int32
        np.testing.assert_array_equal(label, tree.labels[example_id])
        reference = pil_image(tree.root / "JPEGImages" / f"{example_id}.jpg")
        assert np.abs(image.numpy().astype(int) - reference).max() <= 1
    assert IGNORE_LABEL in np.unique(examples[0][1])


def test_val_split_reads_its_own_list(voc_tree):
    tree = voc_tree({"train": TRAIN, "val": VAL})
    labels = [label.numpy() for _, label in voc(tree.root, "val")]
    for example_id, label in zip(VAL, labels, strict=True):
        np.testing.assert_array_equal(label, tree.labels[example_id])


def test_seg11valid_uses_the_shipped_list(voc_tree):
    tree = voc_tree({"val": shipped_split("seg11valid")[:3]})
    pairs = voc_files(tree.root, "seg11valid")
    assert len(pairs) == 736
    # Only three of the 736 images were written: the other 733 images and masks are missing.
    assert len(pairs.problems) == 2 * 733
    with pytest.raises(ValueError, match="problem"):
        voc(tree.root, "seg11valid")


def test_list_file_in_the_tree_wins_over_the_shipped_list(voc_tree):
    tree = voc_tree({"seg11valid": VAL})
    assert [label.shape for _, label in voc(tree.root, "seg11valid")] == [
        tree.labels[i].shape for i in VAL
    ]


def test_train_aug_takes_voc_masks_for_voc_train_and_sbd_masks_for_the_rest(voc_tree, sbd_tree):
    voc_root = voc_tree({"train": TRAIN[:2], "val": VAL}).root
    sbd = sbd_tree({"train": [TRAIN[1], TRAIN[2], VAL[0]], "val": ["2010_000001"]})
    # (VOC train | SBD train | SBD val) - VOC val, sorted.
    expected = ["2007_000032", "2007_000039", "2008_000008", "2010_000001"]
    for example_id in expected[2:]:  # SBD-only images also live in VOC's JPEGImages
        Image.fromarray(sbd.images[example_id]).save(
            voc_root / "JPEGImages" / f"{example_id}.jpg", format="JPEG", quality=100
        )
    pairs = voc_files(voc_root, "train_aug", sbd_root=sbd.root)
    assert [p.rsplit("/", 1)[-1] for p in pairs.label_paths] == [
        "2007_000032.png",
        "2007_000039.png",
        "2008_000008.mat",
        "2010_000001.mat",
    ]
    labels = [label.numpy() for _, label in voc(voc_root, "train_aug", sbd_root=sbd.root)]
    assert IGNORE_LABEL in labels[0]  # VOC mask, with its void band
    np.testing.assert_array_equal(labels[2], sbd.labels["2008_000008"])  # SBD mask, no void


def test_train_aug_without_sbd_root_is_an_error(voc_tree):
    tree = voc_tree({"train": TRAIN, "val": VAL})
    with pytest.raises(ValueError, match="pass sbd_root"):
        voc(tree.root, "train_aug")


def test_unknown_split_lists_the_available_ones(voc_tree):
    tree = voc_tree({"train": TRAIN, "val": VAL})
    with pytest.raises(ValueError, match=r"Unknown VOC split 'test'.*'train', 'val', 'seg11valid'"):
        voc(tree.root, "test")


def test_devkit_root_is_an_error_suggesting_the_voc_directory(voc_tree):
    tree = voc_tree({"train": TRAIN})
    with pytest.raises(ValueError, match=r"not a VOC directory.*Did you mean .*VOC2012"):
        voc(tree.root.parent, "train")


def test_missing_mask_stops_construction_naming_the_file(voc_tree):
    tree = voc_tree({"train": TRAIN})
    (tree.root / "SegmentationClass" / f"{TRAIN[1]}.png").unlink()
    with pytest.raises(ValueError, match=rf"{TRAIN[1]}\.png: file is missing"):
        voc(tree.root, "train")


def test_empty_split_stops_construction(voc_tree):
    tree = voc_tree({"train": TRAIN, "val": []})
    with pytest.raises(ValueError, match="lists no examples"):
        voc(tree.root, "val")


def test_label_outside_num_classes_stops_iteration_naming_the_mask(voc_tree):
    tree = voc_tree({"train": TRAIN})
    largest = max(int(label[label < IGNORE_LABEL].max()) for label in tree.labels.values())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"SegmentationClass/.*\.png: label"):
        list(voc(tree.root, "train", num_classes=largest))
    assert len(list(voc(tree.root, "train", num_classes=None))) == len(TRAIN)
