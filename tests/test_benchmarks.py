"""Every benchmark script runs end to end with `--smoke`, as a user starts it.

Each test runs `python -m benchmarks.<script> --smoke` in a fresh process from the repository
root (tiny inputs, narrow widths, one repeat: seconds, not a measurement) and reads back the
markdown table the script prints, so that a library change that breaks a benchmark fails here
rather than the next time someone measures.
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_smoke(script: str) -> str:
    """Runs a benchmark module with `--smoke` from the repository root; returns its stdout."""
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    environment["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(ROOT), os.environ.get("PYTHONPATH")) if path
    )
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script}", "--smoke"],
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


def test_caffe_conversion_smoke_converts_and_loads_from_the_cache():
    output = run_smoke("caffe_conversion")
    assert "Wrote" in output and "save_caffemodel" in output
    rows = {row["step"]: row for row in table(output, "step")}
    assert list(rows) == [
        "from_preset, converting",
        "build the architecture",
        "read_caffemodel",
        "load_caffemodel",
        "save the cached weights",
        "from_preset, cached",
    ]
    assert all(float(row["wall (s)"]) > 0 for row in rows.values())
    # Reading holds the file's weights once: about one file size more, not several.
    assert 0.5 < float(rows["read_caffemodel"]["× file size"]) < 3


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
