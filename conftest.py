"""Set-up of the docstring examples (`--doctest-modules`): the names they use, and a scratch
working directory, so that examples which write files leave nothing behind.

The doctests run on the TensorFlow backend only (`.ci/run` runs the other backends on `tests/`,
whose helper modules `tests/conftest.py` leaves out there), so TensorFlow is imported here only
when a doctest runs.
"""

import keras
import numpy as np
import pytest
from _pytest.doctest import DoctestItem

import keras_fcn


@pytest.fixture(autouse=True)
def _doctest_setup(request, doctest_namespace, monkeypatch):
    if not isinstance(request.node, DoctestItem):
        return
    tmp_path = request.getfixturevalue("tmp_path")
    import tensorflow as tf

    doctest_namespace.update(keras=keras, np=np, tf=tf, keras_fcn=keras_fcn)
    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
