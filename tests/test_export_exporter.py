import json
import os

import backend_reference
import keras
import numpy as np
import pytest

from keras_fcn import data, registry
from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.exporter import AccuracyGuard, export_model
from keras_fcn.export.guard import AccuracyGuardError, AccuracyGuardWarning
from keras_fcn.export.layout import ExportInfo
from keras_fcn.export.predictor import load_predictor

pytestmark = pytest.mark.slow  # each test writes and checks an export: tens of seconds


def _guard_data():
    return data.synthetic(num_examples=6, image_size=64, num_classes=3, split="val")


def _versions(export_dir):
    return sorted(name for name in os.listdir(export_dir) if not name.startswith("."))


def test_precisions_a_format_lacks_are_refused_with_the_formats_that_have_them(small_fcn, tmp_path):
    with pytest.raises(ValueError, match="Formats with int8: onnx, openvino, litert"):
        export_model(small_fcn, str(tmp_path), "saved_model", "int8")
    with pytest.raises(ValueError, match="Formats with bfloat16: saved_model, openvino"):
        export_model(small_fcn, str(tmp_path), "onnx", "bfloat16")
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(small_fcn, str(tmp_path), "coreml")
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        export_model(small_fcn, str(tmp_path), "openvino", "int8")
    with pytest.raises(ValueError, match="is NNCF's, for an openvino int8 export"):
        export_model(small_fcn, str(tmp_path), "onnx", "int8", int8_min_agreement=0.99)
    with pytest.raises(ValueError, match="serve_class_ids: class ids only"):
        export_model(small_fcn, str(tmp_path), outputs=("class_ids",))
    assert os.listdir(tmp_path) == []


def test_a_failed_guard_refuses_the_export_and_publishes_nothing(small_fcn, tmp_path):
    # bfloat16 rounding flips some of the random test net's close calls: 100% agreement and
    # no loss of mean IU at all cannot both hold.
    strict = AccuracyGuard(_guard_data(), max_miou_drop=0.0, min_pixel_agreement=1.0)
    with pytest.raises(AccuracyGuardError, match="accuracy guard FAILED on 6 images") as raised:
        export_model(small_fcn, str(tmp_path), "openvino", "bfloat16", guard=strict)
    assert raised.value.report.pixel_agreement < 1.0
    assert _versions(tmp_path) == []
    assert os.listdir(tmp_path) == []  # the staging folder is gone too


def test_warn_mode_publishes_with_a_loud_warning_and_the_report(small_fcn, tmp_path):
    guard = AccuracyGuard(
        _guard_data(), max_miou_drop=0.0, min_pixel_agreement=1.0, on_failure="warn"
    )
    with pytest.warns(AccuracyGuardWarning, match="further from the float32 model"):
        path = export_model(small_fcn, str(tmp_path), "openvino", "bfloat16", guard=guard)
    assert _versions(tmp_path) == ["1"]
    report = ExportInfo.read(path).guard
    assert report["passed"] is False and report["images"] == 6
    assert report["min_pixel_agreement"] == 1.0


def test_a_passed_guard_is_recorded_next_to_the_export(small_fcn, tmp_path):
    guard = AccuracyGuard(_guard_data(), max_miou_drop=0.05, min_pixel_agreement=0.9)
    path = export_model(small_fcn, str(tmp_path), "openvino", "bfloat16", version=2, guard=guard)
    assert path == os.path.join(str(tmp_path), "2")
    with open(os.path.join(path, "keras_fcn.json")) as file:
        described = json.load(file)
    assert described["format"] == "openvino" and described["precision"] == "bfloat16"
    assert described["outputs"] == ["class_ids"]  # the guard compares class ids only
    report = described["guard"]
    assert report["passed"] is True and report["pixels"] == 6 * 64 * 64
    assert 0.9 <= report["pixel_agreement"] < 1.0
    assert abs(report["mean_iou_drop"]) <= 0.05


def test_the_guard_of_a_fixed_size_export_runs_at_its_size(small_fcn, tmp_path):
    guard = AccuracyGuard(_guard_data(), min_pixel_agreement=0.99)
    path = export_model(small_fcn, str(tmp_path), "litert", input_size=(48, 40), guard=guard)
    info = ExportInfo.read(path)
    assert info.input_size == (48, 40)
    assert info.guard["passed"] and info.guard["pixels"] == 6 * 48 * 40


def test_int8_calibrated_on_black_images_is_caught_by_the_default_thresholds(small_fcn, tmp_path):
    black = [np.zeros((64, 64, 3), np.uint8)] * 4
    with pytest.raises(AccuracyGuardError) as raised:
        export_model(
            small_fcn,
            str(tmp_path),
            "openvino",
            "int8",
            calibration=black,
            guard=AccuracyGuard(_guard_data()),
        )
    assert raised.value.report.pixel_agreement < 0.99
    assert os.listdir(tmp_path) == []


def test_a_keras_model_of_another_kind_exports_too(tmp_path):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    path = export_model(model, str(tmp_path), "openvino")
    assert ExportInfo.read(path).num_classes == 2


@pytest.mark.parametrize(
    "name, geometry, format",
    # A ResNet-101 net exports as its ResNet-50 twin does (backend_reference.models()), and
    # would add about a minute each.
    [
        (name, registry.get(name).geometries[-1], "litert" if name == "fcn-alexnet" else "openvino")
        for name in backend_reference.models()
        # PSPNet-50 exports too (about 75 s to OpenVINO on two cores, past this suite's share):
        # tests/test_models_pspnet.py exports its pyramid pooling module, narrow, at any size.
        if not name.startswith("pspnet")
    ]
    + [("fcn8s", "original", format) for format in ("onnx", "openvino", "litert")]
    + [("segnet-basic", "original", format) for format in ("onnx", "litert")],
)
def test_every_registry_model_exports_and_segments_like_keras(name, geometry, format, tmp_path):
    keras.utils.set_random_seed(0)
    narrow = {"fc_units": 8} if "fc_units" in registry.get(name).options else {}
    model = (
        backend_reference.build_narrow(name, geometry)  # RefineNet's ResNet-50 twin
        if name in backend_reference.TWINS
        else registry.build(name, 3, weights=None, geometry=geometry, **narrow)
    )
    rng = np.random.default_rng(0)
    for layer in model.layers:  # FCN's zero-initialised scores made random
        if layer.name.startswith("score_") and layer.weights:
            kernel, bias = layer.get_weights()
            kernel = rng.normal(0, 1 / np.sqrt(kernel.shape[2]), kernel.shape)
            layer.set_weights([kernel.astype("float32"), bias])
    # 36×40: not a multiple of 32, and odd at the third pooling (SegNet pads it).
    image = synthetic_example(0, image_size=40, num_classes=3)[0][None, :, :36]
    # Centre the logits on the image with the last convolution's bias: the class ids vary. Where
    # the random logits lie 1e-4 apart (DeepLab, Dilation), first scale its kernel up, so that
    # rounding does not decide them.
    # GCN's head has no bias: its random logits vary as they are.
    last = [layer for layer in model.layers if type(layer) is keras.layers.Conv2D][-1]
    if last.use_bias:
        kernel, bias = last.get_weights()
        last.set_weights([kernel, np.zeros_like(bias)])
        if np.asarray(model(image.astype("float32"))).std() < 0.01:
            kernel = kernel / np.asarray(model(image.astype("float32"))).std()
            last.set_weights([kernel, np.zeros_like(bias)])
        mean_logits = np.asarray(model(image.astype("float32"))).mean(axis=(0, 1, 2))
        last.set_weights([kernel, -mean_logits])
    size = image.shape[1:3] if format == "litert" else None
    path = export_model(model, str(tmp_path), format, input_size=size)
    expected = np.asarray(model(image.astype("float32"))).argmax(-1)
    assert np.mean(load_predictor(path)(image) == expected) > 0.99
    assert len(np.unique(expected)) > 1


@pytest.mark.parametrize("format", ["onnx", "openvino"])
def test_grouped_convolutions_are_refused_by_name_where_tf2onnx_cannot_convert_them(
    format, tmp_path
):
    model = registry.build("fcn-alexnet", 3, weights=None, fc_units=8)
    with pytest.raises(ValueError, match=r"grouped convolutions \(conv2, conv4, conv5\)"):
        export_model(model, str(tmp_path), format)
    assert os.listdir(tmp_path) == []
