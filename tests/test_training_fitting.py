"""Compiling with a recipe and training.

Tests marked `backends` train with `model.fit` on numpy arrays and Python generators on every
Keras backend (see tests/conftest.py); the others use `tf.data` and TensorFlow's XLA and take
TensorFlow from the `tf` fixture.
"""

import dataclasses
import math

import keras
import numpy as np
import pytest
from score_reference import fast_hist, reference_scores

from keras_fcn import registry, training
from keras_fcn.inference import logits_function

SCORES = ("pixel_accuracy", "mean_accuracy", "mean_iou", "frequency_weighted_iou")


@pytest.fixture()
def tiny_fcn():
    keras.utils.set_random_seed(0)
    return registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")


def _arrays(count=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, size, size, 3)).astype("float32")
    labels = rng.integers(0, 3, (count, size, size)).astype("int32")
    labels[:, :4] = 255
    return images, labels


def _batches(tf, num_batches=2, batch_size=2, size=32, seed=0):
    arrays = _arrays(num_batches * batch_size, size, seed)
    return tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size)


@pytest.mark.backends
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
    expected = sum(
        2.5e-4 * float(np.sum(np.square(keras.ops.convert_to_numpy(kernel)))) for kernel in kernels
    )
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert len(model.losses) == len(kernels)  # no decay on biases or frozen upsamplers


def test_segnet_paper_compile_also_decays_the_batch_normalization_scales():
    # segnet_train.prototxt: decay_mult 1 on convolution weights and BN scales, 0 on biases
    # and BN shifts; weight_decay 5e-4 is an L2 penalty of 2.5e-4 · ‖w‖².
    model = registry.build("segnet-basic", 3, weights=None)
    model.get_layer("conv1_bn").gamma.assign(np.full(64, 2.0, "float32"))
    training.compile_for_training(model, registry.get("segnet-basic").paper_recipe, 3)
    assert model.optimizer.momentum == 0.9 and model.loss.reduction == "sum_over_batch_size"
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    scales = [
        layer.gamma for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert (len(kernels), len(scales)) == (9, 8)
    expected = sum(2.5e-4 * float(np.sum(np.square(v.numpy()))) for v in kernels + scales)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert len(model.losses) == 9 + 8


def test_default_recipe_trains_and_logs_the_four_scores(tf, tiny_fcn, tmp_path):
    model = training.compile_for_training(
        tiny_fcn, training.default_recipe(1e-3, batch_size=2), num_classes=3, total_steps=4
    )
    history = training.fit(model, _batches(tf), _batches(tf, seed=1), 2, str(tmp_path), verbose=0)
    for key in ("mean_iou", "pixel_accuracy", "mean_accuracy", "frequency_weighted_iou"):
        assert len(history.history[key]) == 2 and len(history.history[f"val_{key}"]) == 2
    assert (tmp_path / "final.keras").exists() and (tmp_path / "best.keras").exists()
    csv_rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 3 and "val_mean_iou" in csv_rows[0]


def test_a_nan_loss_stops_training_with_a_clear_error(tf, tiny_fcn, tmp_path):
    model = training.compile_for_training(
        tiny_fcn, training.default_recipe(1e-3, batch_size=2), num_classes=3
    )
    score_fr = model.get_layer("score_fr")
    score_fr.set_weights([score_fr.get_weights()[0], np.full(3, np.nan, "float32")])
    with pytest.raises(training.NaNLossError, match="loss became nan"):
        training.fit(model, _batches(tf), None, 3, str(tmp_path), verbose=0)
    assert not (tmp_path / "final.keras").exists()


def test_mixed_precision_training_keeps_logits_and_loss_float32(tf, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        model = registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")
        training.compile_for_training(model, training.default_recipe(1e-4, 2), num_classes=3)
        history = training.fit(model, _batches(tf), None, 1, str(tmp_path), verbose=0)
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
def test_xla_loss_and_gradients_equal_the_graph_ones(tf, geometry):
    # What an XLA device (TPU, or GPU with Keras' default jit_compile) runs: every layer of the
    # net (pad, ceil pools, MatmulConv2D fc6, crops, transposed convolutions) compiled together,
    # forward and backward, on an input that is not a multiple of 32.
    keras.utils.set_random_seed(0)
    model = _with_random_scores(
        registry.build("fcn8s", 3, weights=None, fc_units=8, geometry=geometry)
    )
    images, labels = next(iter(_batches(tf, size=44)))
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


def test_xla_training_in_mixed_bfloat16_logs_finite_loss_and_scores(tf, tmp_path):
    # A TPU's usual configuration: bfloat16 compute, float32 variables, XLA-compiled steps.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        model = registry.build("fcn8s", 3, weights=None, fc_units=8, geometry="aligned")
        training.compile_for_training(
            model, training.default_recipe(1e-4, 2), num_classes=3, jit_compile=True
        )
        history = training.fit(
            model, _batches(tf), _batches(tf, seed=1), 1, str(tmp_path), verbose=0
        )
        assert model.get_layer("block1_conv1").compute_dtype == "bfloat16"
        assert model.get_layer("fc6").kernel.dtype == "float32"
        assert model.output.dtype == "float32"
        assert np.isfinite(history.history["loss"][0])
        for key in ("mean_iou", "val_mean_iou", "pixel_accuracy", "val_pixel_accuracy"):
            assert 0.0 <= history.history[key][0] <= 1.0, key
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _pixel_net(num_classes=3, seed=0):
    """Two convolutions from RGB to class logits: a net that trains in seconds on any backend."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(num_classes, 1),
        ]
    )


def _learnable(count=8, size=16, seed=0):
    """Images whose brightest channel is each pixel's class; a tenth of the pixels void."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (count, size, size, 3)).astype("float32")
    labels = images.argmax(-1).astype("int32")
    labels[rng.random(labels.shape) < 0.1] = 255
    return images, labels


def _values(variables):
    return [keras.ops.convert_to_numpy(variable).copy() for variable in variables]


def _all_changed(before, variables):
    return all(
        not np.array_equal(old, new) for old, new in zip(before, _values(variables), strict=True)
    )


@pytest.mark.backends
def test_default_recipe_fits_numpy_arrays_and_follows_its_schedule():
    recipe = training.default_recipe(1e-2, batch_size=4, warmup_steps=2)
    model = training.compile_for_training(_pixel_net(), recipe, num_classes=3, total_steps=8)
    before = _values(model.trainable_variables)
    images, labels = _learnable()
    history = model.fit(images, labels, batch_size=4, epochs=3, shuffle=False, verbose=0).history
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 6
    # Linear warm-up over 2 steps, then half a cosine over the 6 left: after 6 steps, 4 in.
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert rate == pytest.approx(1e-2 * 0.5 * (1 + math.cos(math.pi * 4 / 6)), rel=1e-5)
    assert history["loss"][-1] < history["loss"][0]
    assert all(math.isfinite(history[key][-1]) for key in SCORES)
    assert _all_changed(before, model.trainable_variables)


@pytest.mark.backends
def test_fit_evaluate_and_predict_take_python_generators():
    images, labels = _learnable()
    recipe = training.default_recipe(1e-2, batch_size=4, warmup_steps=0)
    model = training.compile_for_training(_pixel_net(), recipe, num_classes=3)

    def batches():
        while True:  # Keras reads steps_per_epoch batches of it per epoch
            yield images[:4], labels[:4]
            yield images[4:], labels[4:]

    history = model.fit(batches(), steps_per_epoch=2, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    logits = model.predict(((images[start : start + 4],) for start in (0, 4)), verbose=0)
    np.testing.assert_allclose(
        logits, keras.ops.convert_to_numpy(model(images)), rtol=1e-5, atol=1e-6
    )
    pairs = ((images[start : start + 4], labels[start : start + 4]) for start in (0, 4))
    logs = model.evaluate(pairs, verbose=0, return_dict=True)
    expected = reference_scores(fast_hist(labels, logits.argmax(-1), 3))[0]
    for key in SCORES:
        assert logs[key] == pytest.approx(expected[key], rel=1e-5), key


@pytest.mark.backends
def test_paper_recipe_sums_the_loss_over_labelled_pixels_and_trains():
    recipe = registry.get("fcn8s").paper_recipe
    model = training.compile_for_training(_pixel_net(), recipe, num_classes=3)
    images, labels = _learnable(count=4)
    loss = model.evaluate(images, labels, batch_size=4, verbose=0, return_dict=True)["loss"]
    # Numpy reference: cross-entropy summed over labelled pixels, plus Caffe's weight decay
    # 5e-4 as 2.5e-4·‖w‖² on the kernels.
    logits = keras.ops.convert_to_numpy(model(images)).astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    labelled = labels != 255
    picked = np.take_along_axis(log_probs, np.where(labelled, labels, 0)[..., None], -1)[..., 0]
    kernels = [keras.ops.convert_to_numpy(layer.kernel) for layer in model.layers]
    expected = -picked[labelled].sum() + 2.5e-4 * sum(np.sum(kernel**2) for kernel in kernels)
    assert loss == pytest.approx(expected, rel=1e-5)

    # At the paper's rate (1e-14) float32 weights would not move; a larger one shows the steps.
    faster = dataclasses.replace(recipe, learning_rate=1e-5)
    model = training.compile_for_training(model, faster, num_classes=3)
    before = _values(model.trainable_variables)
    history = model.fit(images, labels, batch_size=2, epochs=2, verbose=0).history
    assert all(math.isfinite(value) for value in history["loss"])
    assert all(math.isfinite(history[key][-1]) for key in SCORES)
    assert _all_changed(before, model.trainable_variables)


@pytest.mark.backends
@pytest.mark.slow
def test_an_fcn_fits_numpy_arrays_with_the_default_recipe(tiny_fcn):
    recipe = training.default_recipe(1e-3, batch_size=2, warmup_steps=0)
    model = training.compile_for_training(tiny_fcn, recipe, num_classes=3)
    score_fr = model.get_layer("score_fr").kernel
    assert not np.any(keras.ops.convert_to_numpy(score_fr))  # the original's zero start
    images, labels = _arrays(count=2)
    history = model.fit(images, labels, batch_size=2, epochs=2, verbose=0).history
    assert all(math.isfinite(value) for value in history["loss"])
    assert all(math.isfinite(history[key][-1]) for key in SCORES)
    assert np.any(keras.ops.convert_to_numpy(score_fr))


def test_progress_is_one_line_per_epoch_when_not_in_a_terminal(tf, tiny_fcn, tmp_path, capsys):
    model = training.compile_for_training(
        tiny_fcn, training.default_recipe(1e-3, batch_size=2), num_classes=3
    )
    training.fit(model, _batches(tf), None, 2, str(tmp_path))  # verbose="auto", stdout captured
    lines = [line for line in capsys.readouterr().out.splitlines() if "loss:" in line]
    assert len(lines) == 2 and all(line.startswith("2/2 - ") for line in lines)
    assert "━" not in "".join(lines)  # no progress bar


def _two_headed_model():
    """A model with an auxiliary head, as torchvision's nets and PSPNet build it."""
    keras.utils.set_random_seed(1)
    images = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(images)
    outputs = {
        "out": keras.layers.Conv2D(3, 1, name="logits")(features),
        "aux": keras.layers.Conv2D(3, 1, name="aux_logits")(features),
    }
    return keras.Model(images, outputs)


def _cross_entropy(logits, labels):
    """The mean cross-entropy over labelled pixels (numpy)."""
    logits = np.asarray(logits, np.float64)
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    labelled = labels != 255
    picked = np.take_along_axis(log_probabilities, np.where(labelled, labels, 0)[..., None], -1)
    return -picked[..., 0][labelled].mean()


def test_the_auxiliary_head_adds_its_weighted_loss_and_is_left_out_of_inference(tf, tmp_path):
    model = _two_headed_model()
    recipe = dataclasses.replace(training.default_recipe(), aux_loss_weight=0.4)
    training.compile_for_training(model, recipe, num_classes=3)
    images, labels = _arrays()
    outputs = model(images)

    results = model.evaluate(
        images, {"out": labels, "aux": labels}, batch_size=4, verbose=0, return_dict=True
    )

    out, aux = (_cross_entropy(outputs[name], labels) for name in ("out", "aux"))
    assert results["loss"] == pytest.approx(out + 0.4 * aux, rel=1e-4)
    assert 0 <= results["mean_iou"] <= 1
    history = training.fit(model, _batches(tf), _batches(tf, seed=1), 1, str(tmp_path), verbose=0)
    assert {"out_loss", "aux_loss", "val_mean_iou"} <= set(history.history)
    assert (tmp_path / "best.keras").exists()
    logits = keras.ops.convert_to_numpy(logits_function(model)(images))
    np.testing.assert_allclose(logits, keras.ops.convert_to_numpy(model(images)["out"]), atol=1e-5)
