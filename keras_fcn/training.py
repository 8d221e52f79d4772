"""Training recipes, distribution strategies and callbacks for FCN.

Two recipes:
- `"paper"`: the original solver (`solve.py`/`solver.prototxt`): SGD with momentum 0.99, the
  cross-entropy **summed** over pixels (void pixels ignored), weight decay 5e-4, a fixed learning
  rate of 1e-10 (FCN-32s), 1e-12 (FCN-16s), 1e-14 (FCN-8s) or 1e-10 (at-once), batch 1, no
  augmentation. Caffe's decay adds `5e-4 * w` to the gradient, the gradient of the L2 penalty
  `2.5e-4 * ||w||²` on the kernels (biases are not decayed). Keras has no per-variable learning
  rate, so the original's doubled bias rate is not reproduced.
- `"default"`: a modern recipe for fine-tuning on one's own data: Adam with a linear warm-up and
  a cosine decay of the learning rate, the cross-entropy averaged over labelled pixels, batches
  of 8 random crops with scale jitter and flips.

Everything else is Keras: `model.fit`, `tf.distribute` strategies, and the callbacks
`BackupAndRestore` (re-running an interrupted command resumes at the last finished epoch),
`ModelCheckpoint` (best validation mean IU), `CSVLogger`, `TensorBoard` and `TerminateOnNaN`.

Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.3; Shelhamer, Long & Darrell, PAMI
2016, section 4.
"""

import dataclasses
import math
import os

import keras
import tensorflow as tf

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.metrics import SegmentationScores

PAPER_LEARNING_RATES = {
    "fcn32s": 1e-10,
    "fcn16s": 1e-12,
    "fcn8s": 1e-14,
    "fcn8s_atonce": 1e-10,
}
"""Fixed learning rates of the original solvers, which pair with the summed loss."""

PAPER_L2 = 2.5e-4
"""L2 penalty on kernels equal to Caffe's weight decay of 5e-4 (the gradient of λ‖w‖² is 2λw)."""

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker", "tpu")
"""Names accepted by `make_strategy`."""


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a model is trained: optimiser, loss reduction, batch and augmentation."""

    name: str
    learning_rate: float
    batch_size: int
    augment: bool
    loss_reduction: str
    """`"sum"` over pixels (the original) or `"sum_over_batch_size"` (the mean)."""
    l2: float = 0.0
    """L2 penalty on convolution kernels."""
    warmup_steps: int = 0
    """Steps of linear warm-up from zero before the cosine decay (default recipe)."""


def paper_recipe(variant: str) -> Recipe:
    """Returns the original solver's recipe for one of `keras_fcn.models.VARIANTS`.

    Example:

    >>> paper_recipe("fcn8s").learning_rate
    1e-14
    """
    if variant not in PAPER_LEARNING_RATES:
        raise ValueError(
            f"Unknown variant {variant!r}; expected one of {list(PAPER_LEARNING_RATES)}."
        )
    return Recipe(
        name="paper",
        learning_rate=PAPER_LEARNING_RATES[variant],
        batch_size=1,
        augment=False,
        loss_reduction="sum",
        l2=PAPER_L2,
    )


def default_recipe(
    learning_rate: float = 1e-4, batch_size: int = 8, warmup_steps: int = 100
) -> Recipe:
    """Returns the recipe for fine-tuning on one's own data (see the module docstring).

    Example:

    >>> default_recipe().batch_size
    8
    """
    return Recipe(
        name="default",
        learning_rate=learning_rate,
        batch_size=batch_size,
        augment=True,
        loss_reduction="sum_over_batch_size",
        warmup_steps=warmup_steps,
    )


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the `tf.distribute` strategy to build and train under.

    `"auto"` takes a TPU when one is reachable, all GPUs when there are several, and otherwise
    the default strategy (one GPU or the CPU).

    Args:
        name: one of `STRATEGIES`.

    Returns:
        A strategy; build and compile the model inside `strategy.scope()`.

    Example:

    >>> strategy = make_strategy("one-device")
    >>> with strategy.scope():
    ...     model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=64)
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")
    if name in ("tpu", "auto"):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        except (ValueError, tf.errors.NotFoundError) as error:
            if name == "tpu":
                raise ValueError(f"No TPU is reachable: {error}") from error
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def compile_for_training(
    model: keras.Model,
    recipe: Recipe,
    num_classes: int,
    decay_steps: int | None = None,
    jit_compile: bool = False,
) -> keras.Model:
    """Compiles `model` with the recipe's optimiser, loss and the FCN metric family.

    The loss ignores `IGNORE_LABEL`; the metric `SegmentationScores` logs `pixel_accuracy`,
    `mean_accuracy`, `mean_iou` and `frequency_weighted_iou` from one confusion matrix. Call it
    inside the strategy's scope.

    Args:
        model: an FCN (logits out).
        recipe: `paper_recipe(...)` or `default_recipe(...)`.
        num_classes: classes scored by the model.
        decay_steps: total training steps for the default recipe's warm-up and cosine decay;
            `None` keeps the learning rate fixed.
        jit_compile: compile the training step with XLA.

    Returns:
        The model, compiled.

    Example:

    >>> compile_for_training(model, default_recipe(), num_classes=2)
    """
    if recipe.name == "paper":
        optimizer = keras.optimizers.SGD(recipe.learning_rate, momentum=0.99)
    else:
        learning_rate = recipe.learning_rate
        if decay_steps:
            warmup_steps = min(recipe.warmup_steps, decay_steps // 2)
            learning_rate = keras.optimizers.schedules.CosineDecay(
                0.0,
                decay_steps - warmup_steps,
                warmup_target=recipe.learning_rate,
                warmup_steps=warmup_steps,
            )
        optimizer = keras.optimizers.Adam(learning_rate)
    if recipe.l2:
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D) and layer.trainable:
                layer.kernel.regularizer = keras.regularizers.L2(recipe.l2)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=IGNORE_LABEL, reduction=recipe.loss_reduction
        ),
        metrics=[SegmentationScores(num_classes, ignore_class=IGNORE_LABEL)],
        jit_compile=jit_compile,
    )
    return model


class NaNLossError(RuntimeError):
    """Raised when training stopped because the loss became NaN or infinite."""


def training_callbacks(output_dir: str, monitor: str = "val_mean_iou") -> list:
    """The callbacks of a training run writing into `output_dir`.

    - `backup/`: `BackupAndRestore` at the end of each epoch; re-running the same command after an
      interruption resumes from the last finished epoch, optimizer state included.
    - `best.keras`: `ModelCheckpoint` of the best `monitor` (maximised).
    - `history.csv`: `CSVLogger`, appended to on resume; `logs/`: `TensorBoard`.
    - `TerminateOnNaN`.

    Example:

    >>> model.fit(dataset, epochs=10, callbacks=training_callbacks("runs/fcn8s"))
    """
    return [
        keras.callbacks.BackupAndRestore(os.path.join(output_dir, "backup")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(output_dir, "best.keras"), monitor=monitor, mode="max", save_best_only=True
        ),
        keras.callbacks.CSVLogger(os.path.join(output_dir, "history.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(output_dir, "logs")),
        keras.callbacks.TerminateOnNaN(),
    ]


def fit(
    model: keras.Model,
    train_dataset: tf.data.Dataset,
    val_dataset: tf.data.Dataset | None,
    epochs: int,
    output_dir: str,
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """Trains a compiled model with `training_callbacks` and saves `output_dir/final.keras`.

    Args:
        model: compiled with `compile_for_training`.
        train_dataset: batches of `(images, labels)`.
        val_dataset: validation batches, or `None` (then the checkpoint follows `mean_iou`).
        epochs: total epochs, counting those of an interrupted run that is resumed.
        output_dir: where the run's files go (created if needed).
        verbose: Keras' progress display.

    Returns:
        The `History` of the epochs run now.

    Raises:
        NaNLossError: if the loss became NaN or infinite (lower the learning rate).

    Example:

    >>> history = fit(model, train, val, epochs=20, output_dir="runs/fcn8s")
    """
    os.makedirs(output_dir, exist_ok=True)
    monitor = "val_mean_iou" if val_dataset is not None else "mean_iou"
    history = model.fit(
        train_dataset,
        validation_data=val_dataset,
        epochs=epochs,
        callbacks=training_callbacks(output_dir, monitor),
        shuffle=False,
        verbose=verbose,
    )
    losses = history.history.get("loss", [])
    if model.stop_training and losses and not math.isfinite(losses[-1]):
        raise NaNLossError(
            f"Training stopped at epoch {len(losses)}: the loss became {losses[-1]}. "
            "Lower the learning rate (or check the labels) and run again."
        )
    model.save(os.path.join(output_dir, "final.keras"))
    return history
