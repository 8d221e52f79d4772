import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.data.checks import (
    check_image_channels,
    check_label_values,
    check_same_size,
    label_table,
    map_labels,
    require,
    void_to_ignore,
)


def test_size_mismatch_is_an_error_naming_both_files():
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"a\.png: the mask is \[2 3\] \(height, width\) but its image a\.jpg is \[2 4\]",
    ):
        check_same_size(tf.zeros([2, 4, 3]), tf.zeros([2, 3]), "a.jpg", "a.png")


def test_label_values_outside_range_are_listed_in_the_error():
    label = tf.constant([[0, 1, 255], [21, 40, 21]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a\.png: label values \[21 40\]"):
        check_label_values(label, 21, "a.png")
    np.testing.assert_array_equal(check_label_values(label[:1], 21, "a.png"), [[0, 1, 255]])


def test_require_gathers_offending_values_only_when_the_condition_fails():
    calls = []

    def offending():
        calls.append(1)
        return tf.constant([3, 5])

    require(tf.constant(True), "{}: values {} here", tf.constant("a.png"), offending)
    assert calls == []
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a\.png: values \[3 5\] here"):
        require(tf.constant(False), "{}: values {} here", tf.constant("a.png"), offending)
    assert calls == [1]


@pytest.mark.parametrize("channels", [2, 4])
def test_images_without_one_or_three_channels_are_an_error_naming_them(channels):
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=rf"a\.png: the image has {channels} channels"
    ):
        tf.function(check_image_channels)(tf.zeros([2, 2, channels]), tf.constant("a.png"))
    for good in (1, 3):
        image = tf.zeros([2, 2, good])
        np.testing.assert_array_equal(check_image_channels(image, "a.png"), image)


def test_label_table_sends_unmapped_and_large_values_to_minus_one():
    # Keys 1..3 map; 0 and anything >= 4 (clamped to the last entry) are unmapped.
    assert label_table({1: 1, 2: 0, 3: 255}).tolist() == [-1, 1, 0, 255, -1]


def test_label_table_rejects_negative_keys():
    with pytest.raises(ValueError, match="non-negative integers"):
        label_table({-1: 0})


def test_map_labels_maps_through_the_table():
    table = tf.constant(label_table({1: 1, 2: 0, 3: 255}))
    mask = tf.constant([[1, 2], [3, 1]], tf.uint8)
    np.testing.assert_array_equal(map_labels(mask, table, "m"), [[1, 0], [255, 1]])


@pytest.mark.parametrize("unmapped", [0, 4, 200])
def test_unmapped_mask_values_are_listed_in_the_error(unmapped):
    table = tf.constant(label_table({1: 1, 2: 0, 3: 255}))
    mask = tf.constant([[1, unmapped], [3, unmapped]])
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=rf"pet_1: mask values \[{unmapped}\] are not in"
    ):
        tf.function(map_labels)(mask, table, tf.constant("pet_1"))


def test_void_to_ignore_replaces_only_the_void_value():
    label = void_to_ignore(tf.constant([[0, 11, 10], [11, 255, 3]], tf.uint8), 11)
    assert label.dtype == tf.int32
    np.testing.assert_array_equal(label, [[0, 255, 10], [255, 255, 3]])
