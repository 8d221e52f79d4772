from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.data.tfds import KNOWN_DATASETS, base_name, from_tfds, tfds_layout


def pet_example(index):
    """A consistent oxford_iiit_pet example: image and trimap of one size."""
    rng = np.random.default_rng(index)
    height, width = 10 + index, 13 + 2 * index
    return {
        "image": rng.integers(0, 256, (height, width, 3)).astype(np.uint8),
        "segmentation_mask": rng.integers(1, 4, (height, width, 1)).astype(np.uint8),
        "label": np.int64(index % 37),
        "species": np.int64(index % 2),
        "file_name": f"pet_{index}.jpg",
        "head_bbox": np.zeros(4, np.float32),
    }


def consistent_pets(self, split, decoders=None, read_config=None, **kwargs):
    del self, split, decoders, read_config, kwargs
    examples = [pet_example(index) for index in range(3)]
    return tf.data.Dataset.from_generator(
        lambda: iter(examples),
        output_signature={
            "image": tf.TensorSpec([None, None, 3], tf.uint8),
            "segmentation_mask": tf.TensorSpec([None, None, 1], tf.uint8),
            "label": tf.TensorSpec([], tf.int64),
            "species": tf.TensorSpec([], tf.int64),
            "file_name": tf.TensorSpec([], tf.string),
            "head_bbox": tf.TensorSpec([4], tf.float32),
        },
    )


def test_pet_trimap_becomes_pet_background_and_ignored_border():
    with tfds.testing.mock_data(as_dataset_fn=consistent_pets):
        examples = list(from_tfds("oxford_iiit_pet", split="train"))
    assert len(examples) == 3
    for index, (image, label) in enumerate(examples):
        trimap = pet_example(index)["segmentation_mask"][..., 0]
        # 1 = pet -> 1, 2 = background -> 0, 3 = border -> 255.
        expected = np.select([trimap == 1, trimap == 2], [1, 0], IGNORE_LABEL)
        np.testing.assert_array_equal(label, expected)
        np.testing.assert_array_equal(image, pet_example(index)["image"])
        assert image.dtype == tf.uint8 and label.dtype == tf.int32


def test_pets_has_two_classes():
    assert KNOWN_DATASETS["oxford_iiit_pet"].class_names == ("background", "pet")


def test_label_map_can_be_overridden():
    with tfds.testing.mock_data(as_dataset_fn=consistent_pets):
        (_, label), *_ = list(from_tfds("oxford_iiit_pet", label_map={1: 0, 2: 1, 3: 2}))
    trimap = pet_example(0)["segmentation_mask"][..., 0]
    np.testing.assert_array_equal(label, trimap.astype(int) - 1)


def test_mask_values_missing_from_label_map_name_the_example():
    with (
        tfds.testing.mock_data(as_dataset_fn=consistent_pets),
        pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"oxford_iiit_pet\[train\] example 0 \(pet_0\.jpg\): mask values \[3\]",
        ),
    ):
        list(from_tfds("oxford_iiit_pet", label_map={1: 1, 2: 0}))


def test_image_and_mask_of_different_sizes_name_the_example():
    # Without as_dataset_fn, mock_data draws the image and the mask at independent sizes (and
    # mask values in 0..255, all mapped here so that the size check is the one that fails).
    every_value = {value: 0 for value in range(256)}
    with (
        tfds.testing.mock_data(num_examples=2),
        pytest.raises(tf.errors.InvalidArgumentError, match=r"\[train\] example 0 .*the mask is"),
    ):
        list(from_tfds("oxford_iiit_pet", label_map=every_value))


def test_tfds_voc_points_to_the_voc_source():
    with pytest.raises(ValueError, match=r"no segmentation masks.*keras_fcn\.data\.voc"):
        from_tfds("voc/2012")


def test_missing_feature_lists_the_available_ones():
    with (
        tfds.testing.mock_data(num_examples=1),
        pytest.raises(ValueError, match=r"no feature 'mask'.*'segmentation_mask'"),
    ):
        from_tfds("oxford_iiit_pet", mask_key="mask")


def test_base_name_drops_config_and_version():
    assert base_name("voc/2012:5.0.0") == "voc"
    assert base_name("oxford_iiit_pet:4.*.*") == "oxford_iiit_pet"


def test_unknown_dataset_uses_default_keys_and_raw_values():
    layout = tfds_layout("my_dataset")
    assert (layout.image_key, layout.mask_key, layout.label_map) == (
        "image",
        "segmentation_mask",
        None,
    )


@pytest.mark.slow
def test_real_pet_builder_prepares_generated_archives_offline_and_maps_the_trimap(tmp_path):
    # The real oxford_iiit_pet builder (its _split_generators and _generate_examples) runs on
    # locally generated copies of its two archives, extracted, as TFDS's own builder tests do:
    # the download manager returns the local folders instead of fetching the URLs.
    from keras_fcn.data import testing

    names = {"trainval": ["Abyssinian_100", "boxer_7", "Bengal_3"], "test": ["pug_2", "Sphynx_9"]}
    tree = testing.write_oxford_pet_tree(tmp_path / "archives", names)
    extracted = {
        "images": str(tree.root / "images"),
        "annotations": str(tree.root / "annotations"),
    }

    def download_and_extract(self, url_or_urls):
        assert set(url_or_urls) == set(extracted), url_or_urls
        return extracted

    data_dir = tmp_path / "tensorflow_datasets"
    with mock.patch.object(
        tfds.download.DownloadManager, "download_and_extract", download_and_extract
    ):
        builder = tfds.builder("oxford_iiit_pet", data_dir=str(data_dir))
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                compute_stats=tfds.download.ComputeStatsMode.SKIP
            )
        )
    assert builder.info.splits["train"].num_examples == 3
    assert builder.info.splits["test"].num_examples == 2

    for split, split_names in (("train", names["trainval"]), ("test", names["test"])):
        # Every example has its own size, which identifies it whatever order TFDS stores.
        trimaps = {tree.labels[name].shape: tree.labels[name] for name in split_names}
        examples = list(from_tfds("oxford_iiit_pet", split=split, data_dir=str(data_dir)))
        assert len(examples) == len(split_names)
        for image, label in examples:
            trimap = trimaps.pop(tuple(label.shape))
            # 1 = pet -> 1, 2 = background -> 0, 3 = border -> 255, pixel by pixel.
            expected = np.select([trimap == 1, trimap == 2, trimap == 3], [1, 0, IGNORE_LABEL], -1)
            np.testing.assert_array_equal(label, expected)
            assert image.shape[:2] == label.shape
        assert not trimaps


def test_a_dataset_that_cannot_be_downloaded_names_its_url_and_data_dir(tmp_path):
    # The real oxford_iiit_pet builder, whose download meets a refused connection: the download
    # manager's requests fail as TFDS's own would once its ten retries (minutes) are spent.
    import socket

    import requests

    from keras_fcn.downloads import DownloadError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/images.tar.gz"

    def download_and_extract(self, url_or_urls):
        return requests.get(url, timeout=10)

    data_dir = tmp_path / "tensorflow_datasets"
    with (
        mock.patch.object(
            tfds.download.DownloadManager, "download_and_extract", download_and_extract
        ),
        pytest.raises(DownloadError) as raised,
    ):
        from_tfds("oxford_iiit_pet", data_dir=str(data_dir))
    assert raised.value.url == url
    assert raised.value.cache_path == str(data_dir / "oxford_iiit_pet")
    assert "data_dir=DIR (tfds:oxford_iiit_pet,data_dir=DIR)" in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1
