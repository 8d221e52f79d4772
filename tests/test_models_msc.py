"""`keras_fcn.models.msc`: DeepLab v2's multi-scale test net around a model, against a numpy
reference of its resizing and fusion (`resnet_reference.interp`, Caffe's `caffe_cpu_interp2`).

The module's tests are marked `backends`: they also run with `KERAS_BACKEND=jax` and `torch`.
"""

import keras
import numpy as np
import pytest
import resnet_reference

from keras_fcn import registry
from keras_fcn.layers import ZoomToReference, interp_size
from keras_fcn.models.msc import multi_scale, scale_factors

pytestmark = pytest.mark.backends


def tiny_deeplab(num_classes=4):
    """A DeepLab-shaped model: scores at 1/8 (an 8×8 convolution of stride 8), zoomed ×8 to the
    input with corners aligned."""
    keras.utils.set_random_seed(0)
    images = keras.Input((None, None, 3), name="image")
    scores = keras.layers.Conv2D(num_classes, 8, strides=8, padding="same", name="score")(images)
    logits = ZoomToReference(8, dtype="float32", name="interp")([scores, images])
    return keras.Model(images, logits, name="tiny")


def numpy_msc(scores_of, images, scales, fuse=np.maximum, zoom=8):
    """The released test net's fusion in numpy: each scale's input resized by Caffe's factors
    (shrink, then zoom), its scores resized to the scale-1 scores' size, fused, zoomed ×8 with
    corners aligned and cropped to (or continued to) the image."""
    height, width = images.shape[1:3]
    reference = scores_of(images)
    fused = reference
    for scale in scales:
        if scale == 1.0:
            continue
        shrink, zoom_factor = scale_factors(scale)
        size = [interp_size(side, shrink, zoom_factor) for side in (height, width)]
        scores = scores_of(resnet_reference.interp(images, *size))
        fused = fuse(fused, resnet_reference.interp(scores, *reference.shape[1:3]))
    if zoom is None:
        return fused
    zoomed = resnet_reference.interp(fused, *(zoom * (side - 1) + 1 for side in fused.shape[1:3]))
    # Rows and columns past the last score's take its value (fc8_interp's crop to the image).
    short = [
        (0, 0),
        *((0, max(0, n - m)) for n, m in zip((height, width), zoomed.shape[1:3], strict=True)),
        (0, 0),
    ]
    return np.pad(zoomed, short, mode="edge")[:, :height, :width]


def test_resnet101_size_chain_is_the_released_test_nets_at_513():
    model = registry.build(
        "deeplab-aspp-resnet101",
        21,
        weights=None,
        kernel_initializer="zeros",
        input_shape=(513,) * 2 + (3,),
    )
    released = multi_scale(model)

    def side(name, index=None):
        layer = released.get_layer(name)
        tensor = layer.output if index is None else layer.input[index]
        return tuple(tensor.shape[1:3])

    # data_res075 (shrink 4, zoom 3): 513 → 129 → 385; data_res05 (shrink 2): 257.
    assert side("data_res075") == (385, 385) and side("data_res05") == (257, 257)
    # Scores: 513 → 65; 385 → 49; 257 → 33 (each 8k + 1 → k + 1).
    assert side("fc_fusion", 0) == (65, 65)
    assert side("fc1_voc12_res075_interp", 0) == (49, 49)
    assert side("fc1_voc12_res05_interp", 0) == (33, 33)
    # Resized to the scale-1 scores: 65 each, what the prototxt's factors give at 513
    # (res075: shrink 3, zoom 4: 49 → 17 → 65; res05: zoom 2: 33 → 65), then fc1_interp: 513.
    assert interp_size(49, 3, 4) == interp_size(33, 1, 2) == 65
    assert side("fc1_voc12_res075_interp") == side("fc1_voc12_res05_interp") == (65, 65)
    assert side("fc_fusion") == (65, 65) and side("fc1_interp") == (513, 513)
    assert released.output.shape == (None, 513, 513, 21)
    # One net, its weights shared by the three scales.
    assert len(released.weights) == len(model.weights)
    assert {id(v) for v in released.weights} == {id(v) for v in model.weights}


@pytest.mark.parametrize("size", [(57, 65), (46, 39)], ids=["8k+1", "other"])
def test_values_equal_the_numpy_fusion(size):
    model = tiny_deeplab()
    released = multi_scale(model)
    scores_model = keras.Model(model.input, model.get_layer("score").output)

    def scores_of(images):
        return keras.ops.convert_to_numpy(scores_model(images.astype("float32")))

    images = np.random.default_rng(1).uniform(0, 255, (2, *size, 3)).astype("float32")
    expected = numpy_msc(scores_of, images, (1.0, 0.75, 0.5))
    actual = keras.ops.convert_to_numpy(released(images))
    assert actual.shape == expected.shape == (2, *size, 4)
    assert resnet_reference.relative_error(actual, expected) <= 1e-5
    # The maximum differs from the scale-1 logits: the other scales win somewhere.
    single = keras.ops.convert_to_numpy(model(images))
    assert not np.allclose(actual, single)


def test_the_mean_fusion_and_other_scales():
    model = tiny_deeplab()
    released = multi_scale(model, scales=(0.5, 1.0, 1.25), fuse="mean")
    assert released.get_layer("data_res125").output.shape[1:3] == (None, None)
    scores_model = keras.Model(model.input, model.get_layer("score").output)
    images = np.random.default_rng(2).uniform(0, 255, (1, 41, 35, 3)).astype("float32")
    expected = numpy_msc(
        lambda x: keras.ops.convert_to_numpy(scores_model(x)),
        images,
        (1.25, 0.5),
        fuse=lambda total, scores: total + scores,
    )
    # The sum of three, zoomed, over three: the mean (the zoom is linear).
    actual = keras.ops.convert_to_numpy(released(images))
    assert resnet_reference.relative_error(actual, expected / 3) <= 1e-5


def test_a_model_without_a_zoom_is_fused_at_its_input_size():
    keras.utils.set_random_seed(3)
    images = keras.Input((None, None, 3))
    model = keras.Model(images, keras.layers.Conv2D(2, 3, padding="same", name="logits")(images))
    released = multi_scale(model)
    assert [layer.name for layer in released.layers if "interp" in layer.name] == [
        "logits_res075_interp",
        "logits_res05_interp",
    ]
    batch = np.random.default_rng(4).uniform(0, 1, (1, 23, 30, 3)).astype("float32")
    expected = numpy_msc(
        lambda x: keras.ops.convert_to_numpy(model(x)), batch, (0.75, 0.5), zoom=None
    )
    actual = keras.ops.convert_to_numpy(released(batch))
    assert resnet_reference.relative_error(actual, expected) <= 1e-5


def test_save_and_load_round_trip_gives_identical_outputs(tmp_path):
    released = multi_scale(tiny_deeplab())
    released.save(tmp_path / "msc.keras")
    restored = keras.models.load_model(tmp_path / "msc.keras")
    images = np.random.default_rng(5).uniform(0, 255, (1, 33, 41, 3)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(images)), keras.ops.convert_to_numpy(released(images))
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"scales": (0.5, 0.75)}, r"1\.0 .*received \(0\.5, 0\.75\)"),
        ({"scales": (1.0,)}, r"at least one other"),
        ({"scales": (1.0, -0.5)}, r"positive"),
        ({"scales": (1.0, 1 / 3 + 1e-3)}, r"fraction zoom / shrink"),
        ({"fuse": "min"}, r"fuse must be one of \('max', 'mean'\), received 'min'"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, message):
    with pytest.raises(ValueError, match=message):
        multi_scale(tiny_deeplab(), **arguments)


def test_a_model_of_several_inputs_is_refused():
    color, depth = keras.Input((None, None, 3)), keras.Input((None, None, 3))
    model = keras.Model([color, depth], keras.layers.Add()([color, depth]), name="two")
    with pytest.raises(ValueError, match="'two' has 2 inputs and 1 outputs"):
        multi_scale(model)
