import os

import pytest

from keras_fcn.export.layout import INFO_FILE, ExportInfo, find_version, staged_version


def test_info_round_trips_through_its_json_file(tmp_path):
    info = ExportInfo(
        "litert",
        "int8",
        "model.tflite",
        num_classes=21,
        input_size=(512, 384),
        runtime={"ai-edge-litert": "2.3.0"},
        calibration_images=100,
        guard={"passed": True, "pixel_agreement": 0.995},
    )
    info.write(str(tmp_path))
    assert os.path.isfile(tmp_path / INFO_FILE)
    assert ExportInfo.read(str(tmp_path)) == info


def test_reading_something_else_fails_clearly(tmp_path):
    with pytest.raises(ValueError, match="Cannot read"):
        ExportInfo.read(str(tmp_path))
    (tmp_path / INFO_FILE).write_text('{"name": "not an export"}')
    with pytest.raises(ValueError, match="does not describe a keras_fcn export"):
        ExportInfo.read(str(tmp_path))


def test_a_version_appears_only_once_complete(tmp_path):
    with staged_version(str(tmp_path), 3) as staging:
        assert not (tmp_path / "3").exists()
        (tmp_path / os.path.basename(staging) / "model.onnx").write_text("")
    assert os.listdir(tmp_path) == ["3"]
    assert os.listdir(tmp_path / "3") == ["model.onnx"]
    assert os.stat(tmp_path / "3").st_mode & 0o755 == 0o755


def test_a_failed_export_leaves_nothing_and_keeps_the_old_version(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "model.onnx").write_text("old")
    with (
        pytest.raises(RuntimeError, match="conversion failed"),
        staged_version(str(tmp_path), 1, overwrite=True) as staging,
    ):
        with open(os.path.join(staging, "model.onnx"), "w") as file:
            file.write("half")
        raise RuntimeError("conversion failed")
    assert os.listdir(tmp_path) == ["1"]
    assert (tmp_path / "1" / "model.onnx").read_text() == "old"


def test_an_existing_version_is_replaced_only_when_asked(tmp_path):
    (tmp_path / "1").mkdir()
    with pytest.raises(FileExistsError, match="another version"), staged_version(str(tmp_path), 1):
        pass
    with staged_version(str(tmp_path), 1, overwrite=True) as staging:
        (tmp_path / os.path.basename(staging) / "model.xml").write_text("")
    assert os.listdir(tmp_path / "1") == ["model.xml"]


@pytest.mark.parametrize("version", [0, -1, 1.5, "1", True])
def test_bad_versions_are_rejected(tmp_path, version):
    with (
        pytest.raises(ValueError, match="positive integer"),
        staged_version(str(tmp_path), version),
    ):
        pass


def test_find_version_takes_the_highest_complete_version(tmp_path):
    for version in ("2", "10", "9"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "model.onnx").write_text("")
    (tmp_path / "11").mkdir()  # incomplete
    (tmp_path / "latest").mkdir()

    def holds_export(directory):
        return os.path.isfile(os.path.join(directory, "model.onnx"))

    assert find_version(str(tmp_path), holds_export, "an export") == str(tmp_path / "10")
    assert find_version(str(tmp_path / "9"), holds_export, "an export") == str(tmp_path / "9")
    with pytest.raises(ValueError, match="neither an export"):
        find_version(str(tmp_path / "latest"), holds_export, "an export")
    with pytest.raises(FileNotFoundError):
        find_version(str(tmp_path / "missing"), holds_export, "an export")
