"""The `keras-fcn` command line, end to end on small generated data (narrow fc, CPU)."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
from PIL import Image

from keras_fcn.classes import CAMVID_CLASS_NAMES
from keras_fcn.cli import main

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
SMALL_MODEL = ["--fc-units", "8", "--geometry", "aligned", "--weights", "none"]


def run_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "keras_fcn", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )


def run_train(run_dir, *args):
    """Runs `keras-fcn train ARGS --output RUN_DIR`, which must succeed; returns its process and
    the run's `run.json`."""
    trained = run_cli("train", *args, "--output", str(run_dir))
    assert trained.returncode == 0, trained.stderr[-3000:]
    return trained, json.loads((run_dir / "run.json").read_text())


def history_epochs(output_dir):
    with open(os.path.join(output_dir, "history.csv"), newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


@pytest.fixture
def voc_root(voc_tree):
    ids = [f"2007_{index:06d}" for index in range(6)]
    return voc_tree({"train": ids[:4], "val": ids[4:]}).root


@pytest.mark.slow
def test_train_evaluate_predict_export_on_a_voc_tree(voc_root, tmp_path, data_writers):
    run_dir, export_dir = tmp_path / "run", tmp_path / "saved_models" / "tiny"
    _, run_info = run_train(
        run_dir,
        "--dataset",
        f"voc:{voc_root}",
        "--val-dataset",
        f"voc:{voc_root}",
        "--model",
        "fcn16s",
        "--num-classes",
        "21",
        *SMALL_MODEL,
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "--crop-size",
        "32",
    )
    for name in ("final.keras", "best.keras", "history.csv", "curves.png", "run.json"):
        assert (run_dir / name).exists(), name
    assert history_epochs(run_dir) == [0, 1]
    assert run_info["arguments"]["model"] == "fcn16s" and "tensorflow" in run_info["versions"]

    report_path = tmp_path / "report.json"
    evaluated = run_cli(
        "evaluate",
        "--dataset",
        f"voc:{voc_root}",
        "--model",
        str(run_dir / "final.keras"),
        "--json",
        str(report_path),
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert "mean IU" in evaluated.stdout and "aeroplane" in evaluated.stdout
    report = json.loads(report_path.read_text())
    confusion = np.array(report["confusion_matrix"])
    assert confusion.shape == (21, 21)
    # Only labelled pixels of the two val images count (void 255 never does).
    labels = [data_writers.example(f"2007_{index:06d}")[1] for index in (4, 5)]
    assert confusion.sum() == sum(int(np.sum(label != 255)) for label in labels)

    exported = run_cli(
        "export",
        "--model",
        str(run_dir / "final.keras"),
        "--export-dir",
        str(export_dir),
        "--version",
        "3",
    )
    assert exported.returncode == 0, exported.stderr
    assert (export_dir / "3" / "saved_model.pb").exists()

    image_path = voc_root / "JPEGImages" / "2007_000004.jpg"
    for model_path in (run_dir / "final.keras", export_dir):
        out_dir = tmp_path / f"predictions_{model_path.name}"
        predicted = run_cli(
            "predict", "--model", str(model_path), str(image_path), "--output", str(out_dir)
        )
        assert predicted.returncode == 0, predicted.stderr
        mask = Image.open(out_dir / "2007_000004_mask.png")
        assert mask.mode == "P" and mask.size == Image.open(image_path).size
        assert np.asarray(mask).max() < 21
        assert (out_dir / "2007_000004_overlay.png").exists()


@pytest.mark.slow
def test_bayesian_segnet_basic_trains_from_scratch_and_predicts_its_uncertainty(
    tmp_path, data_writers
):
    run_dir = tmp_path / "run"
    _, run_info = run_train(
        run_dir,
        "--dataset",
        "synthetic:n=4,size=24,num_classes=3",
        "--model",
        "bayesian-segnet-basic",  # no --weights: SegNet-Basic's own default, from scratch
        "--num-classes",
        "3",
        "--recipe",
        "paper",
        "--epochs",
        "1",
        "--batch-size",
        "2",
    )
    assert run_info["recipe"]["learning_rate"] == 0.1 and run_info["recipe"]["momentum"] == 0.9

    image_path = tmp_path / "street.jpg"
    image = data_writers.example("street")[0]  # odd sizes: the pools round up
    data_writers.jpeg(image_path, image)
    out_dir = tmp_path / "predictions"
    predicted = run_cli(
        "predict",
        "--model",
        str(run_dir / "final.keras"),
        str(image_path),
        "--output",
        str(out_dir),
        "--samples",
        "4",
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "street_mask.png, _overlay.png, _uncertainty.png (white = variance" in predicted.stdout
    uncertainty = np.asarray(Image.open(out_dir / "street_uncertainty.png"))
    mask = np.asarray(Image.open(out_dir / "street_mask.png"))
    assert uncertainty.shape == mask.shape == image.shape[:2]
    # Scaled to the map's own maximum; dropout makes the passes differ somewhere.
    assert uncertainty.max() == 255 and mask.max() < 3


def test_predict_samples_need_a_keras_model_and_two_passes(tmp_path, capsys):
    export_dir = tmp_path / "saved_model"
    export_dir.mkdir()
    status = main(["predict", "--model", str(export_dir), "image.png", "--samples", "3"])
    assert status == 2 and "--samples needs the .keras model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(export_dir), "image.png", "--samples", "1"])
    assert "at least 2 passes" in capsys.readouterr().err


@pytest.mark.slow
def test_interrupted_training_resumes_after_the_last_finished_epoch(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "keras_fcn",
        "train",
        "--dataset",
        "synthetic:n=64,size=32,num_classes=3",
        "--model",
        "fcn32s",
        "--num-classes",
        "3",
        *SMALL_MODEL,
        "--epochs",
        "4",
        "--batch-size",
        "4",
        "--crop-size",
        "32",
        "--output",
        str(run_dir),
    ]
    first = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if (run_dir / "history.csv").exists() and history_epochs(run_dir):
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    finished_before_kill = history_epochs(run_dir)
    assert finished_before_kill and finished_before_kill[0] == 0
    assert len(finished_before_kill) < 4, "the first run ended before it could be interrupted"

    resumed = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    # Every epoch exactly once: the re-run started after the last finished epoch.
    assert history_epochs(run_dir) == [0, 1, 2, 3]


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import dataclasses
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras_fcn import data, registry, training

    def train(strategy_name):
        strategy = training.make_strategy(strategy_name)
        assert strategy.num_replicas_in_sync == (2 if strategy_name == "mirrored" else 1)
        keras.utils.set_random_seed(0)
        source = data.synthetic(num_examples=8, image_size=32, num_classes=3)
        if sys.argv[1:] == ["weighted"]:
            # Batches of (images, labels, per-pixel class weights), in a seeded order.
            dataset = data.training_pipeline(
                source, None, 4, augment=False, seed=0, class_weights=[0.5, 2.0, 1.0]
            )
        else:
            dataset = data.evaluation_pipeline(source, batch_size=4)
        with strategy.scope():
            model = registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")
            initial = model.get_weights()
            # The paper's recipe (SGD, summed loss): updates follow the gradients linearly.
            recipe = dataclasses.replace(registry.get("fcn8s").paper_recipe, learning_rate=1e-7)
            training.compile_for_training(model, recipe, 3)
        history = model.fit(dataset, epochs=2, verbose=0)
        change = max(np.abs(w - i).max() for w, i in zip(model.get_weights(), initial))
        assert change > 1e-4, change
        return model.get_weights(), history.history, change

    mirrored_weights, mirrored_history, _ = train("mirrored")
    single_weights, single_history, largest_change = train("one-device")
    for key in ("loss", "mean_iou", "pixel_accuracy"):
        np.testing.assert_allclose(mirrored_history[key], single_history[key], rtol=1e-4)
    # Weights agree up to float noise: far closer than the updates themselves (a gradient
    # scaled by the number of replicas would be off by half the update).
    for mirrored, single in zip(mirrored_weights, single_weights, strict=True):
        assert np.abs(mirrored - single).max() <= 0.05 * largest_change
    print("same")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("weighting", ["unweighted", "weighted"])
def test_mirrored_over_two_cpus_trains_like_one_device(weighting):
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, weighting],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert result.returncode == 0 and "same" in result.stdout, result.stderr[-3000:]


@pytest.mark.slow
def test_demo_trains_exports_and_serves(tmp_path):
    result = run_cli(
        "demo",
        "--epochs",
        "1",
        "--train-examples",
        "32",
        "--image-size",
        "32",
        "--output",
        str(tmp_path / "run"),
        "--export-dir",
        str(tmp_path / "saved_models" / "demo"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Before training" in result.stdout and "After 1 epochs" in result.stdout
    assert "Mean IU on" in result.stdout and "minutes" in result.stdout
    assert (tmp_path / "run" / "prediction.png").exists()
    assert (tmp_path / "saved_models" / "demo" / "1" / "saved_model.pb").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "imagenet:/x", "--num-classes", "3"], "imagenet"),
        (["evaluate", "--dataset", "synthetic", "--model", "/no/such/model.keras"], "no model"),
        (["predict", "--model", "/no/such/dir", "image.png"], "no model"),
        (["export", "--model", "/no/such/model.keras", "--export-dir", "x"], "no model"),
        (["train", "--dataset", "voc:/no/such/VOC2012", "--num-classes", "21"], "VOC2012"),
    ],
)
def test_bad_input_is_one_line_on_stderr_without_traceback(args, message, capsys, tmp_path):
    status = main([*args, "--output", str(tmp_path / "out")] if args[0] == "train" else args)
    error = capsys.readouterr().err.strip()
    assert status != 0
    assert "Traceback" not in error and len(error.splitlines()) == 1
    assert message in error
    assert not (tmp_path / "out").exists()


def test_unknown_model_name_is_one_line_that_lists_the_models(tmp_path, capsys):
    output = str(tmp_path / "run")
    argv = ["train", "--dataset", "synthetic", "--num-classes", "3", "--model", "fcn4s"]
    status = main([*argv, "--output", output])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1
    assert "Unknown model 'fcn4s'; the models are fcn32s, fcn16s, fcn8s" in error
    assert not os.path.exists(output)


def test_wrong_number_of_classes_for_a_checkpoint_is_reported(tmp_path, capsys):
    from keras_fcn import registry

    path = tmp_path / "model.keras"
    registry.build("fcn32s", 3, weights=None, fc_units=8, geometry="aligned").save(path)
    status = main(
        ["evaluate", "--dataset", "synthetic", "--model", str(path), "--num-classes", "5"]
    )
    error = capsys.readouterr().err
    assert status == 2 and "scores 3 classes, but --num-classes is 5" in error


def test_check_data_lists_problems_and_fails(tmp_path, capsys, data_writers):
    images, masks = tmp_path / "images", tmp_path / "masks"
    image, label = data_writers.example("a")
    data_writers.jpeg(images / "a.jpg", image)
    data_writers.palette_png(masks / "a.png", np.where(label == 255, 255, 7))
    data_writers.jpeg(images / "b.jpg", image)
    status = main(["check-data", f"folder:{images},{masks}", "--num-classes", "3"])
    output = capsys.readouterr().out
    assert status == 1
    assert "b.jpg" in output and "a.png" in output


SYNTHETIC_3 = "synthetic:n=6,size=64,num_classes=3"


@pytest.fixture
def small_fcn_file(small_fcn, tmp_path):
    path = tmp_path / "small.keras"
    small_fcn.save(path)
    return path


@pytest.fixture
def export_small_fcn(small_fcn_file):
    """Runs `keras-fcn export` on the small FCN's file in process; returns its exit status."""

    def export(export_dir, export_format, precision, *options):
        paths = ["--model", str(small_fcn_file), "--export-dir", str(export_dir)]
        return main(
            ["export", *paths, "--format", export_format, "--precision", precision, *options]
        )

    return export


def guard_options(max_miou_drop, min_pixel_agreement):
    """The accuracy guard's options, on SYNTHETIC_3 with the given thresholds."""
    return [
        "--guard-dataset",
        SYNTHETIC_3,
        "--max-miou-drop",
        max_miou_drop,
        "--min-pixel-agreement",
        min_pixel_agreement,
    ]


@pytest.mark.slow
def test_export_int8_with_calibration_and_guard_then_predict_with_it(
    export_small_fcn, tmp_path, capsys
):
    export_dir = tmp_path / "saved_models" / "small"
    calibration = ["--calibration-dataset", SYNTHETIC_3, "--calibration-size", "4"]
    guard = guard_options(max_miou_drop="0.05", min_pixel_agreement="0.9")
    status = export_small_fcn(
        export_dir, "openvino", "int8", *calibration, *guard, "--probabilities"
    )
    output, error = capsys.readouterr()
    assert status == 0
    assert "(openvino, int8)" in output and "Accuracy guard passed" in output
    assert "calibrate int8: 4/4 images (100%) in " in error  # NNCF's pass, shown
    described = json.loads((export_dir / "1" / "keras_fcn.json").read_text())
    assert described["calibration_images"] == 4 and described["guard"]["images"] == 6
    assert described["outputs"] == ["class_ids", "probabilities"]

    image_path = tmp_path / "photo.png"
    Image.fromarray(np.full((37, 53, 3), 128, np.uint8)).save(image_path)
    status = main(
        ["predict", "--model", str(export_dir), str(image_path), "--output", str(tmp_path)]
    )
    assert status == 0
    assert Image.open(tmp_path / "photo_mask.png").size == (53, 37)


@pytest.mark.slow
def test_export_refused_by_the_guard_exits_with_its_numbers(export_small_fcn, tmp_path, capsys):
    export_dir = tmp_path / "refused"
    guard = guard_options(max_miou_drop="0", min_pixel_agreement="1")
    status = export_small_fcn(export_dir, "openvino", "bfloat16", *guard)
    error = capsys.readouterr().err
    assert status == 2
    assert "accuracy guard FAILED on 6 images" in error and "pixel agreement" in error
    assert not export_dir.exists() or os.listdir(export_dir) == []


def test_int8_without_calibration_data_is_a_usage_error(export_small_fcn, tmp_path, capsys):
    status = export_small_fcn(tmp_path / "x", "onnx", "int8")
    assert status == 2
    assert "--precision int8 needs --calibration-dataset" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_and_predict_in_bfloat16(small_fcn_file, tmp_path, capsys):
    status = main(
        [
            "evaluate",
            "--dataset",
            SYNTHETIC_3,
            "--model",
            str(small_fcn_file),
            "--precision",
            "bfloat16",
        ]
    )
    assert status == 0 and "mean IU" in capsys.readouterr().out
    image_path = tmp_path / "photo.png"
    Image.fromarray(np.full((30, 41, 3), 90, np.uint8)).save(image_path)
    args = ["predict", "--model", str(small_fcn_file), str(image_path), "--output", str(tmp_path)]
    assert main([*args, "--precision", "bfloat16"]) == 0
    assert Image.open(tmp_path / "photo_mask.png").size == (41, 30)


@pytest.fixture
def camvid_root(tmp_path):
    from keras_fcn.data import testing

    splits = {"train": [f"train_{i}" for i in range(4)], "val": ["val_0"], "test": ["test_0"]}
    return testing.write_camvid_tree(tmp_path / "CamVid", splits).root


def test_check_data_on_camvid_reports_the_pixels_of_each_class(camvid_root, capsys):
    from keras_fcn.data import camvid, count_class_pixels

    status = main(["check-data", f"camvid:{camvid_root}", "--num-classes", "11"])
    output = capsys.readouterr().out
    assert status == 0 and "0 problem(s) found" in output
    counts = count_class_pixels(camvid(camvid_root, "train"), 11)
    lines = {line.split()[1]: line.split() for line in output.splitlines() if "%" in line}
    assert lines["Pole"][2] == f"{counts.pixels[2]:,}" and lines["(255)"][2] == (
        f"{counts.void_pixels:,}"
    )
    assert set(lines) == {*CAMVID_CLASS_NAMES, "(255)"}


@pytest.mark.slow
def test_train_on_camvid_with_class_weights_records_them_and_predicts_in_camvid_colours(
    camvid_root, tmp_path
):
    from keras_fcn.classes import camvid_palette
    from keras_fcn.data import camvid, median_frequency_weights

    run_dir = tmp_path / "run"
    trained, run_info = run_train(
        run_dir,
        "--dataset",
        f"camvid:{camvid_root}",
        "--val-dataset",
        f"camvid:{camvid_root}",
        "--num-classes",
        "11",
        *SMALL_MODEL,
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--crop-size",
        "24",
        "--class-weights",
        "median-frequency",
        "--recipe-option",
        "warmup_steps=1",
    )
    expected = median_frequency_weights(camvid(camvid_root, "train"), 11)
    np.testing.assert_allclose(run_info["class_weights"], expected, rtol=1e-6)
    assert run_info["recipe"]["class_weights"] == "median-frequency"
    assert run_info["recipe"]["warmup_steps"] == 1
    # Not a terminal: one line per epoch, no progress bar.
    epoch_lines = [line for line in trained.stdout.splitlines() if "val_mean_iou" in line]
    assert len(epoch_lines) == 1 and epoch_lines[0].startswith("2/2 - ")  # 4 images, batch 2
    assert "━" not in trained.stdout

    image = camvid_root / "test" / "test_0.png"
    out_dir = tmp_path / "predictions"
    predicted = run_cli(
        "predict",
        "--model",
        str(run_dir / "final.keras"),
        str(image),
        "--palette",
        "camvid",
        "--output",
        str(out_dir),
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    mask = Image.open(out_dir / "test_0_mask.png")
    palette = np.array(mask.getpalette()[: 256 * 3]).reshape(256, 3)
    np.testing.assert_array_equal(palette, camvid_palette())


@pytest.mark.slow
def test_predict_samples_in_bfloat16_keep_the_dropout_on(tmp_path, data_writers, capsys):
    from keras_fcn import registry

    model_path = tmp_path / "bayesian.keras"
    registry.build("bayesian-segnet-basic", 3, weights=None).save(model_path)
    image_path = tmp_path / "street.png"
    image = data_writers.example("street")[0]
    Image.fromarray(image).save(image_path)
    args = ["predict", "--model", str(model_path), str(image_path), "--output", str(tmp_path)]
    status = main([*args, "--samples", "3", "--precision", "bfloat16"])
    assert status == 0 and "_uncertainty.png" in capsys.readouterr().out
    uncertainty = np.asarray(Image.open(tmp_path / "street_uncertainty.png"))
    assert uncertainty.shape == image.shape[:2] and uncertainty.max() == 255


@pytest.fixture
def preset_file(tmp_path, monkeypatch):
    """Writes a narrow (fc6/fc7 of 8) random .caffemodel of a preset; KERAS_HOME in tmp."""
    from keras_fcn.presets import PRESETS
    from keras_fcn.weights import save_caffemodel

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def write(name):
        model, rng = PRESETS[name].build(fc_units=8), np.random.default_rng(0)
        for variable in model.weights:  # zero kernels as built: make them random
            variable.assign(rng.normal(0, 0.05, variable.shape).astype("float32"))
        path = tmp_path / f"{name}.caffemodel"
        save_caffemodel(model, path)
        return str(path)

    return write


def test_convert_writes_a_preset_as_a_keras_file(preset_file, tmp_path, capsys):
    from keras_fcn.classes import VOC_CLASS_NAMES
    from keras_fcn.model_info import ModelInfo, read_model_info
    from keras_fcn.presets import from_preset

    path, output = preset_file("voc-fcn16s"), tmp_path / "fcn16s-voc.keras"
    arguments = ["convert", "--preset", "voc-fcn16s", "--caffemodel", path, "--fc-units", "8"]
    status = main([*arguments, "--output", str(output)])
    printed = capsys.readouterr().out
    assert status == 0 and f"to {output}" in printed
    # The conversion's progress, as lines without a terminal: the last one at 100%.
    assert re.search(
        rf"^convert {os.path.basename(path)}: (\d+)/\1 layers \(100%\) in ", printed, re.M
    )
    converted = keras.models.load_model(output)
    images = np.random.default_rng(0).integers(0, 256, (1, 37, 45, 3)).astype("uint8")
    expected = from_preset("voc-fcn16s", caffemodel=path, fc_units=8)(images)
    np.testing.assert_array_equal(converted(images), expected)
    assert converted.name == "voc-fcn16s"
    assert read_model_info(str(output)) == ModelInfo(VOC_CLASS_NAMES, "voc")


def test_evaluate_takes_a_preset_with_its_class_names(preset_file, voc_root, capsys):
    path = preset_file("voc-fcn32s")
    arguments = ["evaluate", "--dataset", f"voc:{voc_root}"]
    status = main([*arguments, "--preset", "voc-fcn32s", "--caffemodel", path, "--fc-units", "8"])
    output = capsys.readouterr().out
    assert status == 0 and "mean IU" in output and "tvmonitor" in output


def test_predict_picks_a_head_of_a_two_head_preset(preset_file, tmp_path, capsys, data_writers):
    path, image_path = preset_file("siftflow-fcn16s"), tmp_path / "photo.jpg"
    data_writers.jpeg(image_path, data_writers.example("photo")[0])
    arguments = ["predict", "--preset", "siftflow-fcn16s", "--caffemodel", path]
    arguments += ["--fc-units", "8", str(image_path), "--output", str(tmp_path / "out")]
    assert main(arguments) == 2
    assert "has the heads sem, geo: pass --head sem or --head geo" in capsys.readouterr().err
    assert main([*arguments, "--head", "geo"]) == 0
    mask = np.asarray(Image.open(tmp_path / "out" / "photo_mask.png"))
    assert mask.shape == data_writers.example("photo")[0].shape[:2] and mask.max() < 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "--preset", "nyud-fcn32s-color-hha", "--export-dir", "x"], "takes 2 images"),
        (["predict", "--model", "m.keras", "--caffemodel", "f", "a.png"], "--preset only"),
        (["evaluate", "--dataset", "synthetic", "--preset", "voc-fcn8s", "--head", "sem"], "one"),
    ],
)
def test_preset_flags_that_cannot_apply_are_reported(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_the_train_parser_alone_reads_a_train_command_as_the_full_parser_does():
    from keras_fcn.cli import build_parser, train_parser

    command = ["train", "--dataset", "camvid:/data", "--num-classes", "11", "--model", "fcn16s"]
    command += ["--recipe-option", "warmup_steps=5", "--class-weights", "median-frequency"]
    for jit in ([], ["--jit-compile"], ["--no-jit-compile"]):
        full = vars(build_parser().parse_args([*command, *jit]))
        alone = vars(train_parser().parse_args([*command, *jit]))
        assert full == alone
    assert [
        train_parser().parse_args([*command, *jit]).jit_compile
        for jit in ([], ["--jit-compile"], ["--no-jit-compile"])
    ] == [None, True, False]  # None: the backend's choice (XLA on JAX only)


def test_model_options_come_from_the_registrys_declarations(capsys):
    arguments = ["summary", "--model", "dilation8", "--num-classes", "3", "--fc-units", "8"]
    assert main([*arguments, "--option", "context=basic"]) == 0
    assert "ct_final" in capsys.readouterr().out
    assert main(["summary", "--model", "fcn8s", "--backbone", "resnet50"]) == 2
    assert "takes no option backbone" in capsys.readouterr().err
    assert main([*arguments, "--option", "geometry"]) == 2
    assert "takes NAME=VALUE with NAME one of" in capsys.readouterr().err


def test_models_lists_every_registry_entry_with_its_reference(capsys):
    from keras_fcn import registry

    assert main(["models"]) == 0
    output = capsys.readouterr().out
    for entry in registry.MODELS.values():
        assert f"{entry.name:<24} {entry.title}" in output and entry.reference in output
    assert "options: input_shape, weights, fc_units, dropout, geometry\n" in output


@pytest.fixture
def tiny_model_file(tmp_path):
    """Two convolutions from RGB to 3 classes, saved as a .keras file."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Rescaling(1 / 64),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(3, 1),
        ]
    )
    path = tmp_path / "tiny.keras"
    model.save(path)
    return path


@pytest.mark.parametrize(
    "flags, protocol",
    [
        (
            ["--scales", "0.75", "1.0", "--flip"],
            "custom: scales 0.75, 1, flip, merge probabilities",
        ),
        (["--protocol", "deeplab-v2-msc"], "deeplab-v2-msc: scales 1, 0.75, 0.5, merge max"),
    ],
)
def test_evaluate_under_a_protocol_names_it_and_shows_progress(
    tiny_model_file, capsys, flags, protocol
):
    dataset = "synthetic:n=2,size=32,num_classes=3"
    assert main(["evaluate", "--dataset", dataset, "--model", str(tiny_model_file), *flags]) == 0
    output = capsys.readouterr().out
    assert output.startswith(f"Protocol: {protocol}\n")
    assert "2/2" in output and "mean IU" in output


def test_predict_with_windows_and_the_crf_names_its_protocol(tiny_model_file, tmp_path, capsys):
    pytest.importorskip("pydensecrf.densecrf", reason="pydensecrf2 is not installed")
    from keras_fcn.inference import Protocol, ProtocolPredictor

    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    image_path = tmp_path / "photo.png"
    Image.fromarray(image).save(image_path)
    args = ["predict", "--model", str(tiny_model_file), str(image_path), "--output", str(tmp_path)]
    assert main([*args, "--window", "32", "32", "--crf"]) == 0
    assert capsys.readouterr().out.startswith(
        "Protocol: custom: scales 1, windows 32×32 stride 22×22 padded with (0), merge "
        "probabilities, dense CRF deeplab-v2-voc\n"
    )
    protocol = Protocol(window=(32, 32), crf="deeplab-v2-voc")
    expected = ProtocolPredictor(keras.models.load_model(tiny_model_file), protocol)(image[None])
    mask = np.asarray(Image.open(tmp_path / "photo_mask.png"))
    np.testing.assert_array_equal(mask, expected[0].argmax(axis=-1))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--stride", "8", "8"], "needs a window"),
        (["--window", "8", "8", "--stride", "9", "8"], "larger than the window"),
        (["--protocol", "pspnet-ss", "--samples", "2"], "does not combine with a test-time"),
    ],
)
def test_protocol_flags_that_cannot_apply_are_one_line_errors(
    tiny_model_file, tmp_path, capsys, flags, message
):
    args = ["predict", "--model", str(tiny_model_file), str(tmp_path / "photo.png"), *flags]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1


def test_a_protocol_needs_the_keras_model_not_an_export(tmp_path, capsys):
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    assert main(["predict", "--model", str(export_dir), "photo.png", "--flip"]) == 2
    assert "runs a .keras model or a --preset" in capsys.readouterr().err


def _sigint_default():
    """Ctrl-C's default in the child: a shell starts background jobs with SIGINT ignored, and
    Python then keeps it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_stops_training_in_one_line_and_the_rerun_resumes(tmp_path):
    run_dir = tmp_path / "run"

    def train(epochs):
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "keras_fcn", "train", "--model", "fcn32s"),
                *("--dataset", "synthetic:n=8,size=32,num_classes=3", "--num-classes", "3"),
                *SMALL_MODEL,
                *("--epochs", str(epochs), "--batch-size", "2", "--output", str(run_dir)),
            ],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_sigint_default,
        )

    first = train(epochs=30)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if (run_dir / "history.csv").exists() and history_epochs(run_dir):
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    _, errors = first.communicate(timeout=60)
    assert time.monotonic() - interrupted < 30, "Ctrl-C did not stop training within seconds"
    assert first.returncode == 130, errors[-3000:]
    assert "Traceback" not in errors
    finished = len(history_epochs(run_dir))
    assert 1 <= finished < 30
    assert errors.strip().splitlines()[-1] == (
        f"keras-fcn train: interrupted in epoch {finished + 1}; run the same command to resume"
    )

    resumed = train(epochs=finished + 1)
    output, errors = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, errors[-3000:]
    assert output.startswith(f"Resuming after epoch {finished} from {run_dir}.\n")
    assert history_epochs(run_dir) == list(range(finished + 1))  # each epoch once


def three_class_arrays(stem):
    """A 24×32 image and its mask of classes 0, 1 and 2."""
    rng = np.random.default_rng(len(stem))
    label = np.zeros((24, 32), np.int32)
    label[4:20, 8:24] = 1
    label[10:14, :] = 2
    return rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), label


@pytest.fixture
def folder_with_bad_masks(tmp_path, data_writers):
    """A folder dataset of 3 classes: b.png is smaller than its image, d.png holds a label 7."""
    from keras_fcn.data import testing

    root = tmp_path / "shapes"
    testing.write_folder_tree(root, ["a", "b", "c", "d"], three_class_arrays)
    label = three_class_arrays("b")[1]
    data_writers.palette_png(root / "masks" / "b.png", label[:-4])
    label = three_class_arrays("d")[1]
    label[0, 0] = 7
    data_writers.palette_png(root / "masks" / "d.png", label)
    return root


def test_a_bad_mask_met_by_evaluate_is_the_line_check_data_gives(
    folder_with_bad_masks, tiny_model_file, capsys
):
    root = folder_with_bad_masks
    spec = f"folder:{root / 'images'},{root / 'masks'}"
    assert main(["check-data", spec, "--num-classes", "3"]) == 1
    problems = capsys.readouterr().out.splitlines()[:2]
    assert [line.split(":")[0] for line in problems] == [
        str(root / "masks" / "b.png"),
        str(root / "masks" / "d.png"),
    ]
    assert main(["evaluate", "--dataset", spec, "--model", str(tiny_model_file)]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"keras-fcn evaluate: error: {problems[0]} (keras-fcn check-data lists every problem)"
    )


@pytest.mark.slow
def test_a_bad_mask_met_by_train_is_one_line_naming_the_file(folder_with_bad_masks):
    root = folder_with_bad_masks
    (root / "masks" / "b.png").unlink()
    (root / "images" / "b.jpg").unlink()
    trained = run_cli(
        *("train", "--dataset", f"folder:{root / 'images'},{root / 'masks'},num_classes=3"),
        *("--model", "fcn32s", "--num-classes", "3", *SMALL_MODEL, "--epochs", "1"),
        *("--batch-size", "1", "--output", str(root / "run")),
    )
    assert trained.returncode == 2
    assert "Traceback" not in trained.stderr
    assert trained.stderr.strip().splitlines()[-1] == (
        f"keras-fcn train: error: {root / 'masks' / 'd.png'}: label values [7] are outside "
        "[0, 3) and the ignore label 255 (keras-fcn check-data lists every problem)"
    )


@pytest.mark.slow
def test_predict_segments_every_readable_image_and_counts_the_bad_ones(tiny_model_file, tmp_path):
    paths = [tmp_path / name for name in ("first.png", "truncated.png", "last.png")]
    for path in paths:
        Image.fromarray(three_class_arrays(path.stem)[0]).save(path)
    paths[1].write_bytes(paths[1].read_bytes()[:200])
    output = tmp_path / "out"
    result = run_cli(
        "predict", "--model", str(tiny_model_file), *map(str, paths), "--output", str(output)
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert f"{paths[1]}: cannot read the image" in result.stdout
    assert lines[-1] == f"2 of 3 images segmented; 1 could not be read: {paths[1]}"
    for stem in ("first", "last"):  # the image after the bad one too
        assert Image.open(output / f"{stem}_mask.png").size == (32, 24)
    assert not (output / "truncated_mask.png").exists()
    # Without a terminal, progress comes as lines, the last one at 100%.
    progress = [line for line in lines if line.startswith("predict: ")]
    assert progress[-1].startswith("predict: 3/3 images (100%) in ")


def test_ctrl_c_in_predict_keeps_whole_files_and_is_one_line(tiny_model_file, tmp_path, capsys):
    import threading

    paths = [tmp_path / f"photo{index:02d}.png" for index in range(40)]
    for path in paths:
        Image.fromarray(three_class_arrays(path.stem)[0]).save(path)
    output = tmp_path / "out"

    def interrupt_after_the_first_image():
        deadline = time.monotonic() + 120
        while not (output / "photo00_overlay.png").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C; Python raises it in the main thread

    interrupter = threading.Thread(target=interrupt_after_the_first_image, daemon=True)
    interrupter.start()
    status = main(
        ["predict", "--model", str(tiny_model_file), *map(str, paths), "--output", str(output)]
    )
    interrupter.join()
    assert status == 130
    error = capsys.readouterr().err.strip()
    assert error.startswith("keras-fcn predict: interrupted at ") and len(error.splitlines()) == 1
    masks = sorted(output.glob("*_mask.png"))
    assert 1 <= len(masks) < len(paths)
    for mask in masks:  # every file written is whole
        Image.open(mask).load()
        Image.open(str(mask).replace("_mask", "_overlay")).load()


def test_ctrl_c_in_evaluate_is_one_line_and_writes_no_report(tiny_model_file, tmp_path, capsys):
    import threading

    report = tmp_path / "report.json"
    interrupter = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    interrupter.start()
    status = main(
        [
            *("evaluate", "--dataset", "synthetic:n=100000,size=32,num_classes=3"),
            *("--model", str(tiny_model_file), "--json", str(report)),
        ]
    )
    interrupter.join()
    assert status == 130
    assert capsys.readouterr().err.strip() == "keras-fcn evaluate: interrupted"
    assert not report.exists()
