"""`keras-fcn presets` lists the trained nets and what the cache holds; each command's help names
the values its flags take, now that they are no argparse choices, and the dataset spec syntax."""

import pytest

from keras_fcn.cli import build_parser, main
from keras_fcn.cli.arguments import DATASET_SPECS
from keras_fcn.presets import PRESETS


def _rows(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines()[1:] if line.split()}


def test_presets_lists_every_preset_and_what_the_cache_holds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    models = tmp_path / "models"
    models.mkdir()
    (models / PRESETS["voc-fcn8s"].file_name).write_bytes(bytes(2_500_000))
    (models / "voc-fcn8s-atonce-0123456789abcdef.weights.h5").write_bytes(bytes(1_200_000))
    (models / "voc-fcn8s-atonce-notahash.weights.h5").write_bytes(b"")  # not its cache name

    assert main(["presets"]) == 0
    output = capsys.readouterr().out
    rows = _rows(output)
    assert set(PRESETS) <= set(rows)
    assert "file, 2.5 MB" in rows["voc-fcn8s"]  # the atonce weights are not voc-fcn8s's
    assert "converted, 1.2 MB" in rows["voc-fcn8s-atonce"]
    assert rows["voc-fcn32s"].split()[3] == "no"
    assert "(by hand)" in rows["voc-pspnet101"]
    # classes and the published mean IU, from the presets themselves
    assert rows["voc-fcn8s"].split()[1:3] == ["21", "65.5"]
    assert rows["siftflow-fcn8s"].split()[1:3] == ["33+3", "-"]
    assert str(tmp_path / "models") in output


@pytest.fixture
def help_of(capsys):
    def help_of(command: str) -> str:
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        return " ".join(capsys.readouterr().out.split())  # argparse wraps lines

    return help_of


def test_help_names_the_values_that_the_library_accepts(help_of):
    from keras_fcn import export, training
    from keras_fcn.uncertainty import UNCERTAINTIES

    train, predict, exporting = help_of("train"), help_of("predict"), help_of("export")
    for name in (*training.STRATEGIES, *training.PRECISIONS):
        assert name in train
    for name in (*UNCERTAINTIES, *export.IN_PROCESS_PRECISIONS):
        assert name in predict
    for name in (*export.FORMATS, *export.PRECISIONS, str(export.MAX_MIOU_DROP)):
        assert name in exporting


def test_dataset_spec_syntax_names_every_source_and_is_in_each_command_that_takes_one(help_of):
    from keras_fcn.data.sources import SOURCES

    for scheme in SOURCES:
        assert f"  {scheme}" in DATASET_SPECS
    syntax = " ".join(DATASET_SPECS.split())
    for command in ("train", "evaluate", "export", "check-data"):
        assert syntax in help_of(command)
    assert "dataset specs" not in help_of("predict")


def test_an_unknown_name_is_one_line_that_lists_the_valid_ones(capsys):
    assert main(["summary", "--model", "fcn9s"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "Unknown model 'fcn9s'" in error and "fcn8s" in error
