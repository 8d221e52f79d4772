import re

import pytest

from keras_fcn.data import split_lists


def write_lists(root, lists):
    for relative, ids in lists.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{i}\n" for i in ids))


@pytest.fixture
def roots(tmp_path):
    voc_root, sbd_root = tmp_path / "VOC2011", tmp_path / "dataset"
    write_lists(
        voc_root,
        {
            "ImageSets/Segmentation/train.txt": ["2007_000001", "2007_000002", "2008_000001"],
            "ImageSets/Segmentation/val.txt": ["2007_000003", "2007_000004", "2008_000002"],
        },
    )
    write_lists(
        sbd_root,
        {
            "train.txt": ["2007_000002", "2007_000004", "2009_000001"],
            "val.txt": ["2007_000003", "2009_000002"],
        },
    )
    return voc_root, sbd_root


def test_read_split_skips_blank_lines_and_surrounding_spaces(tmp_path):
    (tmp_path / "s.txt").write_text("a\n\n  b  \nc\n\n")
    assert split_lists.read_split(tmp_path / "s.txt") == ["a", "b", "c"]


def test_read_split_rejects_repeated_ids(tmp_path):
    (tmp_path / "s.txt").write_text("a\nb\na\n")
    with pytest.raises(ValueError, match=r"more than once: \['a'\]"):
        split_lists.read_split(tmp_path / "s.txt")


def test_read_split_of_missing_file_names_it(tmp_path):
    with pytest.raises(ValueError, match=r"no\.txt does not exist"):
        split_lists.read_split(tmp_path / "no.txt")


def test_shipped_seg11valid_has_the_papers_736_voc2011_images():
    ids = split_lists.shipped_split("seg11valid")
    assert len(ids) == len(set(ids)) == 736
    assert ids == sorted(ids)
    # VOC2011 holds images from the 2007 to 2011 challenges only.
    assert all(re.fullmatch(r"20(07|08|09|10|11)_\d{6}", i) for i in ids)


def test_unknown_shipped_split_is_an_error():
    with pytest.raises(ValueError, match="seg11valid"):
        split_lists.shipped_split("seg12valid")


def test_seg11valid_rule_removes_sbd_train_from_voc_val(roots):
    # VOC val {..03, ..04, 2008_..02} minus SBD train {..02, ..04, 2009_..01} = {..03, 2008_..02}.
    assert split_lists.seg11valid_ids(*roots) == ["2007_000003", "2008_000002"]


def test_train_aug_is_voc_train_and_sbd_minus_voc_val(roots):
    # VOC train {07_01, 07_02, 08_01} | SBD train {07_02, 07_04, 09_01} | SBD val {07_03, 09_02}
    # minus VOC val {07_03, 07_04, 08_02} = {07_01, 07_02, 08_01, 09_01, 09_02}.
    ids = split_lists.train_aug_ids(*roots)
    assert ids == ["2007_000001", "2007_000002", "2008_000001", "2009_000001", "2009_000002"]
    assert (
        split_lists.split_overlap(
            split_lists.read_split(split_lists.voc_split_path(roots[0], "val")), ids
        )
        == []
    )


def test_sbd_trainval_is_train_then_val(roots):
    _, sbd_root = roots
    assert split_lists.sbd_split_ids(sbd_root, "trainval") == [
        "2007_000002",
        "2007_000004",
        "2009_000001",
        "2007_000003",
        "2009_000002",
    ]


def test_split_overlap_finds_voc_val_images_in_sbd_train(roots):
    voc_root, sbd_root = roots
    voc_val = split_lists.read_split(split_lists.voc_split_path(voc_root, "val"))
    assert split_lists.split_overlap(voc_val, split_lists.sbd_split_ids(sbd_root, "train")) == [
        "2007_000004"
    ]
    assert (
        split_lists.split_overlap(
            split_lists.seg11valid_ids(voc_root, sbd_root),
            split_lists.sbd_split_ids(sbd_root, "train"),
        )
        == []
    )


def test_voc_split_path_points_into_imagesets_segmentation():
    assert split_lists.voc_split_path("VOC2012", "val") == "VOC2012/ImageSets/Segmentation/val.txt"
