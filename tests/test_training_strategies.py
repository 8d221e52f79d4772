import backend_processes
import keras
import pytest

from keras_fcn import training


def test_strategies_by_name(tf):
    assert isinstance(training.make_strategy("one-device"), tf.distribute.OneDeviceStrategy)
    assert isinstance(training.make_strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match="No TPU"):
        training.make_strategy("tpu")
    with pytest.raises(ValueError, match="Unknown strategy"):
        training.make_strategy("horovod")


def test_strategies_need_the_tensorflow_backend():
    completed = backend_processes.run_python(
        ["-c", "from keras_fcn import training; training.make_strategy('auto')"], backend="jax"
    )
    assert completed.returncode != 0
    assert (
        "RuntimeError: keras_fcn.training.make_strategy needs the TensorFlow backend "
        "(KERAS_BACKEND=tensorflow); the current backend is jax."
    ) in completed.stderr


@pytest.mark.backends
def test_precision_sets_the_global_policy_and_rejects_unknown_ones():
    try:
        training.set_precision("mixed_bfloat16")
        policy = keras.mixed_precision.global_policy()
        assert (policy.compute_dtype, policy.variable_dtype) == ("bfloat16", "float32")
    finally:
        training.set_precision("float32")
    with pytest.raises(ValueError, match="precision must be one of"):
        training.set_precision("float16")
