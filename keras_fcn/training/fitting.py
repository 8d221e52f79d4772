"""Compiling a model with a recipe, and training it with `model.fit` and the run's callbacks.

Everything is Keras: `model.compile`, `model.fit`, Keras callbacks, `tf.distribute` strategies.
`compile_for_training` and `model.fit` on numpy arrays or Python generators run on every Keras
backend, `fit` too (its TensorBoard logs only where TensorFlow is installed).

Reference: Long, Shelhamer & Darrell, CVPR 2015, section 4.3; Shelhamer, Long & Darrell, PAMI
2016, section 4.
"""

import math
import os
import sys

import keras

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.inference import AUXILIARY_OUTPUTS, has_auxiliary_head
from keras_fcn.metrics import SegmentationScores
from keras_fcn.training.callbacks import finished_epochs, training_callbacks
from keras_fcn.training.recipes import Recipe, make_loss, make_optimizer


def with_auxiliary_targets(dataset):
    """The batches of a `tf.data.Dataset` with their labels (and sample weights) given to both
    outputs of a model with an auxiliary head: `(images, {"out": labels, "aux": labels})`."""

    def both(images, labels, *weights):
        return (
            images,
            *({name: value for name in AUXILIARY_OUTPUTS} for value in (labels, *weights)),
        )

    if not hasattr(dataset, "map"):
        raise TypeError(
            "A model with an auxiliary head trains on a tf.data.Dataset of (images, labels), "
            f"whose labels go to both of its outputs; received {type(dataset).__name__}."
        )
    return dataset.map(both)


def compile_for_training(
    model: keras.Model,
    recipe: Recipe,
    num_classes: int,
    total_steps: int | None = None,
    jit_compile: bool | None = None,
) -> keras.Model:
    """Compiles `model` with the recipe's optimiser and loss and the paper's four scores.

    The loss ignores `IGNORE_LABEL`; the metric `SegmentationScores` logs `pixel_accuracy`,
    `mean_accuracy`, `mean_iou` and `frequency_weighted_iou` from one confusion matrix. The
    recipe's L2 penalty goes on every trainable convolution kernel and batch normalisation
    scale, as Caffe's weight decay does in FCN's and SegNet's solvers (not on biases, BN
    shifts or frozen upsamplers). A model with an auxiliary head (`has_auxiliary_head`) gets the
    loss on both outputs, the auxiliary one weighted by `recipe.aux_loss_weight`, and the scores
    of its logits. Call it inside the strategy's scope. It works on every Keras backend.

    Args:
        model: a segmentation model (logits out).
        recipe: a `Recipe`: a model's paper recipe (`keras_fcn.registry`) or `default_recipe()`.
        num_classes: classes scored by the model.
        total_steps: training steps in all, for the recipe's learning-rate schedule; `None`
            keeps the learning rate fixed.
        jit_compile: compile the training step (XLA on TensorFlow and JAX, `torch.compile` on
            PyTorch); `None` picks by backend: off on TensorFlow (XLA compiles again for every
            new image size and is slower on CPUs), on for JAX (whose uncompiled steps run op by
            op, several times slower), off on PyTorch (`torch.compile` takes minutes).

    Returns:
        The model, compiled.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8)
    >>> model = compile_for_training(model, keras_fcn.training.default_recipe(), num_classes=2)
    >>> type(model.optimizer).__name__
    'Adam'
    """
    if jit_compile is None:
        jit_compile = keras.backend.backend() == "jax"
    if recipe.l2:
        for layer in model.layers:
            if not layer.trainable:
                continue
            if isinstance(layer, keras.layers.Conv2D):
                layer.kernel.regularizer = keras.regularizers.L2(recipe.l2)
            elif isinstance(layer, keras.layers.BatchNormalization) and layer.scale:
                layer.gamma.regularizer = keras.regularizers.L2(recipe.l2)
    loss, loss_weights = make_loss(recipe), None
    metrics = [SegmentationScores(num_classes, ignore_class=IGNORE_LABEL)]
    if has_auxiliary_head(model):
        # The logits and the auxiliary head's each have the recipe's loss (logged as `out_loss`
        # and `aux_loss`, their weighted sum as `loss`); the scores are the logits'.
        loss = {name: make_loss(recipe) for name in AUXILIARY_OUTPUTS}
        loss_weights = {"out": 1.0, "aux": recipe.aux_loss_weight}
        metrics = {"out": metrics}
    model.compile(
        optimizer=make_optimizer(recipe, total_steps),
        loss=loss,
        loss_weights=loss_weights,
        metrics=metrics,
        jit_compile=jit_compile,
    )
    return model


class NaNLossError(RuntimeError):
    """Raised when training stopped because the loss became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Raised when training was interrupted (Ctrl-C); the run's finished epochs are kept.

    Args:
        epoch: the epoch that was running (1 for the first), unfinished.
        output_dir: the run's directory; training again into it resumes after `epoch - 1`.
    """

    def __init__(self, epoch: int, output_dir: str):
        super().__init__(f"interrupted in epoch {epoch}; {epoch - 1} finished epochs are kept")
        self.epoch = epoch
        self.output_dir = output_dir


def fit(
    model: keras.Model,
    train_dataset,
    val_dataset,
    epochs: int,
    output_dir: str,
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """Trains a compiled model with `training_callbacks` and saves `output_dir/final.keras`.

    Args:
        model: compiled with `compile_for_training`.
        train_dataset: batches of `(images, labels)` (a `tf.data.Dataset` for a model with an
            auxiliary head, whose labels go to both outputs).
        val_dataset: validation batches, or `None` (then the checkpoint follows `mean_iou`).
        epochs: total epochs, counting those of an interrupted run that is resumed.
        output_dir: where the run's files go (created if needed).
        verbose: Keras' progress display: `"auto"` shows a progress bar per epoch in a
            terminal (`verbose=1`) and one line per epoch otherwise, e.g. in a log file
            (`verbose=2`); 0 is silent.

    Returns:
        The `History` of the epochs run now.

    Raises:
        NaNLossError: if the loss became NaN or infinite (lower the learning rate).
        TrainingInterrupted: on Ctrl-C (`KeyboardInterrupt`); calling `fit` again with the same
            `output_dir` resumes after the last finished epoch, as it says when it starts.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> model = compile_for_training(model, keras_fcn.training.default_recipe(), num_classes=2)
    >>> batches = tf.data.Dataset.from_tensors((np.zeros((2, 32, 32, 3)), np.zeros((2, 32, 32))))
    >>> history = fit(model, batches, None, epochs=1, output_dir="run", verbose=0)
    >>> import os
    >>> sorted(os.listdir("run"))  # backup/ is removed once the run ends
    ['best.keras', 'final.keras', 'history.csv', 'logs']
    """
    os.makedirs(output_dir, exist_ok=True)
    monitor = "val_mean_iou" if val_dataset is not None else "mean_iou"
    if has_auxiliary_head(model):
        train_dataset = with_auxiliary_targets(train_dataset)
        if val_dataset is not None:
            val_dataset = with_auxiliary_targets(val_dataset)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    if resumed := finished_epochs(output_dir):
        print(f"Resuming after epoch {resumed} from {output_dir}.", flush=True)
    try:
        history = model.fit(
            train_dataset,
            validation_data=val_dataset,
            epochs=epochs,
            callbacks=training_callbacks(output_dir, monitor),
            shuffle=False,
            verbose=verbose,
        )
    except KeyboardInterrupt:
        raise TrainingInterrupted(finished_epochs(output_dir) + 1, output_dir) from None
    losses = history.history.get("loss", [])
    if model.stop_training and losses and not math.isfinite(losses[-1]):
        raise NaNLossError(
            f"Training stopped at epoch {len(losses)}: the loss became {losses[-1]}. "
            "Lower the learning rate (or check the labels) and run again."
        )
    model.save(os.path.join(output_dir, "final.keras"))
    return history
