"""OpenVINO exports run in a process that has OpenVINO and numpy only, and segment like Keras."""

import pathlib

import export_checks
import keras
import numpy as np
import pytest

from keras_fcn.export.layout import OUTPUTS
from keras_fcn.export.openvino import write_openvino
from keras_fcn.export.runtimes import compile_openvino, openvino_function

pytestmark = pytest.mark.slow  # three exports and NNCF's quantization: a minute or more

# OpenVINO's part of the fresh process (`export_checks.run_alone`), which takes the inference
# precision hint (`f32`, `bf16`) as its last argument.
RUNTIME = """
import openvino

core = openvino.Core()
model = core.read_model(sys.argv[1])
compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": sys.argv[4]})


def segment(images):
    result = {name: value for port, value in compiled({"images": images}).items()
              for name in port.get_names()}
    return result["class_ids"], result.get("probabilities", np.zeros(0))


described = {
    "kernels": sorted(
        list(op.input_value(1).get_shape()) for op in model.get_ops()
        if op.get_type_name() == "Convolution"
    ),
    "matmuls": sum(op.get_type_name() == "MatMul" for op in model.get_ops()),
    "inputs": [(sorted(i.get_names()), str(i.get_element_type())) for i in model.inputs],
    "outputs": sorted(name for o in model.outputs for name in o.get_names()),
    "fake_quantize": sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops()),
}
"""


@pytest.fixture(scope="module")
def exports(small_fcn, tmp_path_factory):
    directory = tmp_path_factory.mktemp("openvino")
    calibration = export_checks.synthetic_calibration_images()
    paths = {}
    # float32 and bfloat16 with the probabilities, to compare them; int8 with the default.
    for precision in ("float32", "bfloat16", "int8"):
        (directory / precision).mkdir()
        outputs = ("class_ids",) if precision == "int8" else OUTPUTS
        info = write_openvino(
            small_fcn, str(directory / precision), precision, calibration, outputs=outputs
        )
        assert (info.format, info.precision, info.num_classes) == ("openvino", precision, 3)
        assert info.outputs == outputs
        paths[precision] = str(directory / precision / info.artefact)
    return paths


def test_float32_ir_runs_in_openvino_alone_at_any_size(small_fcn, exports, tmp_path):
    images = export_checks.synthetic_images((1, 37, 53), (2, 64, 32))
    described, outputs = export_checks.run_alone(
        RUNTIME, exports["float32"], images, tmp_path, "f32"
    )
    assert described["modules"] == []
    assert described["inputs"] == [[["images"], "<Type: 'uint8_t'>"]]
    assert described["outputs"] == ["class_ids", "probabilities"]
    # fc6 (8 units over pool5's 512 channels) is one 7×7 convolution, no matrix product.
    assert [8, 512, 7, 7] in described["kernels"] and described["matmuls"] == 0
    for batch, (class_ids, probabilities) in zip(images, outputs, strict=True):
        assert class_ids.shape == batch.shape[:3] and class_ids.dtype == np.int32
        export_checks.assert_float32_export_segments_like_keras(
            class_ids, probabilities, small_fcn, batch
        )


def test_bfloat16_is_the_same_ir_run_with_the_bf16_hint(small_fcn, exports, tmp_path):
    float_weights = pathlib.Path(exports["float32"]).with_suffix(".bin").read_bytes()
    assert pathlib.Path(exports["bfloat16"]).with_suffix(".bin").read_bytes() == float_weights
    compiled = compile_openvino(exports["bfloat16"], "bfloat16")
    assert str(compiled.get_property("INFERENCE_PRECISION_HINT")) in ("<Type: 'bfloat16'>", "bf16")
    [images] = export_checks.synthetic_images((2, 64, 64))
    described, [(class_ids, probabilities)] = export_checks.run_alone(
        RUNTIME, exports["bfloat16"], [images], tmp_path, "bf16"
    )
    assert described["modules"] == []
    expected_ids, expected_probabilities = export_checks.keras_outputs(small_fcn, images)
    assert np.abs(probabilities - expected_probabilities).max() < 0.1
    assert np.mean(class_ids == expected_ids) > 0.95


def test_int8_ir_is_quantized_and_agrees_with_float32(small_fcn, exports, tmp_path):
    images = export_checks.synthetic_images((1, 64, 64), (1, 48, 56))
    described, outputs = export_checks.run_alone(RUNTIME, exports["int8"], images, tmp_path, "f32")
    assert described["modules"] == []
    assert described["outputs"] == ["class_ids"]
    assert described["fake_quantize"] >= 16  # every convolution's input and weights
    for batch, (class_ids, _) in zip(images, outputs, strict=True):
        expected_ids, _ = export_checks.keras_outputs(small_fcn, batch)
        assert np.mean(class_ids == expected_ids) > 0.9


def test_openvino_function_returns_class_ids(small_fcn, exports):
    export_checks.assert_function_segments_like_keras(
        openvino_function(exports["float32"], "float32"), small_fcn
    )


def test_bad_precisions_are_refused(small_fcn, tmp_path):
    with pytest.raises(ValueError, match="float32, bfloat16, int8"):
        write_openvino(small_fcn, str(tmp_path), "float16")
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        write_openvino(small_fcn, str(tmp_path), "int8")


def test_accuracy_controlled_int8_keeps_the_agreement_asked_for(tmp_path):
    """NNCF puts layers back in float until the class ids agree as asked on the calibration
    images; a three-convolution net, where plain int8 agrees less, keeps the test short."""
    keras.utils.set_random_seed(3)
    images = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(images / 64)
    features = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(features)
    model = keras.Model(images, keras.layers.Conv2D(4, 1)(features))
    calibration = export_checks.synthetic_calibration_images()
    float_ids = [export_checks.keras_outputs(model, image[None])[0] for image in calibration]

    def agreement(directory, info):
        segment = openvino_function(str(directory / info.artefact), info.precision)
        pairs = zip(calibration, float_ids, strict=True)
        return np.mean([np.mean(segment(image[None]) == ids) for image, ids in pairs])

    (tmp_path / "plain").mkdir()
    plain = write_openvino(model, str(tmp_path / "plain"), "int8", calibration)
    controlled = write_openvino(model, str(tmp_path), "int8", calibration, min_agreement=0.999)
    assert (plain.min_agreement, controlled.min_agreement) == (None, 0.999)
    assert agreement(tmp_path, controlled) >= 0.999 > agreement(tmp_path / "plain", plain)
    with pytest.raises(ValueError, match="min_agreement is a fraction in \\(0, 1\\]"):
        write_openvino(model, str(tmp_path), "float32", min_agreement=0.999)
