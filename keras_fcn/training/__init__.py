"""Training: recipes as data (`recipes`), the papers' solvers as recipes (`paper_recipes`, which
the registry's entries read), per-variable learning-rate multipliers (`multipliers`), the loss
on subsampled labels (`losses`), strategies and precision (`strategies`), the run's callbacks
(`callbacks`), compiling and fitting a model (`fitting`), and one whole training run
(`driver`: `train_model`, which the CLI, the benchmarks and the notebooks call).

Everything else is Keras: `model.fit`, `tf.distribute` strategies, Keras callbacks.
"""

from keras_fcn.training.callbacks import finished_epochs, training_callbacks
from keras_fcn.training.driver import TrainingRun, resolve_recipe, train_model, write_run_info
from keras_fcn.training.fitting import (
    NaNLossError,
    TrainingInterrupted,
    compile_for_training,
    fit,
)
from keras_fcn.training.losses import SubsampledSparseCategoricalCrossentropy
from keras_fcn.training.multipliers import (
    AdamWithMultipliers,
    LearningRateMultipliers,
    SGDWithMultipliers,
    multiplier_for,
)
from keras_fcn.training.recipes import (
    Recipe,
    default_recipe,
    l2_for_caffe_weight_decay,
    make_learning_rate,
    make_loss,
    make_optimizer,
    with_options,
)
from keras_fcn.training.strategies import PRECISIONS, STRATEGIES, make_strategy, set_precision

__all__ = [
    "PRECISIONS",
    "STRATEGIES",
    "AdamWithMultipliers",
    "LearningRateMultipliers",
    "NaNLossError",
    "Recipe",
    "SGDWithMultipliers",
    "SubsampledSparseCategoricalCrossentropy",
    "TrainingInterrupted",
    "TrainingRun",
    "compile_for_training",
    "default_recipe",
    "finished_epochs",
    "fit",
    "l2_for_caffe_weight_decay",
    "make_learning_rate",
    "make_loss",
    "make_optimizer",
    "make_strategy",
    "multiplier_for",
    "resolve_recipe",
    "set_precision",
    "train_model",
    "training_callbacks",
    "with_options",
    "write_run_info",
]
