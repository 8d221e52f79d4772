"""Inference speed of the registry's models at full width, and where a forward pass's time goes.

Two kinds of tables:

1. One row per configuration: every selected model (FCN-32s/16s/8s by default) × geometry ×
   size × batch run in `tf.function`, and FCN-8s at each geometry's native size (the
   registry's `native_size`: `original` 500×500, `aligned` 512×512) in every execution mode:
   eager `model(x)`, `model.predict`, `tf.function` and `tf.function(jit_compile=True)` (XLA),
   at the `--mode-batches`. A model runs in the selected geometries it has.
2. Per layer (`--layers`): every layer of each `--layer-models` model (FCN-8s by default) timed
   alone on its real input at its native size, summed by stage, next to the whole model in
   `tf.function` and with XLA.

Every row times its call after one warm-up call ("first call", tracing and compilation
included) and keeps the best and the median of `--repeats` calls. A float32 4096² `tf.matmul`
ceiling is measured just before and just after each row (the better one is kept), and the
achieved GFLOP/s (FLOPs counted from the model's convolutions, `flops.conv_flops`) are
reported as a fraction of it, by wall clock and by CPU time (steadier when other processes share
the machine; see `machine.Timing`). The models are built by `keras_fcn.registry` with
`weights=None` (random weights; nothing is downloaded) and fc6/fc7 of their papers' width (4096
for FCN and Dilation, 1024 for DeepLab; `--fc-units` sets one for all).

Usage, from the repository root:

    python -m benchmarks.inference            # full run, several minutes
    python -m benchmarks.inference --quick    # FCN-8s, batch 1, native sizes, about a minute
    python -m benchmarks.inference --smoke    # seconds: checks that the script runs
    python -m benchmarks.inference --models fcn8s --geometries aligned --sizes 512 --batches 1 \\
        --modes function xla --layers
    python -m benchmarks.inference --models deeplab-largefov dilation8 --sizes 500 --batches 1 \\
        --modes --layers --layer-models deeplab-largefov dilation8
"""

import argparse
import itertools

import keras
import numpy as np
import tensorflow as tf

from benchmarks import arguments, models, smoke
from benchmarks.flops import conv_flops
from benchmarks.machine import (
    CEILING_SIZE,
    MEMORY_HEADERS,
    RATE_HEADERS,
    PeakMemory,
    Timing,
    machine_info,
    matmul_ceiling,
    rate_cells,
    release_memory,
    time_against_ceiling,
    time_calls,
)
from benchmarks.tables import (
    MODEL_RUN_HEADERS,
    markdown_table,
    print_header,
    print_headers,
    print_row,
)
from keras_fcn import registry

DEFAULT_MODELS = ("fcn32s", "fcn16s", "fcn8s")
"""The nets of the paper's table, timed by default; the at-once FCN-8s costs what FCN-8s does."""
MODE_MODEL = "fcn8s"
"""The model the execution modes are timed on, and the default of the per-layer tables."""
MODES = ("eager", "predict", "function", "xla")


def make_call(model: keras.Model, mode: str):
    """The inference call of one execution mode, taking a float32 batch of images."""

    def forward(images):
        return model(images, training=False)

    if mode == "eager":
        return forward
    if mode == "predict":
        return lambda images: model.predict(images, batch_size=images.shape[0], verbose=0)
    if mode == "function":
        return tf.function(forward)
    if mode == "xla":
        return tf.function(forward, jit_compile=True)
    raise ValueError(f"Unknown mode {mode!r}; expected one of {MODES}.")


def random_images(batch: int, size: tuple[int, int]) -> tf.Tensor:
    """A seeded float32 batch of RGB images with values in [0, 255)."""
    generator = np.random.default_rng(0)
    return tf.constant(generator.uniform(0, 255, (batch, *size, 3)).astype("float32"))


def as_numpy(result) -> np.ndarray:
    """Blocks until `result` is computed (tensor or array) and returns it as an array."""
    return result if isinstance(result, np.ndarray) else result.numpy()


def time_row(
    model, model_name, geometry, size, batch, mode, repeats, ceiling_size=CEILING_SIZE
) -> list:
    """Times one configuration after measuring the matmul ceiling; returns a table row."""
    images = random_images(batch, size)
    inputs = images.numpy() if mode == "predict" else images
    call = make_call(model, mode)
    flops = sum(layer.flops for layer in conv_flops(model, images.shape))
    memory = PeakMemory()
    timing, ceiling = time_against_ceiling(
        lambda: as_numpy(call(inputs)), repeats, memory=memory, ceiling_size=ceiling_size
    )
    return [
        model_name,
        geometry,
        f"{size[0]}×{size[1]}",
        batch,
        mode,
        f"{flops / batch / 1e9:.1f}",
        f"{timing.first:.2f}",
        f"{timing.best:.2f}",
        f"{timing.median:.2f}",
        f"{batch / timing.best:.2f}",
        *rate_cells(flops, timing, ceiling),
        f"{timing.utilisation:.2f}",
        *memory.cells(),
    ]


ROW_HEADERS = [
    *MODEL_RUN_HEADERS,
    "GFLOP/image",
    "first call (s)",
    "best (s)",
    "median (s)",
    "images/s",
    *RATE_HEADERS,
    "core use",
    *MEMORY_HEADERS,
]


def run_rows(configs, args: argparse.Namespace) -> list[list]:
    """Times each `(model, geometry, size, batch, mode)`, building each model once."""
    rows = []
    for (model_name, geometry), group in itertools.groupby(configs, key=lambda c: c[:2]):
        model = models.build(model_name, geometry, args.fc_units)
        for _, _, size, batch, mode in group:
            rows.append(
                time_row(
                    model,
                    model_name,
                    geometry,
                    size,
                    batch,
                    mode,
                    args.repeats,
                    args.ceiling_size,
                )
            )
            print_row(rows[-1])
        del model
        release_memory()
    return rows


def layer_values(model: keras.Model, images: tf.Tensor) -> tuple[dict, dict]:
    """Runs the model once; returns every layer's real input and output shape, by layer name."""
    layers = model.layers[1:]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    values = {id(model.inputs[0]): images}
    for layer, value in zip(layers, probe(images, training=False), strict=True):
        values[id(layer.output)] = value
    inputs = {
        layer.name: keras.tree.map_structure(lambda tensor: values[id(tensor)], layer.input)
        for layer in layers
    }
    shapes = {layer.name: tuple(values[id(layer.output)].shape) for layer in layers}
    return inputs, shapes


def stage(layer_name: str) -> str:
    """The stage a layer belongs to: input, block1 … block5, fc6, fc7, context, or head.

    DeepLab's pool5a belongs to block5; ASPP's branches (`fc6_1`, `drop7_4`, ...) to fc6 and
    fc7; the Dilation context module's layers (`ct_*`) to context.
    """
    if layer_name.startswith("block"):
        return layer_name.split("_")[0]
    if layer_name.startswith("pool5a"):
        return "block5"
    for prefix in ("fc6", "drop6", "fc7", "drop7"):
        if layer_name == prefix or layer_name.startswith(prefix + "_"):
            return "fc" + prefix[-1]
    if layer_name.startswith("ct_"):
        return "context"
    if layer_name in ("preprocessing", "pad100", "pad_to_stride", "reflect_pad"):
        return "input"
    return "head"


def summed(timings: list[Timing]) -> Timing:
    """The best times of several timings added up, as one `Timing` of the whole."""
    return Timing(
        first=sum(timing.first for timing in timings),
        seconds=[sum(timing.best for timing in timings)],
        cpu_seconds=[sum(timing.cpu_best for timing in timings)],
    )


def layer_tables(
    model_name: str,
    geometry: str,
    size: tuple[int, int],
    batch: int,
    repeats: int,
    fc_units: int | None = None,
    ceiling_size: int = CEILING_SIZE,
) -> str:
    """Times every layer of a model alone in its own `tf.function`; returns markdown tables.

    Each layer runs on the input it receives in the model. A first table sums the layers by
    stage (input, VGG blocks, fc6, fc7, a context module, the scoring and upsampling head) and
    compares the sum with the whole model in `tf.function` and with XLA, timed in the same run;
    a second one lists every layer.
    """
    model = models.build(model_name, geometry, fc_units)
    images = random_images(batch, size)
    flops = {layer.name: layer.flops for layer in conv_flops(model, images.shape)}
    inputs, shapes = layer_values(model, images)
    before = matmul_ceiling(ceiling_size)
    times = {}
    for layer in model.layers[1:]:
        call = tf.function(lambda value, layer=layer: layer(value, training=False))
        value = inputs[layer.name]
        times[layer.name] = time_calls(lambda call=call, value=value: call(value).numpy(), repeats)
    del inputs
    whole = {}
    for mode in ("function", "xla"):
        call = make_call(model, mode)
        whole[mode] = time_calls(lambda call=call: call(images).numpy(), repeats)
    ceiling = before.better(matmul_ceiling(ceiling_size))
    del model
    release_memory()

    total = summed(list(times.values()))
    rows, stages = [], {}
    for name, timing in times.items():
        layer_flops = flops.get(name, 0)
        rows.append(
            [
                name,
                "×".join(str(dim) for dim in shapes[name][1:]),
                f"{layer_flops / 1e9:.2f}",
                f"{timing.best * 1e3:.1f}",
                f"{100 * timing.best / total.best:.1f}",
                *(rate_cells(layer_flops, timing, ceiling) if layer_flops else [""] * 4),
            ]
        )
        stages.setdefault(stage(name), []).append(name)
    stage_rows = []
    for name, members in [*stages.items(), ("sum of layers", list(times))]:
        stage_flops = sum(flops.get(member, 0) for member in members)
        timing = summed([times[member] for member in members])
        stage_rows.append(
            [
                name,
                f"{stage_flops / 1e9:.1f}",
                f"{timing.best * 1e3:.0f}",
                f"{100 * timing.best / total.best:.1f}",
                *(rate_cells(stage_flops, timing, ceiling) if stage_flops else [""] * 4),
            ]
        )
    total_flops = sum(flops.values())
    for mode, timing in whole.items():
        stage_rows.append(
            [
                f"whole model, {mode}",
                f"{total_flops / 1e9:.1f}",
                f"{timing.best * 1e3:.0f}",
                f"{100 * timing.best / total.best:.0f}",
                *rate_cells(total_flops, timing, ceiling),
            ]
        )
    title = (
        f"### {registry.get(model_name).title}, {geometry} geometry, {size[0]}×{size[1]}, batch "
        f"{batch}, per layer\n\n"
        f"Each layer alone in a `tf.function` on its real input, best of {repeats} calls "
        f"after a warm-up; share = part of the sum over layers.\n\n"
    )
    stage_headers = ["stage", "GFLOP", "best (ms)", "share (%)", *RATE_HEADERS]
    layer_headers = ["layer", "output", "GFLOP", "best (ms)", "share (%)", *RATE_HEADERS]
    return (
        title
        + markdown_table(stage_headers, stage_rows)
        + "\n\n"
        + markdown_table(layer_headers, rows)
    )


def parse_sizes(values: list[str]) -> list[str]:
    """Checks `--sizes`: positive integers or `native`."""
    for value in values:
        if value != "native" and not (value.isdigit() and int(value) > 0):
            raise argparse.ArgumentTypeError(
                f"--sizes takes positive integers or 'native', received {value!r}."
            )
    return values


def native_size(args: argparse.Namespace, model_name: str, geometry: str) -> tuple[int, int]:
    """The `(height, width)` a model runs at in a geometry: the registry's native size (tiny for
    `--smoke`)."""
    if args.smoke:
        return smoke.SIZE, smoke.SIZE
    return models.native_size(model_name, geometry)


def configs(args: argparse.Namespace) -> list[tuple]:
    """The rows to time: the model grid in `tf.function`, then the modes on FCN-8s.

    Rows are ordered by model and geometry, so that each model is built once.
    """
    rows = set()
    for (model_name, geometry), size, batch in itertools.product(
        models.own_geometries(args.models, args.geometries), args.sizes, args.batches
    ):
        if size == "native":
            size = native_size(args, model_name, geometry)
        else:
            size = int(size), int(size)
        rows.add((model_name, geometry, size, batch, "function"))
    for geometry, batch, mode in itertools.product(args.geometries, args.mode_batches, args.modes):
        rows.add((MODE_MODEL, geometry, native_size(args, MODE_MODEL, geometry), batch, mode))
    model_order = {name: index for index, name in enumerate(registry.MODELS)}
    geometry_order = {name: index for index, name in enumerate(models.GEOMETRIES)}
    mode_order = {name: index for index, name in enumerate(MODES)}
    return sorted(
        rows,
        key=lambda r: (model_order[r[0]], geometry_order[r[1]], r[2], r[3], mode_order[r[4]]),
    )


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_models(parser, DEFAULT_MODELS, "to time")
    arguments.add_geometries(parser)
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["500", "512"],
        help="square input sizes of the model grid; 'native' is the registry's native size of "
        "the geometry (500 original, 512 aligned)",
    )
    arguments.add_batches(parser, [1, 4], "batch sizes")
    arguments.add_subset(
        parser,
        "--modes",
        MODES,
        "execution modes compared on FCN-8s at each geometry's native size",
        nargs="*",
    )
    arguments.add_batches(
        parser, [1], "batch sizes at which the execution modes are compared", flag="--mode-batches"
    )
    arguments.add_repeats(parser, 2)
    arguments.add_fc_units(
        parser,
        None,
        "width of fc6 and fc7 (default: each model's paper's, 4096 for FCN and Dilation, 1024 "
        "for DeepLab)",
    )
    arguments.add_ceiling_size(parser)
    parser.add_argument(
        "--layers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time the --layer-models layer by layer (default: on, off with --quick)",
    )
    parser.add_argument(
        "--layer-models",
        nargs="+",
        choices=list(registry.MODELS),
        default=[MODE_MODEL],
        help=f"models timed layer by layer at their native sizes (default: {MODE_MODEL})",
    )
    arguments.add_quick(parser, "FCN-8s, batch 1, native sizes, no per-layer table")
    arguments.add_smoke(parser, f"{smoke.SUMMARY}, every mode and the per-layer table")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.sizes, args.batches = [MODE_MODEL], ["native"], [1]
    if args.smoke:
        smoke.shrink(args, layer_models=[smoke.MODEL], sizes=["native"], mode_batches=[smoke.BATCH])
    if args.layers is None:
        args.layers = not args.quick
    if args.geometries is None:
        # Every geometry of the selected models; each model runs in those it has.
        args.geometries = models.geometries_of(args.models)
    else:
        models.check_geometries(parser, args.models, args.geometries)
    if args.modes:
        models.check_geometries(parser, [MODE_MODEL], args.geometries)
    parse_sizes(args.sizes)
    return args


def main(args: argparse.Namespace) -> None:
    print_header("FCN inference", machine_info(), args.smoke)
    width = "their papers' width" if args.fc_units is None else f"{args.fc_units} units"
    print(
        f'Every row: one warm-up call ("first call"), then the best and the median of '
        f"{args.repeats} calls. GFLOP counts 2 × the multiply-accumulates of every convolution; "
        f"the {args.ceiling_size}² float32 matmul ceiling is measured just before and just "
        f"after each row, and the better of the two kept. Models have random weights and "
        f"fc6/fc7 of {width}; inputs are float32. Memory columns are peaks above "
        f"the state before the row (the model's weights excluded).\n"
    )
    print_headers(ROW_HEADERS)
    run_rows(configs(args), args)
    if args.layers:
        for model_name, geometry in models.own_geometries(args.layer_models, args.geometries):
            size = native_size(args, model_name, geometry)
            tables = layer_tables(
                model_name, geometry, size, 1, args.repeats, args.fc_units, args.ceiling_size
            )
            print()
            print(tables, flush=True)


if __name__ == "__main__":
    main(parse_args())
