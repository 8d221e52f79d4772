"""Serving speed: the exported SavedModel against the in-process model, on the same images.

For FCN-8s (`--model`, any model of `keras_fcn.registry`) at full width (random weights) in
each geometry at its native size (the registry's `native_size`), the script exports the model
with `keras_fcn.export_for_serving`, loads the SavedModel back with `tf.saved_model.load`
(TensorFlow alone, as TF Serving does) and times, on the same images:

- `model, tf.function`: the Keras model called in a `tf.function` on float32 images (logits
  out), as in `inference.py`: the reference;
- `in process, serve_images`: the serving computation traced in this process, not saved (uint8
  in; class ids and probabilities out);
- `SavedModel, serve_images`: the same signature loaded from disk;
- `SavedModel, serving_default`: JPEG bytes in (decoding included), class ids and probabilities
  out, what TF Serving runs for a REST request;
- `SavedModel, serve_class_ids`: JPEG bytes in, class ids only out;
- `load_predictor`: `keras_fcn.export.load_predictor` on the SavedModel (numpy in, class ids
  out), what `keras-fcn predict` uses.

Every call converts its outputs to numpy. A second table gives what a REST response costs to
encode: TF Serving writes every output of the signature as JSON, so the float32 probabilities
(`H·W·num_classes` numbers) dwarf the class ids. It is encoded here with Python's `json`
module, which is slower than TF Serving's C++ encoder; the sizes are of the same order.

Usage, from the repository root:

    python -m benchmarks.serving            # both geometries, batch 1 and 4, about 5 minutes
    python -m benchmarks.serving --quick    # aligned 512×512, batch 1
    python -m benchmarks.serving --smoke    # seconds: checks that the script runs
"""

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from benchmarks import arguments, models, smoke
from benchmarks.flops import conv_flops
from benchmarks.machine import (
    RATE_HEADERS,
    PeakMemory,
    machine_info,
    rate_cells,
    release_memory,
    time_against_ceiling,
)
from benchmarks.tables import markdown_table, print_header, print_headers, print_row
from keras_fcn import registry
from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export import (
    BYTES_INPUT,
    BYTES_SIGNATURE,
    CLASS_IDS_OUTPUT,
    CLASS_IDS_SIGNATURE,
    IMAGES_INPUT,
    IMAGES_SIGNATURE,
    PROBABILITIES_OUTPUT,
    export_for_serving,
    load_predictor,
)
from keras_fcn.export.saved_model import _serving_module

PATHS = (
    "model, tf.function",
    "in process, serve_images",
    f"SavedModel, {IMAGES_SIGNATURE}",
    f"SavedModel, {BYTES_SIGNATURE}",
    f"SavedModel, {CLASS_IDS_SIGNATURE}",
    "load_predictor",
)


def with_random_scores(model: keras.Model) -> keras.Model:
    """Gives the score layers seeded random kernels, as after training.

    A fresh FCN scores zero everywhere (zero-initialised score layers), so every pixel would
    get class 0 and uniform probabilities: the checks below would compare constants, and the
    JSON response would hold one repeated value.
    """
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.startswith("score") and layer.weights:
            kernel, bias = layer.get_weights()
            scale = 1 / np.sqrt(kernel.shape[2])
            layer.set_weights([rng.normal(0, scale, kernel.shape).astype("float32"), bias])
    return model


def photos(batch: int, size: int) -> np.ndarray:
    """Synthetic uint8 photos (textured shapes) that compress like real ones as JPEG."""
    return np.stack([synthetic_example(index, size, 7)[0] for index in range(batch)])


def encode_jpegs(images: np.ndarray) -> list[bytes]:
    """The images as JPEG files (quality 90), as a client would send them."""
    files = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=90)
        files.append(buffer.getvalue())
    return files


def decode_jpegs(files: list[bytes]) -> np.ndarray:
    """Decodes JPEG files with PIL, independently of the SavedModel's decoder."""
    return np.stack([np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in files])


def to_numpy(outputs) -> dict[str, np.ndarray]:
    """Every output as a numpy array, by name (blocks until computed)."""
    if isinstance(outputs, dict):
        return {name: np.asarray(value) for name, value in outputs.items()}
    return {"output": np.asarray(outputs)}


def serving_calls(
    model: keras.Model, saved_model_dir: str, images: np.ndarray
) -> tuple[dict, Callable[[np.ndarray], np.ndarray]]:
    """The call of each path in `PATHS`, each taking no argument and returning numpy arrays,
    and the SavedModel's predictor (uint8 images to class ids) for the checks."""
    floats = tf.constant(images.astype("float32"))
    uint8 = tf.constant(images)
    encoded = tf.constant(encode_jpegs(images))
    forward = tf.function(lambda x: model(x, training=False))
    in_process = _serving_module(model).serve_images
    loaded = tf.saved_model.load(saved_model_dir)
    by_images = loaded.signatures[IMAGES_SIGNATURE]
    by_bytes = loaded.signatures[BYTES_SIGNATURE]
    class_ids_only = loaded.signatures[CLASS_IDS_SIGNATURE]
    predict = load_predictor(saved_model_dir)
    calls = [
        lambda: to_numpy(forward(floats)),
        lambda: to_numpy(in_process(uint8)),
        lambda: to_numpy(by_images(**{IMAGES_INPUT: uint8})),
        lambda: to_numpy(by_bytes(**{BYTES_INPUT: encoded})),
        lambda: to_numpy(class_ids_only(**{BYTES_INPUT: encoded})),
        lambda: to_numpy(predict(images)),
    ]
    return dict(zip(PATHS, calls, strict=True)), predict


def image_size(args: argparse.Namespace, geometry: str) -> int:
    """The side of the photos: the model's native size in the geometry (tiny for `--smoke`)."""
    return smoke.SIZE if args.smoke else models.native_size(args.model, geometry)


def time_paths(
    args: argparse.Namespace, geometry: str, batch: int, workdir: str
) -> tuple[list, list]:
    """Times every path for one geometry and batch; returns the rows and the check results."""
    size = image_size(args, geometry)
    model = with_random_scores(models.build(args.model, geometry, args.fc_units))
    images = photos(batch, size)
    saved_model_dir = export_for_serving(model, f"{workdir}/{geometry}", version=batch)
    flops = sum(layer.flops for layer in conv_flops(model, images.shape))
    calls, predict = serving_calls(model, saved_model_dir, images)
    rows = []
    for path, call in calls.items():
        memory = PeakMemory()
        timing, ceiling = time_against_ceiling(
            call, args.repeats, memory=memory, ceiling_size=args.ceiling_size
        )
        rows.append(
            [
                geometry,
                f"{size}×{size}",
                batch,
                path,
                f"{timing.first:.2f}",
                f"{timing.best:.3f}",
                f"{timing.median:.3f}",
                f"{timing.cpu_best:.3f}",
                f"{batch / timing.best:.2f}",
                *rate_cells(flops, timing, ceiling),
                f"{timing.utilisation:.2f}",
                f"{memory.rss_increase_mib:.0f}",
            ]
        )
        print_row(rows[-1])
    in_process = calls["in process, serve_images"]()
    loaded = calls[f"SavedModel, {IMAGES_SIGNATURE}"]()
    ids, probabilities = CLASS_IDS_OUTPUT, PROBABILITIES_OUTPUT
    from_bytes = calls[f"SavedModel, {BYTES_SIGNATURE}"]()[ids]
    from_pixels = predict(decode_jpegs(encode_jpegs(images)))
    checks = [
        geometry,
        batch,
        f"{np.mean(in_process[ids] == loaded[ids]):.4f}",
        f"{np.max(np.abs(in_process[probabilities] - loaded[probabilities])):.1e}",
        f"{np.mean(from_bytes == from_pixels):.4f}",
    ]
    del model, calls, predict
    release_memory()
    return rows, checks


HEADERS = [
    "geometry",
    "input",
    "batch",
    "path",
    "first call (s)",
    "best (s)",
    "median (s)",
    "best, CPU time (s)",
    "images/s",
    *RATE_HEADERS,
    "core use",
    "RSS peak increase (MiB)",
]


def response_cost(args: argparse.Namespace, geometry: str, workdir: str) -> list[list]:
    """JSON size and encoding time of a one-image REST response, with and without probabilities.

    Reads the SavedModel that `time_paths` exported for batch 1 in this geometry.
    """
    images = photos(1, image_size(args, geometry))
    loaded = tf.saved_model.load(f"{workdir}/{geometry}/1")
    encoded = tf.constant(encode_jpegs(images))
    rows = []
    for signature in (BYTES_SIGNATURE, CLASS_IDS_SIGNATURE):
        outputs = loaded.signatures[signature](**{BYTES_INPUT: encoded})
        prediction = {name: value.numpy()[0].tolist() for name, value in outputs.items()}
        start = time.perf_counter()
        body = json.dumps({"predictions": [prediction]})
        encode_seconds = time.perf_counter() - start
        start = time.perf_counter()
        json.loads(body)
        decode_seconds = time.perf_counter() - start
        floats = outputs.get(PROBABILITIES_OUTPUT)
        float32_size = len(body)
        if floats is not None:
            values = floats.numpy().ravel()
            sample = np.random.default_rng(0).choice(values, 100_000)
            shorter = np.mean([len(repr(float(v))) - len(f"{v:.9g}") for v in sample])
            float32_size -= shorter * values.size
        rows.append(
            [
                geometry,
                signature,
                ", ".join(sorted(outputs)),
                f"{len(body) / 2**20:.1f}",
                f"{float32_size / 2**20:.1f}",
                f"{encode_seconds:.2f}",
                f"{decode_seconds:.2f}",
            ]
        )
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = arguments.script_parser(__doc__)
    arguments.add_model(parser, "to export and serve")
    arguments.add_geometries(
        parser, "geometries to build the model in (default: every geometry of the model)"
    )
    arguments.add_batches(
        parser, [1, 4], "batch sizes (the REST response table reads the batch-1 export, so keep 1)"
    )
    arguments.add_repeats(parser, 3)
    arguments.add_fc_units(parser)
    arguments.add_ceiling_size(parser)
    arguments.add_quick(parser, "aligned 512×512, batch 1")
    arguments.add_smoke(parser, smoke.SUMMARY)
    args = parser.parse_args(argv)
    if args.quick:
        args.geometries, args.batches = ["aligned"], [1]
    if args.smoke:
        smoke.shrink(args)
    args.geometries = args.geometries or list(registry.get(args.model).geometries)
    models.check_geometries(parser, [args.model], args.geometries)
    return args


def main(args: argparse.Namespace) -> None:
    print_header("FCN serving", machine_info(), args.smoke)
    sizes = ", ".join(
        f"{geometry} {image_size(args, geometry)}×{image_size(args, geometry)}"
        for geometry in args.geometries
    )
    print(
        f"{registry.get(args.model).title}, fc6/fc7 of {args.fc_units} units, random weights, "
        f"{models.num_classes(args.model)} classes; synthetic photos at each geometry's native "
        f"size ({sizes}; JPEG quality 90 for the bytes signatures). Every row: one warm-up "
        f"call, then the best and the median of {args.repeats} calls, outputs converted to "
        f"numpy; the {args.ceiling_size}² float32 matmul ceiling is measured before and after "
        f"each row and the better kept. GFLOP/s counts the network's convolutions only.\n"
    )
    print_headers(HEADERS)
    all_checks = []
    with tempfile.TemporaryDirectory() as workdir:
        for geometry in args.geometries:
            for batch in args.batches:
                _, checks = time_paths(args, geometry, batch, workdir)
                all_checks.append(checks)
        print(
            "\nSame outputs: the in-process and the loaded `serve_images` (share of equal class "
            "ids, largest probability difference), and `serving_default` on JPEG files against "
            "`serve_images` on the same files decoded by PIL.\n"
        )
        check_headers = [
            "geometry",
            "batch",
            "class ids equal (in process vs SavedModel)",
            "max abs Δ probabilities",
            "class ids equal (JPEG bytes vs PIL-decoded)",
        ]
        print(markdown_table(check_headers, all_checks), flush=True)
        print(
            "\nREST response for one image, encoded and decoded with Python's json module, which "
            "writes each float32 as the repr of its float64 value (about 19 characters); 9 "
            "significant digits are enough for a float32, and the estimate next to it counts "
            "them from a sample of 100,000 values.\n"
        )
        response_headers = [
            "geometry",
            "signature",
            "outputs",
            "JSON size (MiB)",
            "with floats to 9 digits (MiB, estimate)",
            "json.dumps (s)",
            "json.loads (s)",
        ]
        rows = [
            row for geometry in args.geometries for row in response_cost(args, geometry, workdir)
        ]
        print(markdown_table(response_headers, rows), flush=True)


if __name__ == "__main__":
    main(parse_args())
