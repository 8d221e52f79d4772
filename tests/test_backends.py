"""`keras_fcn.backends`: setting variables from numpy arrays, on every backend."""

import keras
import numpy as np
import pytest

from keras_fcn.backends import TENSORFLOW_ALIGNMENT, aligned_empty, assign_array

pytestmark = pytest.mark.backends


def _values(shape, seed):
    array = aligned_empty(shape)
    array[...] = np.random.default_rng(seed).standard_normal(shape)
    return array


def test_aligned_arrays_are_aligned_and_of_the_shape_asked():
    for shape in [(1,), (3, 5), (7, 7, 3, 2)]:
        array = aligned_empty(shape)
        assert array.shape == shape and array.dtype == np.float32
        assert array.flags.c_contiguous and array.ctypes.data % TENSORFLOW_ALIGNMENT == 0


@pytest.mark.parametrize("start", ["zeros", "random"])
def test_a_variable_takes_the_array_values(start):
    initial = np.zeros((4, 3, 2)) if start == "zeros" else np.ones((4, 3, 2))
    variable = keras.Variable(initial.astype("float32"))
    values = _values((4, 3, 2), seed=1)
    expected = values.copy()
    assign_array(variable, values)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), expected)
    # Reading it back gives what was set, also after another assignment.
    assign_array(variable, _values((4, 3, 2), seed=2))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), _values((4, 3, 2), seed=2))


def test_a_zero_variable_keeps_its_own_buffer():
    """On TensorFlow, added in place: writing to the array afterwards leaves the variable alone
    (JAX, for one, may share a numpy array's memory, hence `assign_array`'s rule)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the in-place path is TensorFlow's")
    variable = keras.Variable(np.zeros((8, 8), "float32"))
    values = _values((8, 8), seed=3)
    expected = values.copy()
    assign_array(variable, values)
    values[...] = 0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), expected)


def test_unaligned_and_other_arrays_are_assigned():
    variable = keras.Variable(np.zeros((5, 6), "float32"))
    values = np.arange(31, dtype="float32")[1:].reshape(5, 6)  # a view one float in
    assign_array(variable, values)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), values)


def test_an_array_of_another_shape_is_refused_with_the_variables_name():
    variable = keras.Variable(np.zeros((2, 3), "float32"), name="kernel")
    with pytest.raises(ValueError, match=r"kernel.*\(2, 3\).*\(3, 2\)"):
        assign_array(variable, aligned_empty((3, 2)))
