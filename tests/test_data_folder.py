import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_fcn.data.folder import folder, folder_files


@pytest.fixture
def dirs(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    return images, masks


def write_pair(dirs, stem, data_writers, mask_kind="gray", size=(10, 14), image_ext=".jpg"):
    images, masks = dirs
    label = (np.arange(size[0] * size[1]).reshape(size) % 3).astype(np.uint8)
    data_writers.jpeg(images / f"{stem}{image_ext}", np.full((*size, 3), 128, np.uint8))
    if mask_kind == "gray":
        Image.fromarray(label, mode="L").save(masks / f"{stem}.png")
    else:
        data_writers.palette_png(masks / f"{stem}.png", label, [[0, 0, 0], [0, 0, 255], [9, 9, 9]])
    return label


def test_pairs_by_stem_in_sorted_order(dirs, data_writers):
    labels = {stem: write_pair(dirs, stem, data_writers) for stem in ("b", "a", "c")}
    pairs = folder_files(*dirs)
    assert [p.rsplit("/", 1)[-1] for p in pairs.image_paths] == ["a.jpg", "b.jpg", "c.jpg"]
    assert [p.rsplit("/", 1)[-1] for p in pairs.label_paths] == ["a.png", "b.png", "c.png"]
    for stem, (_, label) in zip("abc", folder(*dirs), strict=True):
        np.testing.assert_array_equal(label, labels[stem])


def test_palette_masks_give_their_stored_indices(dirs, data_writers):
    label = write_pair(dirs, "a", data_writers, mask_kind="palette")
    (_, decoded), *_ = list(folder(*dirs))
    np.testing.assert_array_equal(decoded, label)


def test_unpaired_files_are_listed_in_the_error(dirs, data_writers):
    images, masks = dirs
    write_pair(dirs, "a", data_writers)
    data_writers.jpeg(images / "lonely.jpg", np.zeros((4, 4, 3), np.uint8))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(masks / "orphan.png")
    with pytest.raises(ValueError) as raised:
        folder(*dirs)
    assert "lonely.jpg: image without a mask" in str(raised.value)
    assert "orphan.png: mask without an image" in str(raised.value)


def test_masks_that_are_not_png_are_listed(dirs, data_writers):
    _, masks = dirs
    write_pair(dirs, "a", data_writers)
    data_writers.jpeg(masks / "a.jpg", np.zeros((4, 4, 3), np.uint8))
    problems = folder_files(*dirs).problems
    assert [(p.path.rsplit("/", 1)[-1], p.message.split(":")[0]) for p in problems] == [
        ("a.jpg", "not a mask file")
    ]


def test_two_images_with_one_stem_are_a_problem(dirs, data_writers):
    images, _ = dirs
    write_pair(dirs, "a", data_writers)
    Image.fromarray(np.zeros((10, 14, 3), np.uint8)).save(images / "a.png")
    (problem,) = folder_files(*dirs).problems
    assert "two image files share the stem 'a'" in problem.message


def test_hidden_files_and_subdirectories_are_ignored(dirs, data_writers):
    images, masks = dirs
    write_pair(dirs, "a", data_writers)
    (images / ".DS_Store").write_bytes(b"x")
    (masks / "sub").mkdir()
    pairs = folder_files(*dirs)
    assert len(pairs) == 1 and not pairs.problems


def test_rgb_mask_stops_iteration_naming_the_file(dirs, data_writers):
    images, masks = dirs
    data_writers.jpeg(images / "a.jpg", np.zeros((4, 4, 3), np.uint8))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(masks / "a.png")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a\.png: the mask has 3 channels"):
        list(folder(*dirs))


def test_label_range_is_checked_with_num_classes(dirs, data_writers):
    write_pair(dirs, "a", data_writers)  # values 0, 1, 2
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a\.png: label values \[2\]"):
        list(folder(*dirs, num_classes=2))
    assert len(list(folder(*dirs, num_classes=3))) == 1


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"image directory .* does not exist"):
        folder(tmp_path / "nope", tmp_path)


def test_empty_directories_stop_construction(dirs):
    with pytest.raises(ValueError, match="lists no examples"):
        folder(*dirs)


def test_void_value_becomes_the_ignore_label_and_others_pass(dirs, data_writers):
    label = write_pair(dirs, "a", data_writers)  # values 0, 1, 2
    (_, decoded), *_ = list(folder(*dirs, void=2, num_classes=2))
    np.testing.assert_array_equal(decoded, np.where(label == 2, 255, label))


def test_label_map_maps_every_stored_value(dirs, data_writers):
    label = write_pair(dirs, "a", data_writers)
    (_, decoded), *_ = list(folder(*dirs, label_map={0: 255, 1: 0, 2: 1}))
    np.testing.assert_array_equal(decoded, np.select([label == 0, label == 1], [255, 0], 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a.png: mask values \[2\] are not"):
        list(folder(*dirs, label_map={0: 0, 1: 1}))


def test_void_and_label_map_together_are_rejected(dirs, data_writers):
    write_pair(dirs, "a", data_writers)
    with pytest.raises(ValueError, match="give void= or label_map=, not both"):
        folder(*dirs, void=2, label_map={2: 255})
