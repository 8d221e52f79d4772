import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.data.sbd import sbd, sbd_files

TRAIN = ["2008_000002", "2008_000003", "2008_000007"]
VAL = ["2008_000009", "2008_000016"]


def test_train_split_gives_the_segmentation_of_each_mat_file(sbd_tree):
    tree = sbd_tree({"train": TRAIN, "val": VAL})
    examples = list(sbd(tree.root, "train"))
    assert len(examples) == len(TRAIN)
    for example_id, (image, label) in zip(TRAIN, examples, strict=True):
        assert image.shape[:2] == label.shape and label.dtype == tf.int32
        np.testing.assert_array_equal(label, tree.labels[example_id])


def test_trainval_is_train_then_val(sbd_tree):
    tree = sbd_tree({"train": TRAIN, "val": VAL})
    pairs = sbd_files(tree.root, "trainval")
    assert [p.rsplit("/", 1)[-1] for p in pairs.image_paths] == [f"{i}.jpg" for i in TRAIN + VAL]


def test_missing_mat_file_stops_construction_naming_it(sbd_tree):
    tree = sbd_tree({"train": TRAIN})
    (tree.root / "cls" / f"{TRAIN[2]}.mat").unlink()
    with pytest.raises(ValueError, match=rf"cls/{TRAIN[2]}\.mat: file is missing"):
        sbd(tree.root, "train")


def test_corrupt_mat_file_stops_iteration_naming_it(sbd_tree):
    tree = sbd_tree({"train": TRAIN})
    (tree.root / "cls" / f"{TRAIN[1]}.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"{TRAIN[1]}\.mat: cannot read"):
        list(sbd(tree.root, "train"))


def test_unknown_split_lists_the_available_ones(sbd_tree):
    tree = sbd_tree({"train": TRAIN, "val": VAL})
    with pytest.raises(ValueError, match=r"Unknown SBD split 'test'.*\['train', 'val'\]"):
        sbd(tree.root, "test")


def test_release_root_is_an_error_suggesting_the_dataset_directory(sbd_tree):
    tree = sbd_tree({"train": TRAIN})
    with pytest.raises(ValueError, match=r"not an SBD directory.*Did you mean .*dataset"):
        sbd(tree.root.parent, "train")
