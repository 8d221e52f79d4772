"""Training recipes as data: the optimiser, its learning-rate schedule, the loss and the batches.

A `Recipe` says everything about how a model is trained that is not the model: which optimiser
with which learning rate and schedule, the learning-rate multipliers of some variables (Caffe's
`lr_mult`, `keras_fcn.training.multipliers`), how the loss is reduced over pixels and whether it
compares every pixel or every `label_stride`-th (`keras_fcn.training.losses`), the L2 penalty on
kernels, the batch size, and whether batches are random augmented crops or whole images.
`make_optimizer` and `make_loss` turn it into Keras objects; nothing branches on a recipe's name.

Two kinds of recipes exist:
- each model's **paper recipe**, the solver of its original release, kept with the model in
  `keras_fcn.registry` (for FCN: SGD, momentum 0.99, a fixed tiny rate with the loss summed over
  pixels, biases at twice the rate, batch 1, no augmentation; for DeepLab: SGD, momentum 0.9,
  "poly" decay, the classifier at 10× the rate, labels subsampled 8×, batches of 321×321 crops);
- `default_recipe()`, a modern recipe for one's own data: Adam (3e-4) with a short linear
  warm-up and a cosine decay, the loss averaged over labelled pixels, batches of 8 whole
  images. Random crops (`crop_size`) bound the memory of large images, and flips and scale
  jitter (`augment`, `scale_range`) regularise long runs; all three slowed learning in short
  runs on CamVid (`benchmarks/README.md`, "CamVid"), so the default leaves them off.
"""

import dataclasses

import keras

from keras_fcn.classes import IGNORE_LABEL
from keras_fcn.training.losses import SubsampledSparseCategoricalCrossentropy
from keras_fcn.training.multipliers import AdamWithMultipliers, SGDWithMultipliers

OPTIMIZERS = ("sgd", "adam")
"""Optimisers a recipe can name."""

SCHEDULES = ("constant", "cosine", "poly")
"""Learning-rate schedules: fixed; linear warm-up then cosine decay to zero; DeepLab's "poly"."""

LOSS_REDUCTIONS = ("sum", "sum_over_batch_size")
"""`"sum"` over labelled pixels (Caffe's `SoftmaxWithLoss`, `normalize: false`), or their mean."""


def l2_for_caffe_weight_decay(weight_decay: float) -> float:
    """The L2 penalty `λ‖w‖²` equal to Caffe's weight decay.

    Caffe's `weight_decay` adds `weight_decay · w` to the gradient: the gradient of
    `weight_decay / 2 · ‖w‖²`. Keras 3 optimisers' own `weight_decay` is decoupled (AdamW-style)
    and differs, so recipes state Caffe's decay as a kernel regulariser instead.

    Example:

    >>> l2_for_caffe_weight_decay(5e-4)
    0.00025
    """
    return weight_decay / 2


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a model is trained (see the module docstring).

    Args:
        name: what the recipe is called in logs and `run.json`.
        optimizer: one of `OPTIMIZERS`.
        learning_rate: the base learning rate.
        momentum: SGD's momentum.
        schedule: one of `SCHEDULES`.
        warmup_steps: steps of linear warm-up from zero (`"cosine"`), at most half the run.
        final_learning_rate: where the cosine decay ends (`"cosine"`); 0 anneals to zero.
        poly_power: the power of the `"poly"` schedule, `(1 - step / total) ** power`.
        learning_rate_multipliers: `(pattern, multiplier)` rules on variable paths: a variable
            learns at the learning rate times the multiplier of the first rule that matches it
            (Caffe's `lr_mult`; `keras_fcn.training.multipliers`), 1 where none does.
        loss_reduction: one of `LOSS_REDUCTIONS`.
        label_stride: compare logits and labels at every `label_stride`-th row and column only
            (DeepLab's and Dilation's labels subsampled by the output stride, 8); 1 for all.
        l2: L2 penalty `λ‖w‖²` on the trainable convolution kernels.
        batch_size: examples per batch.
        crop_size: side of the random training crops, or `None` for whole images.
        augment: random flips, and scale jitter within `scale_range`.
        scale_range: `(min, max)` of the random scale factor when `augment` is on; `(1, 1)`
            leaves the scale alone.
        class_weights: how the loss weighs the classes, a name of
            `keras_fcn.data.CLASS_WEIGHTINGS`: `"none"`, `"median-frequency"` or
            `"inverse-frequency"` (computed from the training labels).
        aux_loss_weight: the weight of the auxiliary head's loss, added to the logits' for a
            model built with its auxiliary head (outputs `{"out", "aux"}`: torchvision's nets
            and PSPNet with `aux=True`); torchvision trains with 0.5, PSPNet with 0.4.

    Example:

    >>> recipe = Recipe("mine", optimizer="sgd", learning_rate=1e-3, momentum=0.9)
    >>> dataclasses.replace(recipe, batch_size=4).batch_size
    4
    """

    name: str
    optimizer: str
    learning_rate: float
    momentum: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    final_learning_rate: float = 0.0
    poly_power: float = 0.9
    learning_rate_multipliers: tuple[tuple[str, float], ...] = ()
    loss_reduction: str = "sum_over_batch_size"
    label_stride: int = 1
    l2: float = 0.0
    batch_size: int = 1
    crop_size: int | None = None
    augment: bool = False
    scale_range: tuple[float, float] = (0.5, 2.0)
    class_weights: str = "none"
    aux_loss_weight: float = 0.0

    def __post_init__(self):
        for field, allowed in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("loss_reduction", LOSS_REDUCTIONS),
        ):
            if getattr(self, field) not in allowed:
                raise ValueError(
                    f"Recipe {self.name!r}: {field} must be one of {allowed}, received "
                    f"{getattr(self, field)!r}."
                )
        if not 0 <= self.final_learning_rate <= self.learning_rate:
            raise ValueError(
                f"Recipe {self.name!r}: final_learning_rate must lie in [0, learning_rate], "
                f"received {self.final_learning_rate} with learning_rate {self.learning_rate}."
            )
        if self.aux_loss_weight < 0:
            raise ValueError(
                f"Recipe {self.name!r}: aux_loss_weight must be at least 0, received "
                f"{self.aux_loss_weight}."
            )
        if self.learning_rate <= 0 or self.batch_size < 1 or self.label_stride < 1:
            raise ValueError(
                f"Recipe {self.name!r}: learning_rate, batch_size and label_stride must be "
                f"positive, received {self.learning_rate}, {self.batch_size} and "
                f"{self.label_stride}."
            )
        for rule in self.learning_rate_multipliers:
            if len(rule) != 2 or not isinstance(rule[0], str) or rule[1] < 0:
                raise ValueError(
                    f"Recipe {self.name!r}: learning_rate_multipliers are (pattern, multiplier) "
                    f"pairs with a non-negative multiplier, received {rule!r}."
                )


def _option_value(field: dataclasses.Field, text: str):
    """Converts the text of a `key=value` recipe option to the field's type."""
    kind = str(field.type)
    if text.lower() == "none" and "None" in kind:
        return None
    if kind.startswith("tuple"):
        return tuple(float(part) for part in text.split(","))
    if "bool" in kind:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, received {text!r}")
        return text.lower() == "true"
    for convert in (int, float):
        if convert.__name__ in kind:
            return convert(text)
    return text


def with_options(recipe: Recipe, options: list[str]) -> Recipe:
    """Returns `recipe` with fields replaced by `key=value` strings, as the command line takes.

    Values convert to the field's type: numbers, `true`/`false`, `none` where a field may be
    `None` (`crop_size=none`: whole images), and comma-separated pairs (`scale_range=0.75,1.25`).

    Args:
        recipe: the recipe to start from.
        options: `key=value` strings naming fields of `Recipe`.

    Returns:
        A new `Recipe`.

    Raises:
        ValueError: for an unknown field or a value of the wrong type.

    Example:

    >>> recipe = with_options(default_recipe(), ["warmup_steps=20", "scale_range=0.75,1.25"])
    >>> recipe.warmup_steps, recipe.scale_range
    (20, (0.75, 1.25))
    """
    fields = {field.name: field for field in dataclasses.fields(Recipe)}
    changes = {}
    for option in options:
        key, separator, text = option.partition("=")
        if not separator or key not in fields or key == "name":
            raise ValueError(
                f"Recipe option {option!r} must be KEY=VALUE with KEY one of "
                f"{sorted(set(fields) - {'name'})}."
            )
        try:
            changes[key] = _option_value(fields[key], text)
        except ValueError as error:
            raise ValueError(f"Recipe option {option!r}: {error}.") from error
    return dataclasses.replace(recipe, **changes)


def default_recipe(
    learning_rate: float = 3e-4,
    batch_size: int = 8,
    warmup_steps: int = 20,
    crop_size: int | None = None,
    augment: bool = False,
    scale_range: tuple[float, float] = (1.0, 1.0),
) -> Recipe:
    """Returns the recipe for training on one's own data (see the module docstring).

    Tuned on CamVid's val split from random weights (`benchmarks/README.md`, "CamVid"): the
    earlier default (Adam 1e-4, 100 warm-up steps, crops of 320, scale jitter 0.5-2, flips)
    learned more slowly in short runs than plain Adam without augmentation. A peak rate of 3e-4
    keeps the cosine schedule's mean rate above a fixed 1e-4; 20 warm-up steps instead of 100
    (a fifth of a 10-epoch run on 367 images) start the decay sooner; whole images without
    flips keep the position of each class in the frame (on CamVid, filmed in left-hand traffic,
    two thirds of the pavement is in the left half), which crops, jitter and flips blur and
    which a young net leans on. Pass `crop_size` when whole images do not fit in memory, and
    `augment=True` with a wider `scale_range` (e.g. `(0.5, 2.0)`) to regularise long runs.

    Args:
        learning_rate: the peak learning rate, reached after the warm-up.
        batch_size: images per batch.
        warmup_steps: steps of linear warm-up.
        crop_size: side of random training crops, or `None` for whole images (padded to the
            largest of each batch).
        augment: random flips, and scale jitter within `scale_range`.
        scale_range: `(min, max)` of the random scale jitter; `(1, 1)` for none.

    Returns:
        The `Recipe`.

    Example:

    >>> recipe = default_recipe()
    >>> recipe.learning_rate, recipe.batch_size, recipe.crop_size, recipe.augment
    (0.0003, 8, None, False)
    """
    return Recipe(
        name="default",
        optimizer="adam",
        learning_rate=learning_rate,
        schedule="cosine",
        warmup_steps=warmup_steps,
        batch_size=batch_size,
        crop_size=crop_size,
        augment=augment,
        scale_range=scale_range,
    )


def make_learning_rate(recipe: Recipe, total_steps: int | None = None):
    """The recipe's learning rate: a float, or a schedule over `total_steps`.

    Args:
        recipe: the recipe.
        total_steps: training steps in all; `None` keeps the learning rate fixed whatever the
            schedule (the schedules need to know where they end).

    Returns:
        A float or a `keras.optimizers.schedules.LearningRateSchedule`.

    Example:

    >>> schedule = make_learning_rate(default_recipe(1e-3, warmup_steps=10), total_steps=110)
    >>> round(float(schedule(5)), 8)  # half-way through the warm-up
    0.0005
    """
    if recipe.schedule == "constant" or not total_steps:
        return recipe.learning_rate
    if recipe.schedule == "cosine":
        warmup_steps = min(recipe.warmup_steps, total_steps // 2)
        return keras.optimizers.schedules.CosineDecay(
            0.0,
            total_steps - warmup_steps,
            alpha=recipe.final_learning_rate / recipe.learning_rate,
            warmup_target=recipe.learning_rate,
            warmup_steps=warmup_steps,
        )
    return keras.optimizers.schedules.PolynomialDecay(
        recipe.learning_rate, total_steps, end_learning_rate=0.0, power=recipe.poly_power
    )


def make_optimizer(recipe: Recipe, total_steps: int | None = None) -> keras.optimizers.Optimizer:
    """The recipe's optimiser, with its learning rate (`make_learning_rate`) and multipliers.

    Keras' own `SGD` or `Adam`, or, when the recipe has learning-rate multipliers, the same
    optimiser with them (`SGDWithMultipliers`, `AdamWithMultipliers`).

    Example:

    >>> make_optimizer(Recipe("sgd", "sgd", 0.1, momentum=0.9)).momentum
    0.9
    >>> recipe = Recipe("bias", "sgd", 0.1, learning_rate_multipliers=(("*/bias", 2.0),))
    >>> type(make_optimizer(recipe)).__name__
    'SGDWithMultipliers'
    """
    learning_rate = make_learning_rate(recipe, total_steps)
    multipliers = recipe.learning_rate_multipliers
    if recipe.optimizer == "sgd":
        if multipliers:
            return SGDWithMultipliers(
                learning_rate, momentum=recipe.momentum, multipliers=multipliers
            )
        return keras.optimizers.SGD(learning_rate, momentum=recipe.momentum)
    if multipliers:
        return AdamWithMultipliers(learning_rate, multipliers=multipliers)
    return keras.optimizers.Adam(learning_rate)


def make_loss(recipe: Recipe) -> keras.losses.Loss:
    """The recipe's loss: cross-entropy on logits, void pixels (255) ignored.

    With a `label_stride` above 1, only every `label_stride`-th row and column counts
    (`SubsampledSparseCategoricalCrossentropy`).

    Example:

    >>> make_loss(default_recipe()).reduction
    'sum_over_batch_size'
    """
    options = {
        "from_logits": True,
        "ignore_class": IGNORE_LABEL,
        "reduction": recipe.loss_reduction,
    }
    if recipe.label_stride > 1:
        return SubsampledSparseCategoricalCrossentropy(recipe.label_stride, **options)
    return keras.losses.SparseCategoricalCrossentropy(**options)
