import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fcn import registry, training


@pytest.fixture()
def tiny_fcn():
    keras.utils.set_random_seed(0)
    return registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")


def _batches(num_batches=2, batch_size=2, size=32, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (num_batches * batch_size, size, size, 3)).astype("float32")
    labels = rng.integers(0, 3, (num_batches * batch_size, size, size)).astype("int32")
    labels[:, :4] = 255
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def test_paper_compile_sums_the_loss_and_decays_kernels_only(tiny_fcn):
    model = training.compile_for_training(
        tiny_fcn, registry.get("fcn8s").paper_recipe, num_classes=3
    )
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.99
    assert model.loss.reduction == "sum" and model.loss.ignore_class == 255
    kernels = [
        layer.kernel
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.trainable
    ]
    expected = sum(2.5e-4 * float(np.sum(np.square(kernel.numpy()))) for kernel in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert len(model.losses) == len(kernels)  # no decay on biases or frozen upsamplers


def test_default_recipe_trains_and_logs_the_four_scores(tiny_fcn, tmp_path):
    model = training.compile_for_training(
        tiny_fcn, training.default_recipe(1e-3, batch_size=2), num_classes=3, total_steps=4
    )
    history = training.fit(model, _batches(), _batches(seed=1), 2, str(tmp_path), verbose=0)
    for key in ("mean_iou", "pixel_accuracy", "mean_accuracy", "frequency_weighted_iou"):
        assert len(history.history[key]) == 2 and len(history.history[f"val_{key}"]) == 2
    assert (tmp_path / "final.keras").exists() and (tmp_path / "best.keras").exists()
    csv_rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 3 and "val_mean_iou" in csv_rows[0]


def test_a_nan_loss_stops_training_with_a_clear_error(tiny_fcn, tmp_path):
    model = training.compile_for_training(
        tiny_fcn, training.default_recipe(1e-3, batch_size=2), num_classes=3
    )
    score_fr = model.get_layer("score_fr")
    score_fr.set_weights([score_fr.get_weights()[0], np.full(3, np.nan, "float32")])
    with pytest.raises(training.NaNLossError, match="loss became nan"):
        training.fit(model, _batches(), None, 3, str(tmp_path), verbose=0)
    assert not (tmp_path / "final.keras").exists()


def test_mixed_precision_training_keeps_logits_and_loss_float32(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        model = registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")
        training.compile_for_training(model, training.default_recipe(1e-4, 2), num_classes=3)
        history = training.fit(model, _batches(), None, 1, str(tmp_path), verbose=0)
        assert model.get_layer("block1_conv1").compute_dtype == "float16"
        assert model.output.dtype == "float32"
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert np.isfinite(history.history["loss"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _with_random_scores(model, seed=0):
    """Random score kernels: a fresh FCN scores zero, which would leave little to compare."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("score") and layer.weights:
            kernel = layer.kernel
            scale = 1 / np.sqrt(kernel.shape[2])
            kernel.assign(rng.normal(0, scale, kernel.shape).astype("float32"))
    return model


@pytest.mark.parametrize("geometry", ["original", "aligned"])
def test_xla_loss_and_gradients_equal_the_graph_ones(geometry):
    # What an XLA device (TPU, or GPU with Keras' default jit_compile) runs: every layer of the
    # net (pad, ceil pools, MatmulConv2D fc6, crops, transposed convolutions) compiled together,
    # forward and backward, on an input that is not a multiple of 32.
    keras.utils.set_random_seed(0)
    model = _with_random_scores(
        registry.build("fcn8s", 3, weights=None, fc_units=8, geometry=geometry)
    )
    images, labels = next(iter(_batches(size=44)))
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)

    def loss_and_gradients(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_function(labels, model(images, training=False))
        return loss, tape.gradient(loss, model.trainable_variables)

    graph_loss, graph_gradients = tf.function(loss_and_gradients)(images, labels)
    xla_loss, xla_gradients = tf.function(loss_and_gradients, jit_compile=True)(images, labels)
    assert float(xla_loss) == pytest.approx(float(graph_loss), rel=1e-5)
    for variable, graph, xla in zip(
        model.trainable_variables, graph_gradients, xla_gradients, strict=True
    ):
        scale = float(tf.reduce_max(tf.abs(graph)))
        assert scale > 0, f"no gradient reaches {variable.path}"
        np.testing.assert_allclose(xla, graph, rtol=1e-3, atol=1e-4 * scale, err_msg=variable.path)


def test_xla_training_in_mixed_bfloat16_logs_finite_loss_and_scores(tmp_path):
    # A TPU's usual configuration: bfloat16 compute, float32 variables, XLA-compiled steps.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        model = registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")
        training.compile_for_training(
            model, training.default_recipe(1e-4, 2), num_classes=3, jit_compile=True
        )
        history = training.fit(model, _batches(), _batches(seed=1), 1, str(tmp_path), verbose=0)
        assert model.get_layer("block1_conv1").compute_dtype == "bfloat16"
        assert model.get_layer("fc6").kernel.dtype == "float32"
        assert model.output.dtype == "float32"
        assert np.isfinite(history.history["loss"][0])
        for key in ("mean_iou", "val_mean_iou", "pixel_accuracy", "val_pixel_accuracy"):
            assert 0.0 <= history.history[key][0] <= 1.0, key
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_progress_is_one_line_per_epoch_when_not_in_a_terminal(tiny_fcn, tmp_path, capsys):
    model = training.compile_for_training(
        tiny_fcn, training.default_recipe(1e-3, batch_size=2), num_classes=3
    )
    training.fit(model, _batches(), None, 2, str(tmp_path))  # verbose="auto", stdout captured
    lines = [line for line in capsys.readouterr().out.splitlines() if "loss:" in line]
    assert len(lines) == 2 and all(line.startswith("2/2 - ") for line in lines)
    assert "━" not in "".join(lines)  # no progress bar
