import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_fcn.data import testing
from keras_fcn.data.dataset_problems import check_dataset
from keras_fcn.data.files import DataProblem
from keras_fcn.data.pipeline import evaluation_pipeline, training_pipeline
from keras_fcn.data.spec import from_spec

IDS = ["2007_000032", "2007_000039", "2008_000008"]
BAD = IDS[1]


def voc_with(voc_tree, breakage):
    """A VOC tree whose example `BAD` is broken by `breakage(root)`; returns (spec, bad path)."""
    tree = voc_tree({"train": IDS})
    return f"voc:{tree.root}", breakage(tree.root, tree)


def missing_mask(root, tree):
    path = root / "SegmentationClass" / f"{BAD}.png"
    path.unlink()
    return path


def mask_of_other_size(root, tree):
    path = root / "SegmentationClass" / f"{BAD}.png"
    Image.fromarray(np.zeros((5, 7), np.uint8), mode="P").save(path)
    return path


def truncated_jpeg(root, tree):
    path = root / "JPEGImages" / f"{BAD}.jpg"
    path.write_bytes(path.read_bytes()[:-200])
    return path


def not_an_image(root, tree):
    path = root / "JPEGImages" / f"{BAD}.jpg"
    path.write_text("<html>404 Not Found</html>")
    return path


def corrupt_jpeg_header(root, tree):
    path = root / "JPEGImages" / f"{BAD}.jpg"
    contents = path.read_bytes()
    path.write_bytes(contents[:3] + b"garbage!" + contents[11:])  # SOI, then no valid marker
    return path


def colour_outside_palette(root, tree):
    path = root / "SegmentationClass" / f"{BAD}.png"
    label = tree.labels[BAD] % 2
    image = Image.fromarray(label.astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 1, 2, 3])
    image.save(path)
    return path


def rgba_image(root, tree):
    path = root / "JPEGImages" / f"{BAD}.jpg"
    height, width = tree.labels[BAD].shape
    Image.fromarray(np.zeros((height, width, 4), np.uint8), mode="RGBA").save(path, format="PNG")
    return path


VOC_CASES = {
    "missing mask": (missing_mask, "file is missing"),
    "size mismatch": (mask_of_other_size, r"the mask is \[5 7\] \(height, width\) but its image"),
    "truncated jpeg": (truncated_jpeg, "the file is truncated"),
    "not an image": (not_an_image, "not a JPEG, PNG, BMP or GIF image file"),
    "corrupt jpeg header": (corrupt_jpeg_header, "corrupt JPEG header"),
    "colour outside palette": (
        colour_outside_palette,
        r"colour \[1 2 3\] \(RGB\) is not in the VOC",
    ),
    "four channels": (rgba_image, "the image has 4 channels"),
}


def assert_pipelines_stop_naming(spec, path, num_classes=None):
    """Building or iterating both pipelines raises an error that names the file."""
    for make_pipeline in (
        lambda dataset: training_pipeline(dataset, crop_size=16, batch_size=1, seed=0),
        evaluation_pipeline,
    ):
        with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=str(path)):
            list(make_pipeline(from_spec(spec, num_classes=num_classes)))


@pytest.mark.parametrize("case", list(VOC_CASES))
def test_each_bad_voc_file_is_reported_and_stops_the_pipelines(voc_tree, case):
    breakage, message = VOC_CASES[case]
    spec, path = voc_with(voc_tree, breakage)
    problems = check_dataset(spec)
    assert len(problems) == 1, problems
    assert problems[0].path == str(path)
    assert re.match(message, problems[0].message)
    assert_pipelines_stop_naming(spec, path)


def test_label_outside_num_classes_is_reported_and_stops_the_pipelines(voc_tree):
    tree = voc_tree({"train": IDS})
    classes = {i: int(tree.labels[i][tree.labels[i] < 255].max()) for i in IDS}
    num_classes = max(classes.values())  # the example(s) holding the largest class fail
    spec = f"voc:{tree.root}"
    problems = check_dataset(spec, num_classes=num_classes)
    bad_ids = [i for i in IDS if classes[i] >= num_classes]
    assert [p.path for p in problems] == [
        str(tree.root / "SegmentationClass" / f"{i}.png") for i in bad_ids
    ]
    assert problems[0].message.startswith(f"label values [{num_classes}] are outside [0, ")
    assert_pipelines_stop_naming(spec, problems[0].path, num_classes=num_classes)


def test_unreadable_sbd_mat_is_reported_and_stops_the_pipelines(sbd_tree):
    tree = sbd_tree({"train": IDS})
    path = tree.root / "cls" / f"{BAD}.mat"
    path.write_bytes(b"not a mat file")
    problems = check_dataset(f"sbd:{tree.root}")
    assert [p.path for p in problems] == [str(path)]
    assert problems[0].message.startswith("cannot read the .mat file")
    assert_pipelines_stop_naming(f"sbd:{tree.root}", path)


def test_folder_problems_are_all_reported_and_stop_the_pipelines(tmp_path, data_writers):
    images, masks = tmp_path / "images", tmp_path / "masks"
    for stem in ("a", "b", "c"):
        image, label = data_writers.example(stem)
        data_writers.jpeg(images / f"{stem}.jpg", image)
        data_writers.palette_png(masks / f"{stem}.png", label)
    data_writers.jpeg(images / "lonely.jpg", np.zeros((4, 4, 3), np.uint8))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(masks / "b.png")  # RGB mask
    spec = f"folder:{images},{masks}"
    problems = check_dataset(spec)
    assert [
        (p.path.rsplit("/", 1)[-1], p.message.split(" (")[0].split(";")[0]) for p in problems
    ] == [
        ("lonely.jpg", "image without a mask"),
        ("b.png", "the mask has 3 channels"),
    ]
    assert_pipelines_stop_naming(spec, images / "lonely.jpg")
    (images / "lonely.jpg").unlink()
    assert_pipelines_stop_naming(spec, masks / "b.png")


def test_every_bad_file_of_a_split_is_listed(voc_tree):
    tree = voc_tree({"train": IDS})
    truncated_jpeg(tree.root, tree)
    (tree.root / "SegmentationClass" / f"{IDS[2]}.png").unlink()
    problems = check_dataset(f"voc:{tree.root}")
    assert sorted(p.path for p in problems) == sorted(
        [
            str(tree.root / "SegmentationClass" / f"{IDS[2]}.png"),
            str(tree.root / "JPEGImages" / f"{BAD}.jpg"),
        ]
    )


def test_empty_split_is_reported_and_stops_construction(voc_tree):
    tree = voc_tree({"train": IDS, "val": []})
    split_list = tree.root / "ImageSets" / "Segmentation" / "val.txt"
    assert check_dataset(f"voc:{tree.root}", split="val") == [
        DataProblem(str(split_list), "the split lists no examples")
    ]
    with pytest.raises(ValueError, match="lists no examples"):
        from_spec(f"voc:{tree.root}", split="val")


def test_missing_root_is_reported_as_a_problem(tmp_path):
    (problem,) = check_dataset(f"voc:{tmp_path / 'nowhere'}")
    assert problem.path == str(tmp_path / "nowhere")
    assert "is not a VOC directory" in problem.message


def test_clean_datasets_have_no_problems(voc_tree, sbd_tree):
    assert check_dataset(f"voc:{voc_tree({'train': IDS}).root}") == []
    assert check_dataset(f"sbd:{sbd_tree({'train': IDS}).root}") == []
    assert check_dataset("synthetic:n=4,size=32", split="val") == []


def test_tf_dataset_problems_are_named_by_example_index():
    labels = [np.zeros((4, 4), np.int32), np.full((4, 4), 7, np.int32), np.zeros((3, 4), np.int32)]
    dataset = tf.data.Dataset.from_generator(
        lambda: ((np.zeros((4, 4, 3), np.uint8), label) for label in labels),
        output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([None, None], tf.int32),
        ),
    )
    problems = check_dataset(dataset, num_classes=5)
    assert [p.path for p in problems] == ["dataset example 1", "dataset example 2"]
    assert problems[0].message.startswith("label values [7]")
    assert problems[1].message.startswith("the mask is [3 4] (height, width)")


def test_tfds_examples_are_checked_after_the_label_mapping():
    # mock_data draws image and mask sizes independently, and mask values 0..3 of which 0 is
    # not in the pet trimap's mapping {1, 2, 3}.
    with tfds.testing.mock_data(num_examples=3, max_value=3):
        problems = check_dataset("tfds:oxford_iiit_pet")
    assert len(problems) >= 3
    assert all(p.path.startswith("oxford_iiit_pet[train] example ") for p in problems)
    assert {p.message.split(" ")[0] for p in problems} <= {"mask", "the"}


def test_one_file_pair_with_a_bad_label_and_a_bad_size_shows_both_problems(tmp_path):
    tree = testing.write_folder_tree(tmp_path, ["a", "b"])
    mask = tree.root / "masks" / "b.png"
    testing.write_palette_png(mask, np.full((5, 7), 30))
    height, width = tree.labels["b"].shape
    spec = f"folder:{tree.root / 'images'},{tree.root / 'masks'}"
    assert check_dataset(spec, num_classes=21) == [
        DataProblem(str(mask), "label values [30] are outside [0, 21) and the ignore label 255"),
        DataProblem(
            str(mask),
            f"the mask is [5 7] (height, width) but its image {tree.root / 'images' / 'b.jpg'} "
            f"is [{height} {width}]",
        ),
    ]


def test_one_dataset_example_with_a_bad_label_and_a_bad_size_shows_both_problems():
    dataset = tf.data.Dataset.from_tensors((np.zeros((4, 4, 3), np.uint8), np.full((3, 4), 7)))
    assert check_dataset(dataset, num_classes=5) == [
        DataProblem(
            "dataset example 0", "label values [7] are outside [0, 5) and the ignore label 255"
        ),
        DataProblem(
            "dataset example 0",
            "the mask is [3 4] (height, width) but its image dataset example 0 is [4 4]",
        ),
    ]
