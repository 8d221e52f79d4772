"""Per-variable learning-rate multipliers, as Caffe's `lr_mult`.

Caffe gives every parameter blob its own rate, `base_lr · lr_mult`: FCN and DeepLab learn their
biases at twice the rate of the weights, and DeepLab its new classifier (`fc8`) at ten times
(twenty for its biases). Keras optimizers take one learning rate for all variables. The
optimizers here (`SGDWithMultipliers`, `AdamWithMultipliers`) are Keras' own with one change:
each variable's update step runs with the learning rate times the variable's multiplier. That
is Caffe's semantics for any update rule (for SGD it equals scaling the gradient; for Adam it
does not), and it composes with Keras' schedules, `model.fit`, distribution strategies and
saving (the multipliers are part of the optimizer's config).

Multipliers are rules `(pattern, multiplier)` matched against each variable's path
(`"fc8_voc12/kernel"`, `"block1_conv1/bias"`) with shell-style wildcards (`fnmatch`); the first
rule that matches a variable gives its multiplier, and variables that no rule matches keep 1.

Reference: Caffe, `src/caffe/solvers/sgd_solver.cpp` (`local_rate = rate * net_params_lr[i]`).
"""

import fnmatch
from collections.abc import Sequence

import keras

Rules = Sequence[tuple[str, float]]


def multiplier_for(path: str, rules: Rules) -> float:
    """The learning-rate multiplier of a variable: that of the first rule whose pattern matches.

    Args:
        path: the variable's path (`variable.path`, `"layer_name/kernel"`).
        rules: `(pattern, multiplier)` pairs, shell-style patterns (`*`, `?`, `[...]`).

    Returns:
        The multiplier, 1 where no rule matches.

    Example:

    >>> rules = [("fc8_voc12*/kernel", 10.0), ("fc8_voc12*/bias", 20.0), ("*/bias", 2.0)]
    >>> [multiplier_for(path, rules) for path in ("fc8_voc12_1/bias", "fc6/bias", "fc6/kernel")]
    [20.0, 2.0, 1.0]
    """
    for pattern, multiplier in rules:
        if fnmatch.fnmatchcase(path, pattern):
            return float(multiplier)
    return 1.0


def _checked_rules(rules: Rules) -> tuple[tuple[str, float], ...]:
    checked = []
    for rule in rules:
        if len(rule) != 2 or not isinstance(rule[0], str) or float(rule[1]) < 0:
            raise ValueError(
                "Learning-rate multipliers are (pattern, multiplier) pairs with a string pattern "
                f"and a non-negative multiplier; received {rule!r}."
            )
        checked.append((rule[0], float(rule[1])))
    return tuple(checked)


class LearningRateMultipliers:
    """Mixin for a Keras optimizer: each variable's step uses the learning rate × its multiplier.

    Put it before the optimizer class (`class SGDWithMultipliers(LearningRateMultipliers,
    keras.optimizers.SGD)`); it adds the keyword argument `multipliers` (see the module
    docstring) and changes nothing else. The multipliers are looked up once per variable when
    the optimizer is built.
    """

    def __init__(self, *args, multipliers: Rules = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.multipliers = _checked_rules(multipliers)

    def build(self, variables):
        super().build(variables)
        self._variable_multipliers = [
            multiplier_for(variable.path, self.multipliers) for variable in variables
        ]

    def variable_multiplier(self, variable) -> float:
        """The multiplier of one of the variables the optimizer was built with."""
        return self._variable_multipliers[self._get_variable_index(variable)]

    def update_step(self, gradient, variable, learning_rate):
        multiplier = self.variable_multiplier(variable)
        if multiplier != 1.0:
            learning_rate = keras.ops.multiply(learning_rate, multiplier)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "multipliers": [list(rule) for rule in self.multipliers]}


@keras.saving.register_keras_serializable(package="keras_fcn")
class SGDWithMultipliers(LearningRateMultipliers, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with per-variable learning-rate multipliers (Caffe's `lr_mult`).

    Args:
        multipliers: `(pattern, multiplier)` rules on variable paths (see the module docstring).
        learning_rate, momentum, nesterov, ...: as `keras.optimizers.SGD`.

    Example:

    >>> optimizer = SGDWithMultipliers(1e-3, momentum=0.9, multipliers=[("*/bias", 2.0)])
    >>> optimizer.multipliers
    (('*/bias', 2.0),)
    """


@keras.saving.register_keras_serializable(package="keras_fcn")
class AdamWithMultipliers(LearningRateMultipliers, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with per-variable learning-rate multipliers (Caffe's `lr_mult`).

    Each variable's Adam step is scaled by its multiplier (its learning rate is multiplied, not
    its gradient, which Adam would normalise away).

    Args:
        multipliers: `(pattern, multiplier)` rules on variable paths (see the module docstring).
        learning_rate, beta_1, beta_2, epsilon, ...: as `keras.optimizers.Adam`.

    Example:

    >>> optimizer = AdamWithMultipliers(1e-4, multipliers=[("score*", 10.0)])
    >>> optimizer.get_config()["multipliers"]
    [['score*', 10.0]]
    """
