"""Checks the model factories' tests share: logits of the input's size, kept float32 under
mixed precision, the `.keras` round trip, the SavedModel export serving like the model, weights
copied by name, and the arguments every VGG16 model factory refuses."""

import keras
import numpy as np

INVALID_ARGUMENTS = [
    ({"weights": "/no/such/file.h5"}, "no file exists"),
    ({"input_shape": (None, None, 1)}, "input_shape"),
    ({"num_classes": 0}, "positive"),
]
"""`(arguments, message)`: what every VGG16 model factory refuses, and a word of its error."""


def assert_logits_match_input_size(model, size, num_classes):
    """`model` returns float32 logits of `num_classes` at each pixel of a uint8 image of `size`."""
    logits = model(np.zeros((1, *size, 3), "uint8"))
    assert tuple(logits.shape) == (1, *size, num_classes)
    assert logits.dtype == "float32"


def assert_logits_stay_float32_under_mixed_precision(build, layer_name, size):
    """Under the `mixed_float16` policy, the model `build()` returns computes `layer_name` in
    float16 and returns float32 logits for a uint8 image of `size`."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build()
        assert model.get_layer(layer_name).compute_dtype == "float16"
        assert model(np.zeros((1, *size, 3), "uint8")).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def assert_round_trip_gives_identical_outputs(model, path, images):
    """`model` saved to `path` (a `.keras` file) and loaded back computes the same outputs on
    `images`, to the bit."""
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(images)), keras.ops.convert_to_numpy(model(images))
    )


def assert_saved_model_serves_like_the_model(model, export_dir, sizes):
    """`model` exported for serving to `export_dir` predicts the model's argmax on a random
    uint8 image (seed 6) of each of `sizes`."""
    from keras_fcn.export import export_for_serving, load_predictor

    predict = load_predictor(export_for_serving(model, export_dir))
    for size in sizes:
        images = np.random.default_rng(6).integers(0, 256, (1, *size, 3)).astype("uint8")
        expected = np.argmax(keras.ops.convert_to_numpy(model(images.astype("float32"))), -1)
        np.testing.assert_array_equal(predict(images), expected)


def assert_same_weights(model, source, layer_names):
    """The layers `layer_names` of `model` hold the weights of `source`'s layers of the same
    names, array for array."""
    for name in layer_names:
        for ours, theirs in zip(
            model.get_layer(name).get_weights(), source.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs, err_msg=name)
