import numpy as np
from PIL import Image

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data.folder import folder
from keras_fcn.data.testing import (
    example_arrays,
    write_camvid_tree,
    write_folder_tree,
    write_jpeg,
    write_oxford_pet_tree,
    write_sbd_tree,
    write_voc_tree,
)


def test_example_arrays_are_a_class_rectangle_in_a_void_band_and_deterministic():
    image, label = example_arrays("2007_000032")
    again, _ = example_arrays("2007_000032")
    np.testing.assert_array_equal(image, again)
    values = np.unique(label)
    assert values[0] == 0 and values[-1] == IGNORE_LABEL and len(values) == 3
    assert image.dtype == np.uint8 and image.shape[:2] == label.shape
    # The void band surrounds the class: every class pixel's neighbours are class or void.
    inner = label == values[1]
    rows, cols = np.nonzero(inner)
    assert np.all(label[rows.min() - 1, cols.min() : cols.max() + 1] == IGNORE_LABEL)


def test_quality_100_jpeg_decodes_within_a_few_levels_even_at_colour_edges(tmp_path):
    image, _ = example_arrays("2008_000008")
    write_jpeg(tmp_path / "a.jpg", image)
    decoded = np.asarray(Image.open(tmp_path / "a.jpg")).astype(int)
    # The rectangle's colour edge is the worst case; subsampled chroma would blur it by tens.
    assert np.abs(decoded - image).max() <= 5


def test_lower_quality_jpegs_subsample_colour(tmp_path):
    image, _ = example_arrays("2008_000008")
    write_jpeg(tmp_path / "full.jpg", image)
    write_jpeg(tmp_path / "small.jpg", image, quality=90)
    # PIL reports the sampling factors of the luma and chroma components: 2x2 luma blocks per
    # chroma sample is 4:2:0, 1x1 is 4:4:4.
    assert Image.open(tmp_path / "full.jpg").layer[0][1:3] == (1, 1)
    assert Image.open(tmp_path / "small.jpg").layer[0][1:3] == (2, 2)


def test_trees_call_arrays_once_per_id_in_order(tmp_path):
    calls = []

    def arrays(example_id):
        calls.append(example_id)
        return example_arrays(example_id)

    write_voc_tree(tmp_path / "voc", {"train": ["b", "a"], "val": ["c"]}, arrays)
    assert calls == ["b", "a", "c"]


def test_sbd_tree_writes_the_void_band_as_background(tmp_path):
    tree = write_sbd_tree(tmp_path / "dataset", {"train": ["2008_000002"]})
    _, written = example_arrays("2008_000002")
    np.testing.assert_array_equal(
        tree.labels["2008_000002"], np.where(written == IGNORE_LABEL, 0, written)
    )


def test_empty_split_writes_an_empty_list(tmp_path):
    tree = write_voc_tree(tmp_path / "voc", {"val": []})
    assert (tree.root / "ImageSets" / "Segmentation" / "val.txt").read_text() == ""


def test_folder_tree_is_read_back_by_the_folder_source(tmp_path):
    tree = write_folder_tree(tmp_path, ["b", "a"])
    labels = [label.numpy() for _, label in folder(tree.root / "images", tree.root / "masks")]
    for stem, label in zip(["a", "b"], labels, strict=True):
        np.testing.assert_array_equal(label, tree.labels[stem])


def test_camvid_tree_stores_unlabelled_as_eleven_in_grayscale_pngs(tmp_path):
    tree = write_camvid_tree(tmp_path / "CamVid", {"train": ["0001TP_006690"]})
    mask = Image.open(tmp_path / "CamVid" / "trainannot" / "0001TP_006690.png")
    assert mask.mode == "L"
    np.testing.assert_array_equal(np.asarray(mask), tree.labels["0001TP_006690"])
    assert set(np.unique(np.asarray(mask)).tolist()) == set(range(12))
    image = Image.open(tmp_path / "CamVid" / "train" / "0001TP_006690.png")
    np.testing.assert_array_equal(np.asarray(image), tree.images["0001TP_006690"])
    assert (tmp_path / "CamVid" / "train.txt").read_text() == (
        "/SegNet/CamVid/train/0001TP_006690.png /SegNet/CamVid/trainannot/0001TP_006690.png\n"
    )


def test_pet_tree_lays_out_both_archives_with_trimaps_of_one_two_three(tmp_path):
    tree = write_oxford_pet_tree(tmp_path, {"trainval": ["Abyssinian_1"], "test": ["pug_2"]})
    annotations = tmp_path / "annotations" / "annotations"
    assert (annotations / "trainval.txt").read_text() == "Abyssinian_1 1 1 1\n"
    trimap = np.asarray(Image.open(annotations / "trimaps" / "pug_2.png"))
    np.testing.assert_array_equal(trimap, tree.labels["pug_2"])
    assert set(np.unique(trimap).tolist()) == {1, 2, 3}
    assert (tmp_path / "images" / "images" / "pug_2.jpg").exists()
