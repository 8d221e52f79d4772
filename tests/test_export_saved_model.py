import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import backend_processes
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2

from keras_fcn import registry
from keras_fcn.export import SAME_SIZE_MESSAGE, export_for_serving, find_saved_model
from keras_fcn.export.layout import ExportInfo
from keras_fcn.export.saved_model import saved_model_function, write_saved_model

NUM_CLASSES = 3
SCORE_LAYERS = ("score_fr", "score_pool4", "score_pool3")


def _image(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth random RGB image (smooth so that JPEG keeps it close)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR))


def _encode(image: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, quality=95)
    return buffer.getvalue()


def _decode(data: bytes) -> np.ndarray:
    """Decodes with PIL, independently of the SavedModel's TensorFlow decoder."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _reference(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class ids and probabilities computed from the Keras model in this process."""
    probabilities = keras.ops.convert_to_numpy(
        keras.ops.softmax(model(images.astype("float32")), axis=-1)
    )
    return probabilities.argmax(-1), probabilities


def _assert_segments_like(class_ids, probabilities, expected_ids, expected_probabilities):
    """Outputs equal the reference; class ids are compared where the top two are not tied."""
    np.testing.assert_allclose(probabilities, expected_probabilities, atol=1e-4)
    top_two = np.sort(expected_probabilities, axis=-1)[..., -2:]
    clear = top_two[..., 1] - top_two[..., 0] > 1e-3
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(np.asarray(class_ids)[clear], expected_ids[clear])
    # The check has power only if the model does not predict one class everywhere.
    assert len(np.unique(expected_ids)) > 1


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = registry.build("fcn8s", NUM_CLASSES, weights=None, fc_units=8, geometry="aligned")
    # A fresh FCN scores zero everywhere. Random unit-variance scores, centred on a few images
    # (through score_pool3's bias, which adds to every logit), make the winning class vary.
    rng = np.random.default_rng(0)
    for name in SCORE_LAYERS:
        kernel, bias = model.get_layer(name).get_weights()
        kernel = rng.normal(0, 1 / np.sqrt(kernel.shape[2]), kernel.shape).astype("float32")
        model.get_layer(name).set_weights([kernel, np.zeros_like(bias)])
    calibration = np.stack([_image(64, 64, seed) for seed in range(4)]).astype("float32")
    mean_logits = np.asarray(model(calibration)).mean(axis=(0, 1, 2))
    kernel, bias = model.get_layer("score_pool3").get_weights()
    model.get_layer("score_pool3").set_weights([kernel, bias - mean_logits])
    return model


@pytest.fixture(scope="module")
def export_path(model, tmp_path_factory):
    return export_for_serving(model, str(tmp_path_factory.mktemp("saved_models") / "NAME"))


@pytest.fixture(scope="module")
def loaded(export_path):
    return tf.saved_model.load(export_path)


def _signature_blocks(show_output: str) -> dict[str, str]:
    parts = re.split(r"signature_def\['([^']+)'\]:", show_output)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _tensor_info(block: str, kind: str, name: str) -> tuple[str, str]:
    match = re.search(
        rf"{kind}\['{name}'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([^)]*\))", block
    )
    assert match, f"no {kind} {name!r} in\n{block}"
    return match.group(1), match.group(2)


def test_export_writes_a_numbered_version_directory(export_path):
    base = os.path.dirname(export_path)
    assert os.path.basename(export_path) == "1"
    assert os.listdir(base) == ["1"]  # the staging folder was renamed, nothing left behind
    assert os.path.isfile(os.path.join(export_path, "saved_model.pb"))
    assert os.stat(export_path).st_mode & 0o755 == 0o755


def test_saved_model_cli_shows_the_three_signatures(export_path):
    show = subprocess.run(
        ["saved_model_cli", "show", "--all", "--dir", export_path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    blocks = _signature_blocks(show)
    expected_outputs = {
        "class_ids": ("DT_INT32", "(-1, -1, -1)"),
        "probabilities": ("DT_FLOAT", f"(-1, -1, -1, {NUM_CLASSES})"),
    }
    assert _tensor_info(blocks["serving_default"], "inputs", "image_bytes") == (
        "DT_STRING",
        "(-1)",
    )
    assert _tensor_info(blocks["serve_images"], "inputs", "images") == (
        "DT_UINT8",
        "(-1, -1, -1, 3)",
    )
    assert _tensor_info(blocks["serve_class_ids"], "inputs", "image_bytes") == (
        "DT_STRING",
        "(-1)",
    )
    signatures = {"serving_default", "serve_images", "serve_class_ids"}
    assert set(blocks) - {"__saved_model_init_op"} == signatures
    for signature in ("serving_default", "serve_images"):
        for name, expected in expected_outputs.items():
            assert _tensor_info(blocks[signature], "outputs", name) == expected
    assert (
        _tensor_info(blocks["serve_class_ids"], "outputs", "class_ids")
        == (expected_outputs["class_ids"])
    )
    assert "probabilities" not in blocks["serve_class_ids"]
    for signature in signatures:
        assert "Method name is: tensorflow/serving/predict" in blocks[signature]


def test_saved_model_cli_run_segments_an_encoded_png(model, export_path, tmp_path):
    image = _image(37, 53, seed=1)
    inputs = tmp_path / "image_bytes.npy"
    np.save(inputs, np.array([_encode(image, "PNG")], dtype=object), allow_pickle=True)
    subprocess.run(
        [
            "saved_model_cli", "run", "--dir", export_path, "--tag_set", "serve",
            "--signature_def", "serving_default", "--inputs", f"image_bytes={inputs}",
            "--outdir", str(tmp_path / "outputs"),
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip
    class_ids = np.load(tmp_path / "outputs" / "class_ids.npy")
    probabilities = np.load(tmp_path / "outputs" / "probabilities.npy")
    assert class_ids.shape == (1, 37, 53)
    assert class_ids.dtype == np.int32
    _assert_segments_like(class_ids, probabilities, *_reference(model, image[None]))


def test_fresh_tensorflow_process_loads_and_runs_both_signatures(model, export_path, tmp_path):
    png = _encode(_image(40, 56, seed=2), "PNG")
    images = np.stack([_image(33, 45, seed=3), _image(33, 45, seed=4)])
    np.save(tmp_path / "png.npy", np.array([png], dtype=object), allow_pickle=True)
    np.save(tmp_path / "images.npy", images)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import tensorflow as tf

        loaded = tf.saved_model.load({export_path!r})
        png = np.load("png.npy", allow_pickle=True)
        from_bytes = loaded.signatures["serving_default"](image_bytes=tf.constant(png))
        from_images = loaded.signatures["serve_images"](images=tf.constant(np.load("images.npy")))
        assert "keras_fcn" not in sys.modules, "loading imported keras_fcn"
        np.savez(
            "outputs.npz",
            **{{f"bytes_{{k}}": v.numpy() for k, v in from_bytes.items()}},
            **{{f"images_{{k}}": v.numpy() for k, v in from_images.items()}},
        )
        """
    )
    subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, check=True, text=True
    )
    outputs = np.load(tmp_path / "outputs.npz")
    _assert_segments_like(
        outputs["bytes_class_ids"],
        outputs["bytes_probabilities"],
        *_reference(model, _decode(png)[None]),
    )
    _assert_segments_like(
        outputs["images_class_ids"], outputs["images_probabilities"], *_reference(model, images)
    )


def test_jpeg_batch_is_decoded_in_the_graph(model, loaded):
    jpegs = [_encode(_image(48, 64, seed=seed), "JPEG") for seed in (5, 6)]
    outputs = loaded.signatures["serving_default"](image_bytes=tf.constant(jpegs))
    assert outputs["class_ids"].shape == (2, 48, 64)
    images = np.stack([_decode(jpeg) for jpeg in jpegs])
    _assert_segments_like(
        outputs["class_ids"], outputs["probabilities"], *_reference(model, images)
    )


def test_images_of_different_sizes_in_one_request_fail_clearly(loaded):
    pngs = [_encode(_image(32, 32, seed=7), "PNG"), _encode(_image(32, 40, seed=8), "PNG")]
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(SAME_SIZE_MESSAGE)):
        loaded.signatures["serving_default"](image_bytes=tf.constant(pngs))


def test_bytes_that_are_not_an_image_fail_clearly(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        loaded.signatures["serving_default"](image_bytes=tf.constant([b"not an image"]))


def test_empty_request_fails_clearly(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError, match="holds no image"):
        loaded.signatures["serving_default"](image_bytes=tf.constant([], tf.string))


@pytest.mark.parametrize("shape", [(1, 37, 53), (2, 64, 32)])
def test_uint8_signature_takes_any_size(model, loaded, shape):
    images = np.stack([_image(*shape[1:], seed=seed) for seed in range(shape[0])])
    outputs = loaded.signatures["serve_images"](images=tf.constant(images))
    assert outputs["class_ids"].dtype == tf.int32
    _assert_segments_like(
        outputs["class_ids"], outputs["probabilities"], *_reference(model, images)
    )


def test_serving_functions_are_traced_once_for_all_sizes(loaded):
    for size in [(21, 34), (50, 17)]:
        loaded.serve_images(tf.zeros((1, *size, 3), tf.uint8))
    assert len(loaded.serve_images._list_all_concrete_functions()) == 1


def test_rest_b64_body_and_predict_request_carry_the_image_bytes(model, loaded):
    png = _encode(_image(24, 40, seed=9), "PNG")
    body = json.dumps({"instances": [{"b64": base64.b64encode(png).decode("ascii")}]})
    # TF Serving's REST layer: one input, so each instance is its value; {"b64": ...} is bytes.
    decoded = [base64.b64decode(instance["b64"]) for instance in json.loads(body)["instances"]]
    assert decoded == [png]

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "NAME"
    request.model_spec.signature_name = "serving_default"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(decoded))
    received = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    signature = loaded.signatures[received.model_spec.signature_name]
    assert set(received.inputs) == set(signature.structured_input_signature[1])
    inputs = {name: tf.make_ndarray(proto) for name, proto in received.inputs.items()}
    assert inputs["image_bytes"].tolist() == [png]
    outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
    _assert_segments_like(
        outputs["class_ids"], outputs["probabilities"], *_reference(model, _decode(png)[None])
    )


def test_class_ids_signature_answers_a_rest_request_with_class_ids_only(model, loaded):
    jpegs = [_encode(_image(40, 24, seed=seed), "JPEG") for seed in (10, 11)]
    instances = [{"b64": base64.b64encode(jpeg).decode("ascii")} for jpeg in jpegs]
    body = json.loads(json.dumps({"signature_name": "serve_class_ids", "instances": instances}))
    image_bytes = [base64.b64decode(instance["b64"]) for instance in body["instances"]]
    outputs = loaded.signatures[body["signature_name"]](image_bytes=tf.constant(image_bytes))
    assert set(outputs) == {"class_ids"}

    full = loaded.signatures["serving_default"](image_bytes=tf.constant(image_bytes))
    _assert_segments_like(
        outputs["class_ids"],
        full["probabilities"],
        *_reference(model, np.stack([_decode(jpeg) for jpeg in jpegs])),
    )
    np.testing.assert_array_equal(outputs["class_ids"], full["class_ids"])

    def response_size(outputs):
        """Characters of TF Serving's REST response: one object of outputs per instance."""
        names = list(outputs)
        rows = zip(*(outputs[name].numpy().tolist() for name in names), strict=True)
        predictions = [dict(zip(names, row, strict=True)) for row in rows]
        return len(json.dumps({"predictions": predictions}))

    assert response_size(outputs) * NUM_CLASSES < response_size(full)


def test_variables_are_stored_once(model, export_path):
    entries = dict(tf.train.list_variables(os.path.join(export_path, "variables", "variables")))
    entries.pop("_CHECKPOINTABLE_OBJECT_GRAPH")
    assert len(entries) == len(model.weights)
    assert sum(int(np.prod(shape)) for shape in entries.values()) == model.count_params()
    variables_dir = os.path.join(export_path, "variables")
    size = sum(os.path.getsize(os.path.join(variables_dir, f)) for f in os.listdir(variables_dir))
    float32_bytes = 4 * model.count_params()
    assert float32_bytes <= size <= 1.1 * float32_bytes + 64 * 1024


def test_segnet_serves_like_fcn_and_bayesian_dropout_stays_off(tmp_path):
    keras.utils.set_random_seed(1)
    model = registry.build("bayesian-segnet-basic", NUM_CLASSES, weights=None)
    path = export_for_serving(model, str(tmp_path / "segnet"))
    images = np.stack([_image(27, 35, seed=seed) for seed in (12, 13)])  # odd: pools round up
    expected_ids, expected_probabilities = _reference(model, images)
    outputs = tf.saved_model.load(path).signatures["serve_images"](images=tf.constant(images))
    assert outputs["class_ids"].shape == (2, 27, 35)
    _assert_segments_like(
        outputs["class_ids"], outputs["probabilities"], expected_ids, expected_probabilities
    )
    predict = saved_model_function(path)
    np.testing.assert_array_equal(predict(images), predict(images))


def test_find_saved_model_picks_the_highest_complete_version(tmp_path):
    for version in ("2", "10", "9"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "saved_model.pb").write_bytes(b"")
    (tmp_path / "11").mkdir()  # incomplete: no saved_model.pb
    (tmp_path / "latest").mkdir()
    assert find_saved_model(str(tmp_path)) == str(tmp_path / "10")
    assert find_saved_model(str(tmp_path / "9")) == str(tmp_path / "9")


def test_export_refuses_to_overwrite_a_version(model, export_path):
    with pytest.raises(FileExistsError, match="another version"):
        export_for_serving(model, os.path.dirname(export_path), version=1)


def test_export_overwrite_swaps_in_the_new_version(model, export_path, tmp_path):
    shutil.copytree(export_path, tmp_path / "1")
    (tmp_path / "1" / "stale").write_text("from the previous export")
    path = export_for_serving(model, str(tmp_path), version=1, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["1"]
    assert not os.path.exists(os.path.join(path, "stale"))
    assert tf.saved_model.contains_saved_model(path)


@pytest.mark.parametrize("version", [0, -1, 1.5, "1", True])
def test_export_rejects_bad_versions(model, tmp_path, version):
    with pytest.raises(ValueError, match="positive integer"):
        export_for_serving(model, str(tmp_path), version=version)


def test_export_rejects_a_model_of_fixed_input_size(tmp_path):
    inputs = keras.Input((32, 32, 3))
    fixed = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match="input_shape=\\(None, None, 3\\)"):
        export_for_serving(fixed, str(tmp_path))


def test_the_version_says_what_it_holds(export_path):
    info = ExportInfo.read(export_path)
    assert (info.format, info.precision, info.num_classes) == ("saved_model", "float32", 3)
    assert info.runtime == {"tensorflow": tf.__version__}


def test_saved_model_function_runs_serve_images(model, export_path):
    images = np.stack([_image(29, 43, seed=seed) for seed in (12, 13)])
    class_ids = saved_model_function(os.path.dirname(export_path))(images)
    expected_ids, expected_probabilities = _reference(model, images)
    _assert_segments_like(class_ids, expected_probabilities, expected_ids, expected_probabilities)


def test_a_bfloat16_saved_model_stores_bfloat16_weights_and_returns_float32(model, tmp_path):
    info = write_saved_model(model, str(tmp_path), precision="bfloat16")
    assert info.precision == "bfloat16"
    loaded = tf.saved_model.load(str(tmp_path))
    dtypes = {variable.dtype for variable in loaded.model_variables}
    assert dtypes == {tf.bfloat16}
    images = np.stack([_image(40, 48, seed=seed) for seed in (14, 15)])
    outputs = loaded.signatures["serve_images"](images=tf.constant(images))
    assert outputs["probabilities"].dtype == tf.float32
    expected_ids, expected_probabilities = _reference(model, images)
    np.testing.assert_allclose(outputs["probabilities"], expected_probabilities, atol=0.05)
    assert np.mean(outputs["class_ids"].numpy() == expected_ids) > 0.95


def test_int8_saved_models_are_refused_with_the_formats_that_have_it(model, tmp_path):
    with pytest.raises(ValueError, match="For int8, export to openvino, onnx or litert"):
        write_saved_model(model, str(tmp_path), precision="int8")


EXPORT_ON_JAX = """
import keras
from keras_fcn.export import export_for_serving

model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
export_for_serving(model, EXPORT_DIR)
"""

EXPORT_MODEL_ON_JAX = """
import keras
from keras_fcn.export import export_model

model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
export_model(model, EXPORT_DIR, "onnx")
"""


@pytest.mark.parametrize(
    ("code", "function"),
    [(EXPORT_ON_JAX, "export_for_serving"), (EXPORT_MODEL_ON_JAX, "export_model")],
)
def test_export_needs_the_tensorflow_backend(tmp_path, code, function):
    code = code.replace("EXPORT_DIR", repr(str(tmp_path / "exports")))
    completed = backend_processes.run_python(["-c", code], backend="jax")
    assert completed.returncode != 0
    assert (
        f"RuntimeError: keras_fcn.export.{function} needs the TensorFlow backend "
        "(KERAS_BACKEND=tensorflow); the current backend is jax."
    ) in completed.stderr
    assert not (tmp_path / "exports").exists()
