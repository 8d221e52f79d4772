"""The errors of the command line: what `keras_fcn.cli.main` reports as one line."""

import sys


class UsageError(Exception):
    """A mistake in the command line or its inputs, reported as one line on stderr."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the one line that says what was kept and how to go on."""


def data_problem(error: Exception) -> str | None:
    """The line `check-data` gives for the bad example that stopped a TensorFlow pipeline
    (`keras_fcn.data.pipeline_problem`), or `None` for any other error."""
    tensorflow = sys.modules.get("tensorflow")  # imported by whatever raised a TensorFlow error
    if tensorflow is None or not isinstance(error, tensorflow.errors.OpError):
        return None
    from keras_fcn.data import pipeline_problem

    problem = pipeline_problem(error)
    return None if problem is None else f"{problem} (keras-fcn check-data lists every problem)"
