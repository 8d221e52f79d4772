"""Helpers shared by the benchmark scripts: the machine, its matmul ceiling, timing, memory.

Timings on a shared machine are noisy, so every script reports a time as the best (and the
median) of several repeats, next to a float32 matrix-product ceiling measured in the same run
just before and after, and the fraction of that ceiling the model reaches. FLOPs are counted from
the model itself (`benchmarks.flops`), never hard-coded. TensorFlow is imported by the functions
that use it only (the ceiling, `machine_info`, `PeakMemory`), so that the TensorFlow-free
`benchmarks.accelerator` can share the timing helpers.

Import from a script of the package with `from benchmarks.machine import ...`; run the scripts
from the repository root as `python -m benchmarks.<script>`.
"""

import contextlib
import dataclasses
import datetime
import gc
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import keras
import numpy as np

# FLOP counting lives in benchmarks.flops; these names stay importable from here for the scripts
# that take them from machine.py.
from benchmarks.flops import LayerFlops, conv_flops, total_flops  # noqa: F401

MIB = 2**20

CEILING_SIZE = 4096
"""Side of the square float32 matrices of the matmul ceiling."""


VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16")
"""CPU flags that decide which oneDNN and Eigen kernels run."""


def cpuinfo() -> dict[str, str]:
    """The first processor's fields in `/proc/cpuinfo` (empty where the file does not exist)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags() -> set[str]:
    """The CPU's feature flags (`avx512f`, `avx512_bf16`, ...) from `/proc/cpuinfo`."""
    return set(cpuinfo().get("flags", "").split())


def cpu_model() -> str:
    """The CPU's model name, family/model and vector flags from `/proc/cpuinfo`.

    Falls back to `platform.processor()` where `/proc/cpuinfo` does not exist.
    """
    fields = cpuinfo()
    if not fields:
        return platform.processor() or "unknown"
    flags = [flag for flag in VECTOR_FLAGS if flag in cpu_flags()]
    return (
        f"{fields.get('model name', 'unknown')} (family {fields.get('cpu family', '?')}, "
        f"model {fields.get('model', '?')}; {' '.join(flags) or 'no AVX2'})"
    )


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else `os.cpu_count()`."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def accelerators() -> list[str]:
    """Names of the GPUs TensorFlow sees (empty on a CPU-only machine)."""
    import tensorflow as tf

    names = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        names.append(details.get("device_name", device.name))
    return names


def machine_info() -> dict[str, str]:
    """Describes the machine and libraries a benchmark ran on.

    Returns:
        An ordered `{field: value}` dict: date, CPU model, cores, memory, load average at the
        start, accelerators, and the Python, TensorFlow, Keras and numpy versions.
    """
    import tensorflow as tf

    try:
        memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = "unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 Linux)")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": f"{usable_cores()} usable of {os.cpu_count()}",
        "memory": memory,
        "load average (1, 5, 15 min) at start": ", ".join(f"{value:.2f}" for value in load),
        "accelerators": ", ".join(accelerators()) or "none (CPU only)",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "TF_ENABLE_ONEDNN_OPTS": onednn,
        "command": " ".join([program(), *sys.argv[1:]]),
    }


def program() -> str:
    """How this process was started: `python -m benchmarks.<script>`, or the script's name."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None:
        return f"python -m {spec.name}"
    return os.path.basename(sys.argv[0])


@dataclasses.dataclass
class Timing:
    """Seconds of repeated calls: wall clock, and process CPU time divided by the cores.

    On a machine shared with other work, the wall clock of a call grows whenever another process
    takes a core, while the CPU time this process spends stays nearly the same. For work that
    keeps every core busy (large convolutions and matrix products), `cpu_best` is then a steadier
    estimate of the uncontended time than `best`; `utilisation` tells how busy the cores were
    during the best wall-clock call (near 1: the call had the machine to itself).
    """

    first: float
    """Wall seconds of the first warm-up call (tracing and compilation included)."""
    seconds: list[float]
    cpu_seconds: list[float]
    """Process CPU seconds of each timed call divided by the number of usable cores."""

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_best(self) -> float:
        return min(self.cpu_seconds)

    @property
    def utilisation(self) -> float:
        index = self.seconds.index(self.best)
        return self.cpu_seconds[index] / self.seconds[index]


def time_calls(function: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """Times `function()` `repeats` times after `warmup` untimed calls.

    `function` must block until its result is ready (e.g. end with `.numpy()`).

    Args:
        function: the call to time.
        repeats: number of timed calls.
        warmup: number of calls before them; the first one's time is kept as `Timing.first`.

    Returns:
        A `Timing`.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, received {repeats}.")
    first = float("nan")
    for index in range(warmup):
        start = time.perf_counter()
        function()
        if index == 0:
            first = time.perf_counter() - start
    cores = usable_cores()
    seconds, cpu_seconds = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        function()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append((time.process_time() - cpu_start) / cores)
    return Timing(first, seconds, cpu_seconds)


@dataclasses.dataclass(frozen=True)
class Ceiling:
    """Best rates of a square matrix product, in GFLOP/s: wall clock and CPU time per core."""

    wall: float
    cpu: float

    def better(self, other: "Ceiling") -> "Ceiling":
        """The higher rates of two measurements, wall clock and CPU time each on its own."""
        return Ceiling(max(self.wall, other.wall), max(self.cpu, other.cpu))


def matmul_ceiling(size: int = CEILING_SIZE, repeats: int = 5, dtype: str = "float32") -> Ceiling:
    """Measures the best rate of a `size`² matrix product in a `tf.function`, in GFLOP/s.

    This is the practical ceiling a dense model can hope to reach on the machine at this moment:
    measure it in the same run, just before the model, and report the model's fraction of it.

    Args:
        size: side of the square matrices.
        repeats: timed products after one warm-up; the best is kept.
        dtype: the matrices' dtype.

    Returns:
        A `Ceiling`: `2·size³ / 1e9` over the best wall-clock seconds, and over the best CPU
        seconds per core (see `Timing`).
    """
    import tensorflow as tf

    a = tf.random.normal([size, size], dtype=dtype)
    b = tf.random.normal([size, size], dtype=dtype)
    product = tf.function(lambda a, b: tf.matmul(a, b)[0, 0])
    timing = time_calls(lambda: product(a, b).numpy(), repeats)
    return Ceiling(2 * size**3 / timing.best / 1e9, 2 * size**3 / timing.cpu_best / 1e9)


def time_against_ceiling(
    function: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    memory: "PeakMemory | None" = None,
    ceiling_size: int = CEILING_SIZE,
) -> tuple[Timing, Ceiling]:
    """Times `function` (see `time_calls`) between two measurements of the matmul ceiling.

    The ceiling kept is the better of the two, so that a burst of other work on the machine
    while one of them ran does not lower it; use it with the CPU-time fraction of `rate_cells`.

    Args:
        function: the call to time; must block until its result is ready.
        repeats: number of timed calls.
        warmup: number of untimed calls before them.
        memory: a `PeakMemory` entered around the calls only (not the ceiling's matrices).
        ceiling_size: side of the ceiling's matrices (see `matmul_ceiling`).

    Returns:
        The `Timing` of `function` and the `Ceiling`.
    """
    before = matmul_ceiling(ceiling_size)
    with memory or contextlib.nullcontext():
        timing = time_calls(function, repeats, warmup)
    return timing, before.better(matmul_ceiling(ceiling_size))


RATE_HEADERS = ["GFLOP/s", "ceiling (GFLOP/s)", "fraction", "fraction, CPU time"]
"""Column names of `rate_cells`."""


def rate_cells(flops: float, timing: Timing, ceiling: Ceiling) -> list[str]:
    """Achieved GFLOP/s, the ceiling, and the fraction of it by wall clock and by CPU time.

    The wall-clock fraction compares the best wall-clock call with the best wall-clock matmul;
    the CPU-time fraction does the same with CPU seconds per core, which other processes on the
    machine disturb far less (see `Timing`).
    """
    rate = flops / timing.best / 1e9
    cpu_rate = flops / timing.cpu_best / 1e9
    return [
        f"{rate:.0f}",
        f"{ceiling.wall:.0f}",
        f"{rate / ceiling.wall:.2f}",
        f"{cpu_rate / ceiling.cpu:.2f}",
    ]


def _proc_status_bytes(field: str) -> int | None:
    """A memory field of `/proc/self/status` (`VmRSS`, `VmHWM`) in bytes, None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Resets the kernel's peak resident set size (`VmHWM`) to the current one (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _proc_status_bytes("VmHWM") is not None


def process_rss() -> int:
    """Resident set size of this process in bytes (Linux `/proc`, else psutil, else 0)."""
    rss = _proc_status_bytes("VmRSS")
    if rss is not None:
        return rss
    try:
        import psutil
    except ImportError:
        return 0
    return psutil.Process().memory_info().rss


MEMORY_HEADERS = ["TF peak increase (MiB)", "RSS peak increase (MiB)"]
"""Column names of `PeakMemory.cells`."""


class PeakMemory:
    """Context manager that records peak memory while its body runs.

    Both views are increases over the state at entry, so that tensors already alive (a model's
    weights) do not count:

    - the process's peak resident set size: on Linux the kernel's own high-water mark
      (`VmHWM`, reset on entry through `/proc/self/clear_refs`), exact and free; elsewhere a
      thread samples the resident set size every `interval` seconds. It sees oneDNN and XLA
      buffers too, but not memory that the allocator kept from earlier work and reuses.
    - the peak of TensorFlow's own allocator on the device
      (`tf.config.experimental.get_memory_info`, reset on entry) above what it held at entry.

    A sampling thread that wakes every few milliseconds slows `model.predict` down several
    fold (it competes for the GIL with Keras' Python loop), hence the kernel's counter first.

    Example:

    >>> with PeakMemory() as memory:
    ...     _ = tf.zeros([1024, 1024]) + 1
    >>> memory.tf_increase_mib >= 4
    True
    """

    def __init__(self, interval: float = 0.02, device: str | None = None):
        import tensorflow as tf

        self.interval = interval
        self.device = device or ("GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0")
        self.baseline = self.peak = self.tf_baseline = self.tf_peak = 0
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, process_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        import tensorflow as tf

        self.baseline = self.peak = process_rss()
        if not _reset_peak_rss():
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        try:
            tf.config.experimental.reset_memory_stats(self.device)
            self.tf_baseline = tf.config.experimental.get_memory_info(self.device)["current"]
        except (ValueError, RuntimeError):
            self.device = None
        return self

    def __exit__(self, *exc_info):
        if self._thread is None:
            self.peak = max(self.peak, _proc_status_bytes("VmHWM") or 0)
        else:
            self._stop.set()
            self._thread.join()
        self.peak = max(self.peak, process_rss())
        if self.device is not None:
            import tensorflow as tf

            self.tf_peak = tf.config.experimental.get_memory_info(self.device)["peak"]

    @property
    def rss_increase_mib(self) -> float:
        """Peak resident set size above the one at entry, in MiB."""
        return (self.peak - self.baseline) / MIB

    @property
    def tf_increase_mib(self) -> float:
        """Peak bytes of TensorFlow's allocator on the device above those at entry, in MiB."""
        return (self.tf_peak - self.tf_baseline) / MIB

    def cells(self) -> list[str]:
        """Both increases, in whole MiB, as table cells under `MEMORY_HEADERS`."""
        return [f"{self.tf_increase_mib:.0f}", f"{self.rss_increase_mib:.0f}"]


def release_memory():
    """Drops Keras' global state and collects garbage between benchmark rows."""
    keras.backend.clear_session()
    gc.collect()


Result = TypeVar("Result")


def run_in_fresh_process(function: Callable[..., Result], *arguments) -> Result:
    """Calls `function(*arguments)` in a new (spawned) process and returns what it returns.

    Memory one measurement keeps (XLA holds gigabytes) then neither adds up across rows nor
    shows in the next row's peaks. `function`, its arguments and its result must pickle.
    """
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as worker:
        return worker.submit(function, *arguments).result()
