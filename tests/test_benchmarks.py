"""Every benchmark script runs end to end with `--smoke`, as a user starts it.

Each test runs `python -m benchmarks.<script> --smoke` in a fresh process from the repository
root (tiny inputs, narrow widths, one repeat: seconds, not a measurement) and reads back the
markdown table the script prints, so that a library change that breaks a benchmark fails here
rather than the next time someone measures. The inference benchmark's choice of rows and stages
for the successors of FCN is tested in process.
"""

import json
import os
import pathlib
import subprocess
import sys

import backend_processes
import keras
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_smoke(script: str, *arguments: str) -> str:
    """Runs a benchmark module with `--smoke` (and `arguments`) from the repository root;
    returns its stdout."""
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    environment["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(ROOT), os.environ.get("PYTHONPATH")) if path
    )
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script}", "--smoke", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"benchmarks.{script} --smoke exited with {result.returncode}:\n{result.stderr[-4000:]}"
    )
    assert "Smoke run (`--smoke`)" in result.stdout, "the output must say it is a smoke run"
    return result.stdout


def table(output: str, first_header: str) -> list[dict[str, str]]:
    """The rows of the markdown table whose first column is `first_header`, as dicts."""
    lines = output.splitlines()
    start = next(
        (index for index, line in enumerate(lines) if line.startswith(f"| {first_header} |")),
        None,
    )
    assert start is not None, f"no table with the column {first_header!r} in:\n{output}"
    headers = [cell.strip() for cell in lines[start].strip().strip("|").split("|")]
    assert lines[start + 1] == "|" + "---|" * len(headers)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == len(headers), line
        rows.append(dict(zip(headers, cells, strict=True)))
    assert rows, f"the table with the column {first_header!r} has no rows"
    return rows


def test_inference_smoke_times_every_mode_and_every_layer():
    output = run_smoke("inference")
    rows = table(output, "model")
    assert {row["model"] for row in rows} == {"fcn8s"}
    assert [row["mode"] for row in rows] == ["eager", "predict", "function", "xla"]
    assert {(row["geometry"], row["input"], row["batch"]) for row in rows} == {
        ("aligned", "64×64", "1")
    }
    assert all(float(row["fraction"]) > 0 for row in rows)
    stages = [row["stage"] for row in table(output, "stage")]
    assert stages[:3] == ["input", "block1", "block2"]
    assert "fc6" in stages and "whole model, xla" in stages
    assert "fc6" in [row["layer"] for row in table(output, "layer")]


def test_training_smoke_times_a_step_in_a_fresh_process():
    rows = table(run_smoke("training"), "model")
    assert len(rows) == 1
    row = rows[0]
    assert (row["model"], row["geometry"], row["precision"], row["XLA"], row["crop"]) == (
        "fcn8s",
        "aligned",
        "float32",
        "no",
        "64×64",
    )
    assert float(row["best step (s)"]) > 0 and float(row["fraction"]) > 0


def test_evaluation_smoke_counts_traces_of_every_runner():
    rows = {row["runner"]: row for row in table(run_smoke("evaluation"), "runner")}
    assert list(rows) == [
        "eager",
        "function",
        "function, reduce_retracing",
        "function, signature",
        "xla, signature",
        "xla, buckets of 32",
    ]
    # Two images of two sizes: one trace per size without a signature, one with it.
    assert rows["function"]["traces"] == "2"
    assert rows["function, signature"]["traces"] == "1"
    assert float(rows["function, signature"]["max abs Δ logits"]) == 0
    assert all(float(row["fraction (CPU time)"]) > 0 for row in rows.values())


def test_serving_smoke_times_every_path_and_the_saved_model_agrees():
    output = run_smoke("serving")
    rows = table(output, "geometry")
    assert [row["path"] for row in rows] == [
        "model, tf.function",
        "in process, serve_images",
        "SavedModel, serve_images",
        "SavedModel, serving_default",
        "SavedModel, serve_class_ids",
        "load_predictor",
    ]
    assert all(float(row["fraction"]) > 0 for row in rows)
    check_start = output.index("| geometry | batch | class ids equal")
    checks = table(output[check_start:], "geometry")
    assert checks[0]["class ids equal (in process vs SavedModel)"] == "1.0000"
    response_start = output.index("| geometry | signature |")
    signatures = [row["signature"] for row in table(output[response_start:], "geometry")]
    assert signatures == ["serving_default", "serve_class_ids"]


def test_metric_update_smoke_times_every_operation_in_every_mode():
    rows = table(run_smoke("metric_update"), "operation")
    assert len(rows) == 4 * 3
    assert {row["mode"] for row in rows} == {"eager", "tf.function", "jit"}
    assert rows[0]["operation"] == "SegmentationScores.update_state(logits)"
    assert all(float(row["Mpixel/s"]) > 0 for row in rows)


def test_input_pipeline_smoke_reads_its_voc_tree_through_every_stage():
    rows = table(run_smoke("input_pipeline"), "stage")
    assert [row["stage"] for row in rows] == [
        "voc source (decode + checks)",
        "training_pipeline: augment, crop 320, batch 8",
        "same, cache=True",
        "training_pipeline: paper recipe (batch 1, native, no augmentation)",
        "evaluation_pipeline: batch 1",
    ]
    assert all(float(row["images/s (best)"]) > 0 for row in rows)


def test_deploy_smoke_times_every_format_and_precision():
    from benchmarks.deploy import PATHS

    rows = table(run_smoke("deploy"), "path")
    assert [(row["path"], row["format"], row["precision"]) for row in rows] == [
        (path.name, path.format, path.precision) for path in PATHS
    ]
    assert all(float(row["best (s)"]) > 0 for row in rows)
    assert all(0 < float(row["class ids = float32's"]) <= 1 for row in rows)
    assert rows[0]["class ids = float32's"] == "1.0000"  # the reference against itself
    exported = [row for row in rows if row["format"] != "keras" and row["precision"] != "default"]
    assert all(float(row["export (s)"]) > 0 for row in exported)


@pytest.mark.slow
def test_deploy_graphs_smoke_times_both_fc6_graphs_and_the_pytorch_peer():
    from keras_fcn.export.graphs import MATMUL_CONVOLUTIONS

    rows = table(run_smoke("deploy", "--graphs", "--formats", "onnx", "openvino"), "runtime")
    formats = {"ONNX Runtime": "onnx", "OpenVINO, f32 hint": "openvino"}
    formats["OpenVINO, bf16 hint"] = "openvino"
    assert [row["runtime"] for row in rows] == list(formats)
    for row in rows:
        keeps_matmul = MATMUL_CONVOLUTIONS[formats[row["runtime"]]]
        assert row["graph exported"] == ("matmul" if keeps_matmul else "convolution")
        assert float(row["fc6 as matmul (s)"]) > 0 and float(row["peer (s)"]) > 0
        assert float(row["class ids, convolution = matmul"]) > 0.99


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_accelerator_smoke_runs_on_jax_and_torch_without_tensorflow(backend):
    completed = backend_processes.run_python(
        ["-m", "benchmarks.accelerator", "--smoke"], backend=backend, without_tensorflow=True
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    output = completed.stdout
    assert "Smoke run (`--smoke`)" in output
    machine = {row["machine"]: row[""] for row in table(output, "machine")}
    assert machine["backend"].startswith(f"{backend} ")
    inference = table(output, "model")
    assert [(row["model"], row["precision"]) for row in inference] == [
        ("fcn8s", "float32"),
        ("fcn8s", "mixed_bfloat16"),
    ]
    assert all(row["input"] == "64×64" and float(row["TFLOP/s"]) > 0 for row in inference)
    steps = table(output[output.index("### Training step") :], "model")
    assert [(row["model"], row["crop"], row["precision"]) for row in steps] == [
        ("fcn8s", "64×64", "float32")
    ]
    assert float(steps[0]["best step (ms)"]) > 0 and float(steps[0]["images/s"]) > 0


def test_segnet_memory_smoke_measures_segnet_and_fcn8s_training_and_inference():
    rows = table(run_smoke("segnet_memory"), "model")
    assert [(row["model"], row["geometry"], row["mode"]) for row in rows] == [
        ("segnet", "original", "train"),
        ("segnet", "original", "infer"),
        ("fcn8s", "aligned", "train"),
        ("fcn8s", "aligned", "infer"),
    ]
    assert rows[0]["parameters (M)"] == "29.5"  # full-width SegNet, 11 classes
    assert all(float(row["TF peak increase (MiB)"]) >= 0 for row in rows)
    # A training step holds at least its gradients: one float32 per trainable parameter.
    assert float(rows[0]["TF peak increase (MiB)"]) > 29.4e6 * 4 / 2**20


def test_camvid_smoke_trains_through_the_cli_and_scores_val_and_test():
    output = run_smoke("camvid")
    assert "keras-fcn train --dataset camvid:" in output
    scores = {row["split"]: row for row in table(output, "split")}
    assert list(scores) == ["val", "test"]
    assert all(0 <= float(row["mean IU"]) <= 100 for row in scores.values())
    classes = [row["class"] for row in table(output, "class")]
    assert classes[:3] == ["Sky", "Building", "Pole"] and len(classes) == 11
    assert "s per epoch" in output


def test_caffe_conversion_smoke_converts_and_loads_from_the_cache():
    from benchmarks.caffe_conversion import STEPS

    output = run_smoke("caffe_conversion")
    assert "Wrote" in output and "save_caffemodel" in output
    rows = {row["step"]: row for row in table(output, "step")}
    assert list(rows) == list(STEPS)
    assert all(float(row["wall (s)"]) > 0 for row in rows.values())
    # Reading holds the file's weights once: about one file size more, not several.
    assert 0.5 < float(rows["read_caffemodel"]["× file size"]) < 3


def test_inference_protocols_smoke_times_every_protocol_against_single_scale():
    from benchmarks.inference_protocols import IMAGES, crf_available

    rows = table(run_smoke("inference_protocols"), "image")
    expected = [
        (image, name)
        for image, (_, _, _, names) in IMAGES.items()
        for name in names
        if crf_available() or name != "deeplab-v2-msc-crf"
    ]
    assert [(row["image"].split()[0], row["protocol"]) for row in rows] == expected
    assert all(float(row["best (s)"]) > 0 for row in rows)
    single = [row for row in rows if row["protocol"] == "single-scale"]
    assert [(row["passes"], row["× single-scale"]) for row in single] == [("1", "1.00")] * 2
    # 50×38 with the smoke run's 32×32 windows every ⌈2/3 · 32⌉ = 22: 2 × 2 windows, mirrored.
    pspnet = next(row for row in rows if row["protocol"] == "pspnet-ss")
    assert (pspnet["image"], pspnet["passes"]) == ("voc 50×38", "8")


def test_pspnet_scores_smoke_prints_each_published_score_beside_a_measured_one():
    from keras_fcn.presets import PRESETS

    rows = table(run_smoke("pspnet_scores"), "protocol")
    published = {(p, m): v for p, m, v in PRESETS["ade20k-pspnet50"].scores}
    assert [(row["protocol"], row["metric"]) for row in rows] == [
        (protocol, metric)
        for protocol in ("pspnet-ss", "pspnet-ms")
        for metric in ("mean_iou", "pixel_accuracy")
    ]
    for row in rows:
        assert float(row["published (%)"]) == published[row["protocol"], row["metric"]]
        assert 0 <= float(row["measured (%)"]) <= 100


def test_pspnet_scores_needs_the_weights_and_the_data_but_in_a_smoke_run(capsys):
    from benchmarks.pspnet_scores import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--preset", "voc-pspnet101", "--weights", "w.caffemodel"])
    assert "--weights, --images and --labels are required" in capsys.readouterr().err
    args = parse_args(
        ["--preset", "cityscapes-pspnet101", "--weights", "w", "--images", "i", "--labels", "l"]
    )
    assert (args.preset, args.protocols, args.limit) == ("cityscapes-pspnet101", None, None)
    assert parse_args(["--smoke"]).preset == "ade20k-pspnet50"


def test_refinenet_upsampling_smoke_prints_both_resizes_against_bicubic():
    rows = table(run_smoke("refinenet_upsampling"), "resize")
    assert [row["resize"] for row in rows] == ["bilinear", "bicubic"]
    bilinear, bicubic = rows
    assert bicubic["mean IU − bicubic's (points)"] == "+0.00"
    assert bicubic["labelled pixels of another class than bicubic's (%)"] == "0.00"
    assert 0 < float(bilinear["labelled pixels of another class than bicubic's (%)"]) < 100
    assert float(bilinear["mean IU − bicubic's (points)"]) == pytest.approx(
        float(bilinear["mean_iou (%)"]) - float(bicubic["mean_iou (%)"]), abs=0.011
    )


@pytest.mark.slow
def test_refinenet_upsampling_swaps_the_resizes_of_a_built_net():
    from benchmarks.refinenet_upsampling import with_upsampling
    from keras_fcn.models.refinenet import RefineNet

    narrow = {"depth": 50, "adapt_widths": (8, 4, 4, 4)}
    keras.utils.set_random_seed(0)
    bicubic = RefineNet(3, upsampling="bicubic", **narrow)
    bilinear = RefineNet(3, upsampling="bilinear", kernel_initializer="zeros", **narrow)
    bilinear.set_weights(bicubic.get_weights())
    images = np.random.default_rng(0).integers(0, 256, (1, 45, 37, 3)).astype("float32")
    swapped = with_upsampling(bicubic, "bilinear")
    np.testing.assert_allclose(swapped(images), bilinear(images), rtol=1e-5, atol=1e-5)
    assert not np.allclose(swapped(images), bicubic(images), atol=1e-3)


def test_resnet_speed_smoke_times_a_net_against_pytorch_keras_conv2d_and_a_training_step():
    from benchmarks.resnet_speed import import_torchvision

    output = run_smoke("resnet_speed")
    rows = table(output, "model")
    assert [(row["model"], row["path"], row["input"]) for row in rows] == [
        ("torchvision-fcn-resnet50", "float32", "65×65")
    ]
    row = rows[0]
    assert row["parameters"] == "33,011,157"  # count_params: 32,957,013 + 54,144 BN statistics
    assert float(row["median (s)"]) > 0 and float(row["share of float32 ceiling (CPU time)"]) > 0
    if import_torchvision() is None:
        assert row["PyTorch peer"] == "torchvision not installed"
    else:  # the same layer list: torchvision's num_params, the same convolutions
        assert row["peer parameters"] == "32,957,013"
        assert row["peer G MACs"] == row["G MACs"]
        assert float(row["× PyTorch (CPU time)"]) > 0
    dilation = table(output[output.index("### Dilated convolutions") :], "model")
    # At output stride 8, layer4's three blocks (rates 2, 4, 4 from 512 channels); layer3's
    # dilated blocks run on phases.
    assert [(row["model"], row["dilated convolutions"]) for row in dilation] == [
        ("torchvision-fcn-resnet50", "3")
    ]
    assert float(dilation[0]["× Keras Conv2D (CPU time)"]) > 0
    phases = table(output[output.index("### Phases") :], "model")
    # torchvision's layer3 blocks 1–5 (rate 2 from 256 channels; block 0 keeps rate 1).
    assert [(row["model"], row["convolutions on phases"]) for row in phases] == [
        ("torchvision-fcn-resnet50", "5")
    ]
    assert float(phases[0]["× DilatedConv2D (CPU time)"]) > 0
    tap_sums = table(output[output.index("### Tap sums") :], "model")
    # FCNHead's 3×3 convolution from layer4's 2,048 channels.
    assert [(row["model"], row["tap-sum convolutions"]) for row in tap_sums] == [
        ("torchvision-fcn-resnet50", "1")
    ]
    assert float(tap_sums[0]["× convolution (CPU time)"]) > 0
    steps = table(output[output.index("### Training step") :], "model")
    assert [(step["model"], step["output stride"], step["batch"]) for step in steps] == [
        ("deeplabv3-resnet50", "16", "1")
    ]
    step = steps[0]
    assert float(step["peak RSS after the steps (MiB)"]) >= float(
        step["peak RSS after build (MiB)"]
    )
    # A training step holds at least its gradients: one float32 per trainable parameter.
    assert float(step["TF peak increase (MiB)"]) > 39_075_093 * 4 / 2**20


def test_resnet_speed_parses_its_nets_paths_and_memory_runs():
    from benchmarks import resnet_speed

    args = resnet_speed.parse_args([])
    assert args.models == list(resnet_speed.PEERS) and len(args.models) == 7
    assert (args.paths, args.size, args.memory) == (["float32", "bfloat16"], 513, False)
    args = resnet_speed.parse_args(
        [
            "--models",
            "--memory",
            "--memory-batches",
            "2",
            "--threads",
            "1",
            "--paths",
            "openvino-f32",
            "openvino-default",
        ]
    )
    assert (args.models, args.memory, args.memory_batches, args.threads) == ([], True, [2], 1)
    assert args.paths == ["openvino-f32", "openvino-default"]
    for wrong in (["--models", "deeplab-aspp"], ["--paths", "int8"]):
        with pytest.raises(SystemExit):
            resnet_speed.parse_args(wrong)


def torchvision_fcn_resnet50_macs(side: int, num_classes: int) -> int:
    """Multiply-accumulates of torchvision's `fcn_resnet50` on a `side`² image, by arithmetic
    from its layer list (torchvision/models/resnet.py, segmentation/fcn.py): conv1 7×7 stride 2
    padding 3; maxpool 3×3 stride 2 padding 1; bottlenecks of 3, 4, 6, 3 blocks (1×1 to the
    width, 3×3, 1×1 to 4 × width; a 1×1 projection in each first block), layer2's first 3×3
    and projection at stride 2, layer3 and layer4 dilated at 1/8; FCNHead: 3×3 2048 → 512,
    1×1 512 → classes. A convolution costs output positions × kh × kw × in × out."""

    def conv(positions, kernel, channels_in, channels_out):
        return positions * kernel * kernel * channels_in * channels_out

    conv1 = (side + 2 * 3 - 7) // 2 + 1
    quarter = (conv1 + 2 * 1 - 3) // 2 + 1
    eighth = (quarter + 2 * 1 - 3) // 2 + 1
    macs = conv(conv1**2, 7, 3, 64)
    channels = 64
    for stage, (blocks, width) in enumerate(((3, 64), (4, 128), (6, 256), (3, 512))):
        side_in, side_out = (
            (quarter, quarter)
            if stage == 0
            else ((quarter, eighth) if stage == 1 else (eighth, eighth))
        )
        for block in range(blocks):
            first = side_in if block == 0 else side_out
            macs += conv(first**2, 1, channels, width)
            macs += conv(side_out**2, 3, width, width) + conv(side_out**2, 1, width, 4 * width)
            if block == 0:
                macs += conv(side_out**2, 1, channels, 4 * width)
            channels = 4 * width
    return macs + conv(eighth**2, 3, 2048, 512) + conv(eighth**2, 1, 512, num_classes)


def test_resnet_speed_counts_the_macs_of_torchvisions_layer_list():
    from benchmarks.flops import total_flops
    from keras_fcn import registry

    model = registry.build("torchvision-fcn-resnet50", 21, weights=None, kernel_initializer="zeros")
    for side in (65, 66):  # odd and even sides round differently at every stride
        assert total_flops(model, (1, side, side, 3)) == 2 * torchvision_fcn_resnet50_macs(side, 21)


def test_resnet_speed_peers_have_our_nets_layer_lists():
    from benchmarks import resnet_speed
    from benchmarks.flops import total_flops
    from keras_fcn import registry

    torchvision = resnet_speed.import_torchvision()
    if torchvision is None:
        pytest.skip("torchvision is not installed")
    import torch

    images = torch.zeros(1, 3, 65, 65)
    for name in ("deeplab-aspp-resnet101", "torchvision-deeplabv3-resnet50"):
        model = registry.build(name, 21, weights=None, kernel_initializer="zeros")
        net = resnet_speed.torch_peer(name, torchvision)
        macs, logits = resnet_speed.torch_macs(net, images)
        assert 2 * macs == total_flops(model, (1, 65, 65, 3)), name
        assert tuple(logits.shape) == (1, 21, 65, 65)
        learned = [weight for weight in model.weights if not weight.name.startswith("moving_")]
        expected = sum(int(np.prod(weight.shape)) for weight in learned)
        assert sum(parameter.numel() for parameter in net.parameters()) == expected, name


def test_every_benchmark_script_has_a_smoke_test():
    scripts = [
        path.stem
        for path in (ROOT / "benchmarks").glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    ]
    assert "inference" in scripts, scripts
    tested = [name for name in globals() if name.startswith("test_")]
    for script in scripts:
        assert any(name.startswith(f"test_{script}_smoke_") for name in tested), script


def test_inference_runs_each_model_in_its_own_geometries_at_its_own_width():
    from benchmarks import inference

    args = inference.parse_args(
        ["--models", "fcn8s", "deeplab-aspp", "dilation8-large", "--sizes", "64", "--modes"]
    )
    assert args.fc_units is None and args.geometries == ["original", "aligned"]
    rows = {(row[0], row[1]) for row in inference.configs(args)}
    assert rows == {
        ("fcn8s", "original"),
        ("fcn8s", "aligned"),
        ("deeplab-aspp", "original"),
        ("dilation8-large", "original"),
    }
    with pytest.raises(SystemExit):
        inference.parse_args(["--models", "deeplab-aspp", "--geometries", "aligned"])


@pytest.mark.parametrize(
    "layer, expected",
    [
        ("reflect_pad", "input"),
        ("block5_conv3", "block5"),
        ("pool5a", "block5"),
        ("fc6_3", "fc6"),
        ("drop7_4", "fc7"),
        ("fc8_voc12", "head"),
        ("fc-final", "head"),
        ("ct_conv4_1", "context"),
        ("ct_final", "context"),
    ],
)
def test_inference_stages_know_the_successors_layers(layer, expected):
    from benchmarks import inference

    assert inference.stage(layer) == expected


def test_inference_times_deeplab_aspp_layer_by_layer():
    from benchmarks import inference

    tables = inference.layer_tables(
        "deeplab-aspp", "original", (16, 16), 1, repeats=1, fc_units=16, ceiling_size=256
    )
    stages = [row["stage"] for row in table(tables, "stage")]
    assert stages[:2] == ["input", "block1"] and {"fc6", "fc7", "head"} <= set(stages)
    layers = [row["layer"] for row in table(tables, "layer")]
    assert {"block5_pool", "fc6_1", "fc6_4", "fc8_voc12", "fc8_interp"} <= set(layers)


def _same_size_camvid_example(example_id: str) -> tuple[np.ndarray, np.ndarray]:
    """`camvid_example_arrays` cut to one size (18×24), as real CamVid images share theirs."""
    from keras_fcn.data.testing import camvid_example_arrays

    image, mask = camvid_example_arrays(example_id)
    return image[:18, :24], mask[:18, :24]


CAMVID_IDS = {
    "train": ["0001TP_006690", "0001TP_006720", "0006R0_f02400", "0016E5_00390"],
    "val": ["0016E5_07959", "0016E5_07961"],
    "test": ["Seq05VD_f00000"],
}


@pytest.fixture(scope="module")
def packed_camvid(tmp_path_factory):
    """A generated CamVid tree packed by `python -m benchmarks.camvid --pack`, as a user runs
    it; returns the tree and the packed file."""
    from keras_fcn.data.testing import write_camvid_tree

    directory = tmp_path_factory.mktemp("packed_camvid")
    tree = write_camvid_tree(directory / "CamVid", CAMVID_IDS, _same_size_camvid_example)
    path = directory / "camvid.npz"
    arguments = ["-m", "benchmarks.camvid", "--root", str(tree.root), "--scale", "1.0"]
    completed = backend_processes.run_python([*arguments, "--pack", str(path)], "tensorflow")
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert f"Wrote {path}: train 4, val 2, test 1 images of (18, 24)." in completed.stdout
    return tree, path


def test_camvid_pack_holds_every_split_as_written_and_the_training_class_weights(
    packed_camvid,
):
    from benchmarks.camvid_arrays import PackedSplits

    tree, path = packed_camvid
    packed = PackedSplits.load(str(path))
    assert (packed.root, packed.scale) == (str(tree.root), 1.0)
    for split, ids in CAMVID_IDS.items():
        written = [_same_size_camvid_example(example_id) for example_id in ids]
        np.testing.assert_array_equal(packed.images[split], [image for image, _ in written])
        # Stored 11 (Unlabelled) is void.
        expected = [np.where(mask == 11, 255, mask) for _, mask in written]
        np.testing.assert_array_equal(packed.labels[split], expected)
    # Median frequency by its formula, from the written masks: freq(c) = pixels of c / pixels
    # of the images holding c; weight = median(freq) / freq(c).
    masks = np.stack([_same_size_camvid_example(i)[1] for i in CAMVID_IDS["train"]])
    pixels = np.array([(masks == c).sum() for c in range(11)])
    holding = np.array([sum(mask.size for mask in masks if (mask == c).any()) for c in range(11)])
    frequency = pixels / holding
    np.testing.assert_allclose(
        packed.class_weights["median-frequency"], np.median(frequency) / frequency, rtol=1e-6
    )
    assert sorted(packed.class_weights) == ["inverse-frequency", "median-frequency"]


def test_camvid_trains_from_its_packed_arrays_on_jax_without_tensorflow(packed_camvid, tmp_path):
    _, path = packed_camvid
    output = tmp_path / "run"
    completed = backend_processes.run_python(
        [
            "-m",
            "benchmarks.camvid",
            "--arrays",
            str(path),
            "--fc-units",
            "8",
            "--epochs",
            "2",
            "--output",
            str(output),
            "--",
            "--batch-size",
            "3",
            "--class-weights",
            "median-frequency",
        ],
        backend="jax",
        without_tensorflow=True,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    machine = {row["machine"]: row[""] for row in table(completed.stdout, "machine")}
    assert machine["backend"].startswith("jax ")
    scores = {row["split"]: row for row in table(completed.stdout, "split")}
    assert list(scores) == ["val", "test"]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["epochs"] == 2 and len(summary["val_mean_iou_per_epoch"]) == 2
    train_spec = f"camvid:{path.parent / 'CamVid'},split=train"
    assert summary["command"][:3] == ["train", "--dataset", train_spec]
    run = json.loads((output / "run.json").read_text())
    assert run["recipe"]["batch_size"] == 3 and run["recipe"]["class_weights"] == "median-frequency"
    assert len(run["class_weights"]) == 11
    # 4 training images in batches of 3: two steps an epoch.
    history = (output / "history.csv").read_text().splitlines()
    assert len(history) == 3
    assert (output / "best.keras").is_file() and (output / "prediction.png").is_file()
    assert not (output / "logs").exists()  # TensorBoard's logs need TensorFlow


def test_camvid_from_arrays_refuses_a_recipe_that_crops_or_augments(packed_camvid):
    from benchmarks.camvid_arrays import PackedSplits, train_from_arrays

    _, path = packed_camvid
    command = ["train", "--dataset", "x", "--num-classes", "11", "--model", "fcn8s"]
    for extra in (["--crop-size", "16"], ["--recipe-option", "augment=true"]):
        with pytest.raises(ValueError, match="whole images without augmentation"):
            train_from_arrays([*command, *extra], PackedSplits.load(str(path)))


def test_array_batches_give_every_image_once_an_epoch_in_a_new_seeded_order():
    from benchmarks.camvid_arrays import ArrayBatches

    images = np.arange(7, dtype=np.uint8)[:, None, None, None] * np.ones((7, 2, 3, 3), np.uint8)
    labels = np.zeros((7, 2, 3), np.uint8)

    def epoch_orders(batches, epochs=3):
        orders = []
        for _ in range(epochs):
            seen = [batch[0][:, 0, 0, 0].astype(int) for batch in (batches[i] for i in range(3))]
            orders.append(np.concatenate(seen).tolist())
            batches.on_epoch_end()
        return orders

    orders = epoch_orders(ArrayBatches(images, labels, 3, seed=5))
    assert all(sorted(order) == list(range(7)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3
    assert epoch_orders(ArrayBatches(images, labels, 3, seed=5)) == orders
    assert epoch_orders(ArrayBatches(images, labels, 3)) == [list(range(7))] * 3


def test_array_batches_weigh_each_pixel_by_its_class_and_void_by_nothing():
    from benchmarks.camvid_arrays import ArrayBatches

    labels = np.array([[[0, 1, 255], [2, 2, 1]]], np.uint8)
    weights = np.array([0.5, 2.0, 4.0], np.float32)
    images, batch_labels, sample_weights = ArrayBatches(
        np.zeros((1, 2, 3, 3), np.uint8), labels, 1, weights
    )[0]
    assert images.dtype == np.float32 and batch_labels.dtype == np.int32
    expected = np.array([[[0.5, 2.0, 0.0], [4.0, 4.0, 2.0]]], np.float32)
    np.testing.assert_array_equal(sample_weights, expected)


def test_accelerator_rows_take_each_models_own_sizes_and_training_geometry():
    from benchmarks import accelerator
    from keras_fcn import registry

    # Without --sizes and --train-geometries (the script's defaults off --smoke).
    for name, entry in registry.MODELS.items():
        for geometry in entry.geometries:
            height, width = accelerator.input_size(name, geometry, None)
            images, labels = accelerator.random_batch(2, (height, width), 3)
            assert images.shape == (2, height, width, 3) and labels.shape == (2, height, width)
    pairs = accelerator.training_pairs(list(registry.MODELS), None)
    assert [name for name, _ in pairs] == list(registry.MODELS)
    for name, geometry in pairs:
        entry = registry.get(name)
        expected = "aligned" if "aligned" in entry.geometries else entry.geometries[0]
        assert geometry == expected, name
    assert accelerator.input_size("fcn8s", "original", 64) == (64, 64)
    assert accelerator.training_pairs(["dilation8", "fcn8s"], ["aligned"]) == [("fcn8s", "aligned")]


def test_a_file_that_is_not_a_packed_camvid_is_refused_by_name(tmp_path):
    from benchmarks.camvid_arrays import PackedSplits

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not a zip archive")
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    partial = tmp_path / "partial.npz"
    np.savez(partial, images_train=np.zeros((1, 2, 2, 3)))
    cases = ((garbage, "not a packed CamVid"), (single, "one array"), (partial, "lacks"))
    for path, reason in cases:
        with pytest.raises(ValueError, match=reason) as raised:
            PackedSplits.load(str(path))
        assert str(path) in str(raised.value)


def test_smoke_shrinks_the_shared_flags_a_script_has_and_the_own_ones_it_names():
    from benchmarks import arguments, smoke

    parser = arguments.script_parser("Times a model.\n\nAt length.")
    assert parser.description == "Times a model."
    arguments.add_models(parser, ["fcn16s", "fcn8s"], "to time")
    arguments.add_repeats(parser, 5)
    arguments.add_smoke(parser, "one model")
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args([])
    assert (args.models, args.repeats, args.smoke) == (["fcn16s", "fcn8s"], 5, False)
    args = parser.parse_args(["--smoke", "--repeats", "9"])
    smoke.shrink(args, images=smoke.IMAGES, repeats=3)
    assert args.models == [smoke.MODEL] and args.images == smoke.IMAGES
    assert args.repeats == 3  # the script's own value wins over the shared one
    assert not hasattr(args, "fc_units")  # a shared flag the script lacks stays out


def test_rows_printed_as_they_come_make_the_same_table_as_markdown_table(capsys):
    from benchmarks.tables import markdown_table, print_headers, print_row

    rows = [["fcn8s", 1, "0.25"], ["fcn32s", 4, "1.50"]]
    print_headers(["model", "batch", "best (s)"])
    for row in rows:
        print_row(row)
    printed = capsys.readouterr().out
    assert printed == markdown_table(["model", "batch", "best (s)"], rows) + "\n"
    assert table(printed, "model")[1] == {"model": "fcn32s", "batch": "4", "best (s)": "1.50"}


def test_the_better_ceiling_keeps_the_higher_rate_of_each_clock():
    from benchmarks.machine import Ceiling

    assert Ceiling(wall=10.0, cpu=3.0).better(Ceiling(wall=8.0, cpu=4.0)) == Ceiling(10.0, 4.0)


def test_a_fresh_process_runs_the_function_and_returns_its_result():
    from benchmarks.machine import run_in_fresh_process

    assert run_in_fresh_process(os.getpid) != os.getpid()
    assert run_in_fresh_process(divmod, 17, 5) == (3, 2)


def test_resnet_layers_smoke_times_every_convolution_kind_and_the_whole_net():
    import keras

    from keras_fcn import registry

    rows = table(run_smoke("resnet_layers"), "convolution")
    kinds, (total, whole, outside) = rows[:-3], rows[-3:]
    assert [total["convolution"], whole["convolution"], outside["convolution"]] == [
        "sum over the convolutions",
        "whole net",
        "outside the convolutions",
    ]
    # torchvision's FCN-ResNet50 without its aux head: 53 in the backbone, 2 in the FCN head.
    model = registry.build("torchvision-fcn-resnet50", 21, weights=None)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convolutions) == 55
    assert sum(int(row["layers"]) for row in kinds) == int(total["layers"]) == 55
    assert len({(row["convolution"], row["map"]) for row in kinds}) == len(kinds)
    assert any(row["convolution"].startswith("TapSumConv2D 3×3, 2,048 → 512") for row in kinds)
    assert any(row["convolution"].startswith("DilatedConv2D 3×3, rate 2") for row in kinds)
    assert any(row["convolution"].startswith("PhaseConv2D 3×3, rate 2, 256") for row in kinds)
    assert float(whole["share of float32 ceiling (CPU time)"]) > 0
