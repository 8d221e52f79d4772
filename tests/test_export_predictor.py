import os

import keras
import numpy as np
import pytest

from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.exporter import export_model
from keras_fcn.export.predictor import load_predictor, make_predictor, read_export_info
from keras_fcn.export.saved_model import write_saved_model

LITERT_SIZE = (40, 48)


@pytest.fixture(scope="module")
def conv_model():
    """A one-layer scorer: exports in seconds, and its class ids follow the image."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((None, None, 3))
    scores = keras.layers.Conv2D(3, 3, padding="same", kernel_initializer="glorot_normal")(inputs)
    return keras.Model(inputs, scores)


@pytest.fixture(scope="module")
def images():
    return np.stack([synthetic_example(i, num_classes=3)[0][:40, :48] for i in range(2)])


def _expected(model, images):
    return np.asarray(model(images.astype("float32"))).argmax(-1)


@pytest.mark.slow
@pytest.mark.parametrize("format", ["saved_model", "onnx", "openvino", "litert"])
def test_every_format_loads_from_its_base_directory_version_and_file(
    conv_model, images, tmp_path, format
):
    base = tmp_path / "NAME"
    size = LITERT_SIZE if format == "litert" else None
    version = export_model(conv_model, str(base), format, version=3, input_size=size)
    artefact, info = read_export_info(str(base))
    assert info.format == format and os.path.exists(artefact)
    paths = [str(base), version] + ([] if format == "saved_model" else [artefact])
    expected = _expected(conv_model, images)
    assert len(np.unique(expected)) > 1  # the comparison has power
    for path in paths:
        class_ids = load_predictor(path)(images)
        assert class_ids.dtype == np.int32
        np.testing.assert_array_equal(class_ids, expected, err_msg=path)


def test_keras_file_runs_in_float32_and_bfloat16(small_fcn, tmp_path):
    path = str(tmp_path / "model.keras")
    small_fcn.save(path)
    images = np.stack([synthetic_example(i, num_classes=3)[0] for i in range(2)])
    expected = _expected(small_fcn, images)
    np.testing.assert_array_equal(load_predictor(path)(images), expected)
    assert np.mean(load_predictor(path, precision="bfloat16")(images) == expected) > 0.95
    assert np.mean(make_predictor(small_fcn, "bfloat16")(images) == expected) > 0.95


def test_an_export_runs_in_its_own_precision_only(conv_model, tmp_path):
    path = export_model(conv_model, str(tmp_path), "openvino", "bfloat16")
    assert load_predictor(path, precision="bfloat16") is not None
    with pytest.raises(ValueError, match=r"bfloat16 openvino export.*Export it again in float32"):
        load_predictor(path, precision="float32")


def test_a_saved_model_without_a_description_still_loads(conv_model, images, tmp_path):
    write_saved_model(conv_model, str(tmp_path / "1"))  # as exports before keras_fcn.json
    class_ids = load_predictor(str(tmp_path))(images)
    np.testing.assert_array_equal(class_ids, _expected(conv_model, images))


def test_what_is_not_a_model_is_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        load_predictor(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither an export"):
        load_predictor(str(tmp_path / "empty"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt.*not a model"):
        load_predictor(str(tmp_path / "notes.txt"))


def test_bad_images_are_rejected(conv_model):
    predict = make_predictor(conv_model)
    with pytest.raises(TypeError, match="uint8"):
        predict(np.zeros((1, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(8, 8, 3\)"):
        predict(np.zeros((8, 8, 3), "uint8"))
