import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.classes import voc_palette
from keras_fcn.data.files import (
    DataProblem,
    FilePairs,
    dataset_from_files,
    decode_example,
    missing_file_problems,
    not_a_dataset_directory,
    split_list_pairs,
    summarize_problems,
)


def test_data_problem_prints_path_then_message():
    assert str(DataProblem("a/b.png", "file is missing")) == "a/b.png: file is missing"


def test_missing_file_problems_lists_only_missing_files_in_order(tmp_path):
    (tmp_path / "here.jpg").write_bytes(b"x")
    paths = [str(tmp_path / "gone.png"), str(tmp_path / "here.jpg"), str(tmp_path / "lost.jpg")]
    problems = missing_file_problems(paths)
    assert [problem.path for problem in problems] == [paths[0], paths[2]]
    assert {problem.message for problem in problems} == {"file is missing"}


def test_split_list_pairs_keep_the_lists_order_and_record_missing_files(tmp_path):
    for name in ("a.jpg", "a.png", "b.png"):
        (tmp_path / name).write_bytes(b"x")
    images = [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    labels = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    pairs = split_list_pairs("train.txt", images, labels, void=11)
    assert pairs.image_paths == tuple(images) and pairs.label_paths == tuple(labels)
    assert pairs.problems == (DataProblem(images[1], "file is missing"),)
    assert pairs.source == "train.txt" and pairs.void == 11 and pairs.palette is None


def test_not_a_dataset_directory_suggests_the_first_suggestion_only():
    error = not_a_dataset_directory("data", "a VOC directory: expected JPEGImages/", ["a", "b"])
    assert str(error) == "data is not a VOC directory: expected JPEGImages/. Did you mean a?"
    assert str(not_a_dataset_directory("data", "an SBD directory", [])) == (
        "data is not an SBD directory."
    )


def test_summarize_problems_says_how_many_were_left_out():
    problems = [DataProblem(f"{index}.png", "file is missing") for index in range(12)]
    lines = summarize_problems(problems, limit=10).splitlines()
    # 10 problems written out, then one line for the other 12 - 10 = 2.
    assert len(lines) == 11
    assert lines[0] == "  0.png: file is missing"
    assert lines[-1] == "  ... and 2 more"


def test_file_pairs_length_is_its_number_of_examples():
    assert len(FilePairs("s", ("a.jpg", "b.jpg"), ("a.png", "b.png"))) == 2


def test_decode_example_returns_aligned_image_and_label(tmp_path, data_writers):
    image, label = data_writers.example("2008_000002")
    data_writers.jpeg(tmp_path / "a.jpg", image)
    data_writers.palette_png(tmp_path / "a.png", label)
    decoded_image, decoded_label = decode_example(
        tf.constant(str(tmp_path / "a.jpg")),
        tf.constant(str(tmp_path / "a.png")),
        voc_palette(),
        21,
        palette_name="VOC",
    )
    assert decoded_image.dtype == tf.uint8 and decoded_label.dtype == tf.int32
    np.testing.assert_array_equal(decoded_label, label)


def test_errors_inside_a_dataset_name_the_file(tmp_path, data_writers):
    data_writers.jpeg(tmp_path / "a.jpg", np.zeros((4, 5, 3), np.uint8))
    data_writers.palette_png(tmp_path / "a.png", np.zeros((4, 6), np.uint8))
    pairs = FilePairs("test", (str(tmp_path / "a.jpg"),), (str(tmp_path / "a.png"),))
    with pytest.raises(tf.errors.InvalidArgumentError, match=str(tmp_path / "a.png")):
        list(dataset_from_files(pairs))


def test_listing_problems_stop_dataset_construction():
    problem = DataProblem("/data/b.png", "file is missing")
    pairs = FilePairs("split.txt", ("/data/b.jpg",), ("/data/b.png",), problems=(problem,))
    with pytest.raises(ValueError, match=r"/data/b\.png: file is missing"):
        dataset_from_files(pairs)


def test_empty_listing_stops_dataset_construction():
    with pytest.raises(ValueError, match=r"split\.txt: the split lists no examples"):
        dataset_from_files(FilePairs("split.txt", (), ()))


def test_file_pairs_relabel_through_void_or_label_map_but_not_both():
    mask = tf.constant([[0, 1, 11]])
    voided = FilePairs("a", ("a.png",), ("a_mask.png",), void=11).relabel(mask, "a_mask.png")
    np.testing.assert_array_equal(voided, [[0, 1, 255]])
    mapped = FilePairs("a", ("a.png",), ("a_mask.png",), label_map={0: 1, 1: 0, 11: 255})
    np.testing.assert_array_equal(mapped.relabel(mask, "a_mask.png"), [[1, 0, 255]])
    with pytest.raises(ValueError, match="not both"):
        FilePairs("a", ("a.png",), ("a_mask.png",), void=11, label_map={11: 255})
    with pytest.raises(ValueError, match="non-negative integers"):
        FilePairs("a", ("a.png",), ("a_mask.png",), label_map={-1: 0})
