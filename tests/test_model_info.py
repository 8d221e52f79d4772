"""What a trained model carries: `ModelInfo` in the `.keras` file, and the commands that use it."""

import json
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

from keras_fcn.classes import (
    CAMVID_CLASS_NAMES,
    VOC_CLASS_NAMES,
    camvid_palette,
    cityscapes_palette,
    voc_palette,
)
from keras_fcn.model_info import (
    ModelInfo,
    dataset_model_info,
    preset_model_info,
    read_model_info,
    resize_image,
    resize_nearest,
    write_model_info,
)

SMALL_MODEL = ["--fc-units", "8", "--geometry", "aligned", "--weights", "none"]


@pytest.fixture
def saved_model(tmp_path):
    """A small convolution saved as a `.keras` file, without info."""
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
    path = tmp_path / "model.keras"
    model.save(path)
    return path, model


def test_info_round_trips_through_a_keras_file_that_keras_loads_unchanged(saved_model):
    path, model = saved_model
    with zipfile.ZipFile(path) as archive:
        before = {name: archive.read(name) for name in archive.namelist()}
    info = ModelInfo(("sky", "road", "car"), "camvid", 0.25, "camvid")
    write_model_info(str(path), info)
    assert read_model_info(str(path)) == info
    with zipfile.ZipFile(path) as archive:
        after = {name: archive.read(name) for name in archive.namelist()}
        # Keras' three members, the weights and the graph byte for byte as Keras wrote them.
        assert archive.namelist() == list(before)
    assert after["config.json"] == before["config.json"]
    assert after["model.weights.h5"] == before["model.weights.h5"]
    metadata = json.loads(after["metadata.json"])
    assert metadata["keras_version"] == json.loads(before["metadata.json"])["keras_version"]
    assert metadata["keras_fcn"]["class_names"] == ["sky", "road", "car"]
    loaded = keras.models.load_model(path)
    for loaded_weight, weight in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded_weight, weight)
    # Written again, it replaces the first.
    write_model_info(str(path), ModelInfo(dataset="synthetic"))
    assert read_model_info(str(path)) == ModelInfo(dataset="synthetic")


def test_a_model_saved_without_info_has_none_and_other_files_are_refused(saved_model, tmp_path):
    path, _ = saved_model
    assert read_model_info(str(path)) is None
    text = tmp_path / "notes.zip"
    with zipfile.ZipFile(text, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=r"notes\.zip is not a \.keras model file"):
        write_model_info(str(text), ModelInfo())


def test_config_round_trip_and_validation():
    info = ModelInfo(["a", "b"], "voc", 1, "tfds:oxford_iiit_pet", 255)
    assert info.class_names == ("a", "b") and isinstance(info.scale, float)
    assert ModelInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    assert ModelInfo.from_dict({"dataset": "voc", "added_later": 1}) == ModelInfo(dataset="voc")
    with pytest.raises(ValueError, match="palette must be one of"):
        ModelInfo(palette="rainbow")
    with pytest.raises(ValueError, match="scale must be a positive number, received 0"):
        ModelInfo(scale=0)
    with pytest.raises(TypeError, match="class_names must be a sequence of strings"):
        ModelInfo(class_names="ab")


def test_info_of_dataset_specs_and_presets():
    from keras_fcn.data import parse_spec
    from keras_fcn.presets import PRESETS

    camvid = dataset_model_info(parse_spec("camvid:CamVid,scale=0.25"), 11)
    assert camvid == ModelInfo(CAMVID_CLASS_NAMES, "camvid", 0.25, "camvid")
    assert dataset_model_info(parse_spec("sbd:x"), 21) == ModelInfo(
        VOC_CLASS_NAMES, "voc", None, "sbd"
    )
    assert dataset_model_info(parse_spec("voc:x"), 5).class_names is None  # 21 names, 5 classes
    assert dataset_model_info(parse_spec("folder:a,b"), 3) == ModelInfo()
    assert dataset_model_info(parse_spec("tfds:beans,num_classes=3"), 3).dataset == "tfds:beans"
    assert preset_model_info(PRESETS["ade20k-pspnet50"]).palette == "ade20k"
    siftflow = PRESETS["siftflow-fcn8s"]
    assert preset_model_info(siftflow, "geo").class_names == ("sky", "horizontal", "vertical")
    assert preset_model_info(siftflow).class_names is None


def test_resizing_down_averages_areas_as_training_did_and_back_takes_the_nearest():
    from keras_fcn.data.camvid import resize_example

    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    # Halving: each pixel is the mean of a 2×2 block.
    blocks = image.reshape(10, 2, 15, 2, 3).astype(float).mean(axis=(1, 3))
    np.testing.assert_array_equal(resize_image(image, 0.5), np.round(blocks))
    # Any factor: TensorFlow's area resize of the training data, up to its float32 rounding.
    trained = resize_example(image, np.zeros((20, 30), np.int32), 0.3)[0].numpy()
    resized = resize_image(image, 0.3)
    assert resized.shape == trained.shape == (6, 9, 3)
    assert np.abs(resized.astype(int) - trained).max() <= 1
    class_ids = np.array([[1, 2, 3], [4, 5, 6]])
    # 2 × 3 to 4 × 7: row i takes floor((i + 0.5) / 2), column j floor((j + 0.5) * 3 / 7):
    # 0.21, 0.64, 1.07, 1.5, 1.93, 2.36, 2.79.
    expected = class_ids[[0, 0, 1, 1]][:, [0, 0, 1, 1, 1, 2, 2]]
    np.testing.assert_array_equal(resize_nearest(class_ids, (4, 7)), expected)


@pytest.fixture(scope="module")
def trained_at_half_scale(tmp_path_factory):
    """FCN-32s (narrow) trained for one epoch on a CamVid tree at scale=0.5 by `keras-fcn
    train`; its run directory and the tree."""
    from keras_fcn.cli import main
    from keras_fcn.data import testing

    root = tmp_path_factory.mktemp("camvid")
    splits = {"train": ["train_0", "train_1"], "val": ["val_0"]}
    tree = testing.write_camvid_tree(root / "CamVid", splits)
    run_dir = root / "run"
    arguments = ["--model", "fcn32s", "--num-classes", "11", *SMALL_MODEL, "--epochs", "1"]
    dataset = f"camvid:{tree.root},scale=0.5"
    status = main(
        ["train", "--dataset", dataset, *arguments, "--batch-size", "2", "--output", str(run_dir)]
    )
    assert status == 0
    return run_dir, tree.root


@pytest.mark.slow
def test_trained_model_predicts_at_its_training_scale_in_its_colours(
    trained_at_half_scale, tmp_path, capsys
):
    from keras_fcn.cli import main

    run_dir, _ = trained_at_half_scale
    expected = ModelInfo(CAMVID_CLASS_NAMES, "camvid", 0.5, "camvid")
    assert read_model_info(str(run_dir / "final.keras")) == expected
    assert read_model_info(str(run_dir / "best.keras")) == expected

    photo = tmp_path / "photo.png"
    pixels = np.random.default_rng(1).integers(0, 256, (40, 56, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(photo)
    output = tmp_path / "predictions"
    capsys.readouterr()
    status = main(
        ["predict", "--model", str(run_dir / "final.keras"), str(photo), "--output", str(output)]
    )
    printed = capsys.readouterr().out
    assert status == 0 and "Scale 0.5 (from the model)" in printed
    mask = Image.open(output / "photo_mask.png")
    assert mask.size == (56, 40)
    # Segmented at 20 × 28 and resized back by nearest neighbour: constant on 2 × 2 blocks.
    class_ids = np.asarray(mask)
    np.testing.assert_array_equal(class_ids, np.repeat(np.repeat(class_ids[::2, ::2], 2, 0), 2, 1))
    # The model's palette, without --palette.
    palette = np.array(mask.getpalette()[: 256 * 3]).reshape(256, 3)
    np.testing.assert_array_equal(palette, camvid_palette())
    assert Image.open(output / "photo_overlay.png").size == (56, 40)

    status = main(
        [
            "predict",
            "--model",
            str(run_dir / "final.keras"),
            str(photo),
            "--output",
            str(output),
            "--scale",
            "1",
        ]
    )
    assert status == 0 and "Scale 1 (from --scale)" in capsys.readouterr().out


@pytest.mark.slow
def test_evaluate_at_the_training_scale_counts_the_scaled_labels(
    trained_at_half_scale, tmp_path, capsys
):
    from keras_fcn.cli import main
    from keras_fcn.data import camvid

    run_dir, root = trained_at_half_scale
    report = tmp_path / "report.json"
    model = str(run_dir / "final.keras")
    status = main(
        ["evaluate", "--dataset", f"camvid:{root}", "--model", model, "--json", str(report)]
    )
    printed = capsys.readouterr().out
    assert status == 0 and "Scale 0.5 (from the model)" in printed and "Bicyclist" in printed
    # The labels the model is scored on are CamVid's own at scale=0.5.
    labels = [label for _, label in camvid(root, "val", scale=0.5).as_numpy_iterator()]
    confusion = np.array(json.loads(report.read_text())["confusion_matrix"])
    assert confusion.sum() == sum(int(np.sum(label != 255)) for label in labels)


def test_an_export_records_the_info_and_predicts_with_it(saved_model, tmp_path, capsys):
    from keras_fcn.cli import main
    from keras_fcn.export import ExportInfo

    path, _ = saved_model
    info = ModelInfo(("sea", "land", "sky"), "cityscapes", 0.5, "folder")
    write_model_info(str(path), info)
    export_dir = tmp_path / "exported"
    arguments = ["--model", str(path), "--export-dir", str(export_dir), "--format", "onnx"]
    assert main(["export", *arguments]) == 0
    assert ModelInfo.from_dict(ExportInfo.read(str(export_dir / "1")).model_info) == info
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((30, 42, 3), np.uint8)).save(photo)
    capsys.readouterr()
    assert main(["predict", "--model", str(export_dir), str(photo), "--output", str(tmp_path)]) == 0
    assert "Scale 0.5 (from the model)" in capsys.readouterr().out
    mask = Image.open(tmp_path / "photo_mask.png")
    assert mask.size == (42, 30)
    palette = np.array(mask.getpalette()[: 256 * 3]).reshape(256, 3)
    np.testing.assert_array_equal(palette, cityscapes_palette())


def test_a_model_without_info_predicts_as_before(saved_model, tmp_path, capsys):
    from keras_fcn.cli import main

    path, model = saved_model
    photo = tmp_path / "photo.png"
    pixels = np.random.default_rng(2).integers(0, 256, (9, 13, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(photo)
    assert main(["predict", "--model", str(path), str(photo), "--output", str(tmp_path)]) == 0
    assert "Scale" not in capsys.readouterr().out
    mask = Image.open(tmp_path / "photo_mask.png")
    # Every pixel at the photo's own size, in VOC's colours.
    expected = np.argmax(model.predict(pixels[None].astype("float32"), verbose=0)[0], axis=-1)
    np.testing.assert_array_equal(np.asarray(mask), expected)
    palette = np.array(mask.getpalette()[: 256 * 3]).reshape(256, 3)
    np.testing.assert_array_equal(palette, voc_palette())
