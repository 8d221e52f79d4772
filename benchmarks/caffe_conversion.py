"""Converting a released `.caffemodel`: time and memory of `keras_fcn.from_preset` on voc-fcn8s.

Nothing is downloaded: the script first writes a `.caffemodel` of the released voc-fcn8s's
shapes (134,489,759 float32 parameters, 538 MB, like `fcn8s-heavy-pascal.caffemodel`) with
random weights (`keras_fcn.weights.save_caffemodel`). It then measures each step in a fresh
process of its own (`--step`), so that memory one step freed does not hide the next one's:

- `from_preset, converting`: `from_preset("voc-fcn8s", caffemodel=FILE)` with an empty cache:
  build the architecture, SHA1 of the file, read it and load it (`load_caffemodel`), write the
  cached Keras weights;
- `build the architecture`, `read_caffemodel`, `load_caffemodel`, `save the cached weights`:
  those parts alone (`load_caffemodel` into a model already built);
- `from_preset, cached`: the same call once the cache exists (build, SHA1, load the cached
  weights): what every later call costs.

Each row gives wall and CPU seconds (process CPU time; on a shared machine the wall clock grows
whenever another process takes a core, the CPU time much less) and the peak resident set size
above the process's right after `import keras_fcn` (the kernel's high-water mark `VmHWM`): the
converted model's own 538 MB of weights count, as the result of the conversion. The last column
divides that peak by the file's size.

Usage, from the repository root:

    python -m benchmarks.caffe_conversion            # the full voc-fcn8s file, a few minutes
    python -m benchmarks.caffe_conversion --smoke    # seconds: checks that the script runs
    taskset -c 0,1 python -m benchmarks.caffe_conversion  # on 2 cores of a larger machine
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import arguments, smoke
from benchmarks.machine import MIB, machine_info, process_rss
from benchmarks.tables import markdown_table, print_header

PRESET = "voc-fcn8s"
"""The preset converted: FCN-8s PASCAL, the largest file of the release."""

STEPS = (
    "from_preset, converting",
    "build the architecture",
    "read_caffemodel",
    "load_caffemodel",
    "save the cached weights",
    "from_preset, cached",
)


def run_step(step: str, caffemodel: str, keras_home: str, fc_units: int) -> dict:
    """Runs one step in this process; returns its wall and CPU seconds and peak RSS increase."""
    os.environ["KERAS_HOME"] = keras_home
    os.makedirs(keras_home, exist_ok=True)
    from benchmarks.machine import _proc_status_bytes, _reset_peak_rss
    from keras_fcn import weights
    from keras_fcn.presets import from_preset, get_preset

    options = {} if fc_units == 4096 else {"fc_units": fc_units}
    preset = get_preset(PRESET)
    model = preset.build(**options) if step in STEPS[3:5] else None
    cached = os.path.join(keras_home, "step.weights.h5")
    if step == "save the cached weights":
        weights.load_caffemodel(model, caffemodel)

    actions = {
        "from_preset, converting": lambda: from_preset(PRESET, caffemodel, **options),
        "build the architecture": lambda: preset.build(**options),
        "read_caffemodel": lambda: weights.read_caffemodel(caffemodel),
        "load_caffemodel": lambda: weights.load_caffemodel(model, caffemodel),
        "save the cached weights": lambda: model.save_weights(cached),
        "from_preset, cached": lambda: from_preset(PRESET, caffemodel, **options),
    }
    baseline = process_rss()
    _reset_peak_rss()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = actions[step]()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = max(_proc_status_bytes("VmHWM") or 0, process_rss())
    del result
    return {"wall": wall, "cpu": cpu, "rss_increase": (peak - baseline) / MIB}


def measure(step: str, caffemodel: str, keras_home: str, fc_units: int) -> dict:
    """Runs `run_step` in a fresh Python process."""
    command = [sys.executable, "-m", "benchmarks.caffe_conversion", "--step", step]
    command += ["--caffemodel", caffemodel, "--keras-home", keras_home]
    command += ["--fc-units", str(fc_units)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"step {step!r} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_caffemodel(path: str, fc_units: int) -> float:
    """Writes a random `.caffemodel` of the preset's shapes; returns the seconds it took."""
    from keras_fcn.presets import get_preset
    from keras_fcn.weights import save_caffemodel

    options = {} if fc_units == 4096 else {"fc_units": fc_units}
    model = get_preset(PRESET).build(**options)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.standard_normal(variable.shape, dtype=np.float32) * 0.01)
    start = time.perf_counter()
    save_caffemodel(model, path)
    return time.perf_counter() - start


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_fc_units(
        parser, 4096, "width of fc6 and fc7 of the file written (default: 4096, the released net's)"
    )
    arguments.add_smoke(parser, f"fc6/fc7 of {smoke.FC_UNITS} units", duration="in under a minute")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--caffemodel", help=argparse.SUPPRESS)
    parser.add_argument("--keras-home", help=argparse.SUPPRESS)
    return smoke.parse_args(parser, argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.step:
        print(json.dumps(run_step(args.step, args.caffemodel, args.keras_home, args.fc_units)))
        return
    if args.smoke:
        print(smoke.NOTE)
    print_header(f"Converting {PRESET}'s .caffemodel (fc6/fc7 of {args.fc_units})", machine_info())
    with tempfile.TemporaryDirectory(prefix="caffe_conversion-") as directory:
        caffemodel = os.path.join(directory, f"{PRESET}.caffemodel")
        write_seconds = write_caffemodel(caffemodel, args.fc_units)
        size = os.path.getsize(caffemodel)
        print(
            f"Wrote {size / 1e6:.0f} MB of random weights with save_caffemodel in "
            f"{write_seconds:.1f} s.\n",
            flush=True,
        )
        rows = []
        for step in STEPS:
            # The cached step needs the converting step's cache; the others start empty.
            home = os.path.join(
                directory, "cache" if step in (STEPS[0], STEPS[-1]) else step.replace(" ", "_")
            )
            numbers = measure(step, caffemodel, home, args.fc_units)
            rows.append(
                [
                    step,
                    f"{numbers['wall']:.2f}",
                    f"{numbers['cpu']:.2f}",
                    f"{numbers['rss_increase']:.0f}",
                    f"{numbers['rss_increase'] * MIB / size:.2f}",
                ]
            )
            print(f"{step}: {numbers}", file=sys.stderr, flush=True)
    headers = ["step", "wall (s)", "CPU (s)", "RSS peak increase (MiB)", "× file size"]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
