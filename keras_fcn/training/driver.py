"""One training run, from a recipe and batches to a trained model and its run directory.

`keras-fcn train`, the benchmarks and the notebooks all train through `train_model`: it records
the run (`run.json`: its arguments, recipe, class weights and library versions), builds the model
in the strategy's scope, optionally starts it from a trained model's shared layers, compiles it
with the recipe and fits it with the run's callbacks (resume, best checkpoint, CSV log), then
writes what the model was trained on into its `.keras` files (`keras_fcn.model_info`) and
plots the curves. The batches are made by the caller (`keras_fcn.data`'s `tf.data` pipelines, or
numpy arrays on any backend); `resolve_recipe` turns a base recipe and a caller's changes into
the run's recipe. It runs on every Keras backend.
"""

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from keras_fcn.model_info import ModelInfo, write_model_info
from keras_fcn.training.fitting import compile_for_training, fit
from keras_fcn.training.recipes import Recipe, with_options
from keras_fcn.visualization import plot_training_curves, read_history_csv
from keras_fcn.weights import transfer_weights

RUN_INFO_FILE = "run.json"
"""The file of a run directory that records how the run was made."""


def _installed_version(package: str) -> str | None:
    """The installed version of a package, or `None` where it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def write_run_info(
    output_dir: str,
    arguments: Mapping[str, object],
    recipe: Recipe | None = None,
    class_weights: Sequence[float] | None = None,
) -> None:
    """Writes a run's arguments, recipe, class weights and library versions to `run.json`.

    Example:

    >>> write_run_info("run", {"epochs": 2})
    >>> import json; json.load(open("run/run.json"))["arguments"]
    {'epochs': 2}
    """
    import keras_fcn

    os.makedirs(output_dir, exist_ok=True)
    info = {
        "arguments": dict(arguments),
        "recipe": None if recipe is None else dataclasses.asdict(recipe),
        "class_weights": None if class_weights is None else [float(w) for w in class_weights],
        "versions": {
            "keras_fcn": keras_fcn.__version__,
            "tensorflow": _installed_version("tensorflow"),
            "keras": keras.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with open(os.path.join(output_dir, RUN_INFO_FILE), "w") as file:
        json.dump(info, file, indent=2, default=str)


def resolve_recipe(
    base: Recipe,
    options: Sequence[str] = (),
    *,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    crop_size: int | None = None,
    class_weights: str | None = None,
) -> Recipe:
    """A run's recipe: `base`, then `options` (`"key=value"`), then the fields given.

    Example:

    >>> from keras_fcn.training import default_recipe
    >>> recipe = resolve_recipe(default_recipe(), ["warmup_steps=20"], batch_size=4)
    >>> recipe.warmup_steps, recipe.batch_size
    (20, 4)
    """
    recipe = with_options(base, options)
    return dataclasses.replace(
        recipe,
        learning_rate=learning_rate or recipe.learning_rate,
        batch_size=batch_size or recipe.batch_size,
        crop_size=crop_size or recipe.crop_size,
        class_weights=class_weights or recipe.class_weights,
    )


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """What a run trains and where it writes.

    Args:
        build_model: builds the untrained model (called inside the strategy's scope), such as
            `functools.partial(keras_fcn.registry.build, "fcn8s", 21)`.
        num_classes: classes scored.
        output_dir: the run directory (checkpoints, `history.csv`, `curves.png`, `run.json`);
            a run started again in it resumes after its last finished epoch.
        epochs: epochs in all.
        init_from: a trained `.keras` model whose layers of the same name and shape start the
            model (staged training: FCN-32s → 16s → 8s).
        jit_compile: compile the training step; `None` for the backend's choice
            (`compile_for_training`).
        arguments: what `run.json` records as the run's arguments (a command line's flags).
        model_info: what the model is trained on (its classes, palette, input scale, dataset),
            written into `final.keras` and `best.keras` when training ends
            (`keras_fcn.model_info`); `None` writes nothing.
    """

    build_model: Callable[[], keras.Model]
    num_classes: int
    output_dir: str
    epochs: int = 20
    init_from: str | None = None
    jit_compile: bool | None = None
    arguments: Mapping[str, object] = dataclasses.field(default_factory=dict)
    model_info: ModelInfo | None = None


def _initialise_from(model: keras.Model, path: str, num_classes: int) -> None:
    import keras_fcn  # noqa: F401  (registers the custom layers load_model needs)

    if not os.path.isfile(path):
        raise ValueError(f"init_from: no model file at {path!r}.")
    source = keras.models.load_model(path)
    if source.output_shape[-1] != num_classes:
        raise ValueError(
            f"init_from: the model {path} scores {source.output_shape[-1]} classes, but the run "
            f"trains {num_classes}."
        )
    transfer = transfer_weights(source, model)
    if transfer.shape_mismatch:
        raise ValueError(
            f"init_from {path}: layers {transfer.shape_mismatch} differ in shape (another "
            "fc_units or num_classes?)."
        )
    print(f"Initialised {len(transfer.copied)} layers from {path}.")


def train_model(
    run: TrainingRun,
    recipe: Recipe,
    train_data,
    val_data=None,
    *,
    steps_per_epoch: int = -1,
    class_weights: Sequence[float] | None = None,
    scope=None,
) -> keras.Model:
    """Builds, compiles and fits a run's model on batches made elsewhere; resumable.

    Args:
        run: the `TrainingRun`.
        recipe: the run's `Recipe` (`resolve_recipe`).
        train_data: training batches (`model.fit`'s `x`).
        val_data: validation batches, or `None`.
        steps_per_epoch: batches per epoch (the schedule's length); negative if unknown.
        class_weights: the class weights the batches carry, recorded in `run.json`.
        scope: the distribution strategy's scope to build and compile in, if any.

    Returns:
        The trained model (also saved as `final.keras` in the run directory, with the run's
        `model_info`).

    Example:

    >>> import functools, os
    >>> run = TrainingRun(
    ...     functools.partial(keras_fcn.registry.build, "fcn32s", 2, weights=None, fc_units=8),
    ...     num_classes=2, output_dir="run", epochs=1)
    >>> batches = tf.data.Dataset.from_tensors((np.zeros((2, 32, 32, 3)), np.zeros((2, 32, 32))))
    >>> recipe = keras_fcn.training.default_recipe()
    >>> model = train_model(run, recipe, batches, steps_per_epoch=1)  # doctest: +ELLIPSIS
    1/1 - ...
    Saved run/final.keras and the training curves.
    >>> sorted(name for name in os.listdir("run") if name.endswith((".keras", ".json")))
    ['best.keras', 'final.keras', 'run.json']
    """
    write_run_info(run.output_dir, run.arguments, recipe, class_weights)
    with scope or contextlib.nullcontext():
        model = run.build_model()
        if run.init_from:
            _initialise_from(model, run.init_from, run.num_classes)
        total_steps = steps_per_epoch * run.epochs if steps_per_epoch > 0 else None
        compile_for_training(
            model, recipe, run.num_classes, total_steps=total_steps, jit_compile=run.jit_compile
        )
    fit(model, train_data, val_data, run.epochs, run.output_dir)
    if run.model_info is not None:
        for name in ("final.keras", "best.keras"):
            if os.path.isfile(path := os.path.join(run.output_dir, name)):
                write_model_info(path, run.model_info)
    history_path = os.path.join(run.output_dir, "history.csv")
    plot_training_curves(read_history_csv(history_path), os.path.join(run.output_dir, "curves.png"))
    print(f"Saved {os.path.join(run.output_dir, 'final.keras')} and the training curves.")
    return model
