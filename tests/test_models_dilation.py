import caffe_reference
import keras
import model_checks
import numpy as np
import pytest

import keras_fcn
from keras_fcn import registry
from keras_fcn.backbones.preprocessing import DILATION_VOC_MEAN_BGR, IMAGENET_MEAN_BGR
from keras_fcn.backbones.vgg16 import CAFFE_CONV_NAMES, CONV_NAMES
from keras_fcn.models.dilation import CONTEXT_LAYERS, build_dilation

NARROW = 8
EXPORTED = "dilation8-large"
KERAS_NAMES = dict(zip(CAFFE_CONV_NAMES, CONV_NAMES, strict=True))
LABEL_MARGIN = 186
DEPLOY_PROTOTXT = [
    # models/dilation8_pascal_voc_deploy.prototxt: (name, num_output, kernel_size, inputs,
    # dilation, pad); every convolution unpadded but ct_conv1_1.
    ("conv1_1", 64, 3, 3, 1, 0),
    ("conv1_2", 64, 3, 64, 1, 0),
    ("conv2_1", 128, 3, 64, 1, 0),
    ("conv2_2", 128, 3, 128, 1, 0),
    ("conv3_1", 256, 3, 128, 1, 0),
    ("conv3_2", 256, 3, 256, 1, 0),
    ("conv3_3", 256, 3, 256, 1, 0),
    ("conv4_1", 512, 3, 256, 1, 0),
    ("conv4_2", 512, 3, 512, 1, 0),
    ("conv4_3", 512, 3, 512, 1, 0),
    ("conv5_1", 512, 3, 512, 2, 0),
    ("conv5_2", 512, 3, 512, 2, 0),
    ("conv5_3", 512, 3, 512, 2, 0),
    ("fc6", 4096, 7, 512, 4, 0),
    ("fc7", 4096, 1, 4096, 1, 0),
    ("fc-final", 21, 1, 4096, 1, 0),
    ("ct_conv1_1", 42, 3, 21, 1, 33),
    ("ct_conv1_2", 42, 3, 42, 1, 0),
    ("ct_conv2_1", 84, 3, 42, 2, 0),
    ("ct_conv3_1", 168, 3, 84, 4, 0),
    ("ct_conv4_1", 336, 3, 168, 8, 0),
    ("ct_conv5_1", 672, 3, 336, 16, 0),
    ("ct_fc1", 672, 3, 672, 1, 0),
    ("ct_final", 21, 1, 672, 1, 0),
]
NAMES = ("dilation8", "dilation8-basic", "dilation8-large")


@pytest.fixture(scope="module")
def full_models():
    return {
        context: keras_fcn.Dilation8(21, context=context, weights=None)
        for context in ("none", "basic", "large")
    }


@pytest.fixture(scope="module")
def narrow_models():
    keras.utils.set_random_seed(0)
    return {name: registry.build(name, 3, weights=None, fc_units=NARROW) for name in NAMES}


@pytest.mark.parametrize(
    "context, expected",
    [
        # VGG16 convolutions 14,714,688; fc6 7·7·512·4096 + 4096 = 102,764,544; fc7 4096² +
        # 4096 = 16,781,312; fc-final 4096·21 + 21 = 86,037.
        ("none", 134_346_581),
        # Basic: 7 · (21·21·9 + 21) + (21·21 + 21) = 28,392.
        ("basic", 134_346_581 + 28_392),
        # Large: 21→42, 42→42, 42→84, 84→168, 168→336, 336→672, 672→672 (3×3), 672→21 (1×1):
        # 7,980 + 15,918 + 31,836 + 127,176 + 508,368 + 2,032,800 + 4,064,928 + 14,133.
        ("large", 134_346_581 + 6_803_139),
    ],
)
def test_parameter_counts_equal_the_papers(full_models, context, expected):
    assert full_models[context].count_params() == expected


def test_every_parameter_layer_of_the_deploy_prototxt_is_there_with_its_geometry(full_models):
    model = full_models["large"]
    with_weights = {layer.name for layer in model.layers if layer.weights}
    assert with_weights == {KERAS_NAMES.get(row[0], row[0]) for row in DEPLOY_PROTOTXT}
    for caffe_name, outputs, kernel_size, inputs, dilation, _ in DEPLOY_PROTOTXT:
        layer = model.get_layer(KERAS_NAMES.get(caffe_name, caffe_name))
        kernel, bias = layer.get_weights()
        # Caffe's blobs (out, in, kh, kw) and (out,) in Keras' layout (kh, kw, in, out).
        assert kernel.shape == (kernel_size, kernel_size, inputs, outputs), caffe_name
        assert bias.shape == (outputs,), caffe_name
        assert layer.dilation_rate == (dilation, dilation), caffe_name
        assert layer.padding == "valid", caffe_name
    assert model.get_layer("ct_conv1_1_pad").padding == ((33, 33), (33, 33))


@pytest.mark.parametrize("size", [(1, 1), (37, 53), (97, 131)])
@pytest.mark.parametrize("name", NAMES)
def test_output_matches_input_size(narrow_models, name, size):
    model_checks.assert_logits_match_input_size(narrow_models[name], size, num_classes=3)


@pytest.mark.parametrize(
    "size, scores",
    [
        # 8n pixels give n scores, plus the one past the image: 528 → 66 + 1.
        (528, 67),
        (37, 6),  # ceil(37 / 8) + 1
        (1, 2),
    ],
)
def test_output_stride_is_8(narrow_models, size, scores):
    model = narrow_models["dilation8"]
    scores_model = keras.Model(model.input, model.get_layer("fc-final").output)
    assert scores_model.compute_output_shape((1, size, size, 3))[1:3] == (scores, scores)
    if size < 100:
        assert scores_model(np.zeros((1, size, size, 3))).shape[1:3] == (scores, scores)


def test_deploy_input_of_900_gives_66_scores(narrow_models):
    # The released deploy net, from conv1_1 to fc-final: 900×900 in, 66×66 out.
    model = narrow_models["dilation8"]
    net = keras.Model(model.get_layer(CONV_NAMES[0]).input, model.get_layer("fc-final").output)
    assert net.compute_output_shape((1, 900, 900, 3)) == (1, 66, 66, 3)


def test_fresh_basic_context_module_is_the_identity_on_its_input(narrow_models):
    model = narrow_models["dilation8-basic"]
    names = ["ct_conv1_1_pad", *(name for name, _ in CONTEXT_LAYERS), "ct_final"]
    context = keras.Sequential([model.get_layer(name) for name in names])
    scores = np.random.default_rng(0).normal(size=(1, 9, 12, 3)).astype("float32")
    # ReLUs follow the first seven layers: positive scores pass, negative ones become 0.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(context(scores)), np.maximum(scores, 0)
    )


def test_fresh_large_context_module_is_close_to_the_identity(narrow_models):
    model = narrow_models["dilation8-large"]
    scores_model = keras.Model(model.input, model.get_layer("fc-final").output)
    context_model = keras.Model(model.input, model.get_layer("ct_final").output)
    images = np.random.default_rng(1).integers(0, 256, (1, 40, 48, 3)).astype("float32")
    scores = keras.ops.convert_to_numpy(scores_model(images))
    context = keras.ops.convert_to_numpy(context_model(images))
    # The large module's identity carries noise of 1% of its centre weights.
    np.testing.assert_allclose(context, np.maximum(scores, 0), atol=0.05 * np.abs(scores).max())


def front_end_scores(model, padded):
    """The deploy prototxt's front end (conv1_1 … fc-final) on one tile, with raw ops."""

    def weights(name):
        return model.get_layer(KERAS_NAMES.get(name, name)).get_weights()

    x = padded
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        for conv in range(1, convs + 1):
            dilation = 2 if block == 5 else 1
            x = caffe_reference.convolution(x, *weights(f"conv{block}_{conv}"), dilation=dilation)
        if block <= 3:
            x = caffe_reference.pooling(x, 2, 2)
    x = caffe_reference.convolution(x, *weights("fc6"), dilation=4)
    x = caffe_reference.convolution(x, *weights("fc7"))
    return caffe_reference.convolution(x, *weights("fc-final"), relu=False)


def context_scores(model, scores):
    """The deploy prototxt's context module with raw ops: pad 33 at ct_conv1_1, then unpadded."""
    x = caffe_reference.convolution(scores, *model.get_layer("ct_conv1_1").get_weights(), pad=33)
    names = ["ct_conv1_2", "ct_conv2_1", "ct_conv3_1", "ct_conv4_1", "ct_conv5_1", "ct_fc1"]
    for name, dilation in zip(names, [1, 2, 4, 8, 16, 1], strict=True):
        x = caffe_reference.convolution(x, *model.get_layer(name).get_weights(), dilation=dilation)
    return caffe_reference.convolution(x, *model.get_layer("ct_final").get_weights(), relu=False)


def predict_py(model, image, tile, context):
    """`predict.py` with a deploy net of input `tile` (height, width): the mean subtracted, the
    image reflected by 186, tiles of `tile` reflected up to it at the end, their scores
    concatenated and zoomed 8× by `interp_map`; the net's scores before the softmax."""
    image = np.asarray(image, np.float32)[..., ::-1] - np.array(IMAGENET_MEAN_BGR, np.float32)
    margin = [(LABEL_MARGIN, LABEL_MARGIN)] * 2 + [(0, 0)]
    padded = np.pad(image, margin, mode="reflect")  # cv2.BORDER_REFLECT_101
    outputs = [side - 2 * LABEL_MARGIN for side in tile]
    tiles = [-(-image.shape[axis] // outputs[axis]) for axis in (0, 1)]
    rows = []
    for h in range(tiles[0]):
        row = []
        for w in range(tiles[1]):
            piece = padded[h * outputs[0] : h * outputs[0] + tile[0]]
            piece = piece[:, w * outputs[1] : w * outputs[1] + tile[1]]
            grow = [(0, tile[0] - piece.shape[0]), (0, tile[1] - piece.shape[1]), (0, 0)]
            scores = front_end_scores(model, np.pad(piece, grow, mode="reflect")[None])
            if context:
                scores = context_scores(model, scores)
            row.append(np.asarray(scores))
        rows.append(np.concatenate(row, axis=2))
    scores = np.concatenate(rows, axis=1)
    return scores, caffe_reference.zoom_interp_map(scores, 8, *image.shape[:2])


def reference_model(context, seed):
    """A narrow Dilation8 with positive fc-final weights and a bias of either sign, so that the
    scores do not cancel out (float32 rounding stays well below the tolerance) while the first
    context ReLU still cuts some of them; the context module random around its identity."""
    keras.utils.set_random_seed(seed)
    model = build_dilation(3, context=context, weights=None, fc_units=NARROW)
    rng = np.random.default_rng(seed)
    fc_final = model.get_layer("fc-final")
    kernel, bias = fc_final.get_weights()
    fc_final.set_weights([np.abs(rng.normal(0, 0.1, kernel.shape)), rng.normal(0, 1, bias.shape)])
    for layer in model.layers:
        if layer.name.startswith("ct_") and layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights(
                [kernel + rng.normal(0, 0.05, kernel.shape), rng.normal(0, 0.1, bias.shape)]
            )
    return model


@pytest.mark.slow
def test_front_end_equals_predict_py_tiles_with_raw_ops():
    # Tiles of 16×16 pixels (2×2 scores) over a 13×21 image: 1 × 2 tiles, the last reflected.
    model = reference_model("none", seed=2)
    image = np.random.default_rng(2).integers(0, 256, (13, 21, 3)).astype("float32")
    expected, _ = predict_py(model, image, (388, 388), context=False)
    scores_model = keras.Model(model.input, model.get_layer("fc-final").output)
    actual = keras.ops.convert_to_numpy(scores_model(image[None]))
    assert expected.shape[1:3] == (2, 4) and actual.shape[1:3] == (3, 4)
    assert caffe_reference.relative_error(actual[:, :2], expected) <= 1e-5


@pytest.mark.slow
def test_values_with_the_large_context_equal_predict_py_with_raw_ops():
    # The deploy net sized to the image: 13×21 → 24×32 pixels of scores (3×4, one past).
    model = reference_model("large", seed=3)
    image = np.random.default_rng(3).integers(0, 256, (13, 21, 3)).astype("float32")
    _, expected = predict_py(model, image, (372 + 24, 372 + 32), context=True)
    actual = keras.ops.convert_to_numpy(model(image[None]))
    assert np.abs(expected).max() > 0
    assert caffe_reference.relative_error(actual, expected) <= 1e-5


def test_surgery_keeps_the_classifier_and_starts_the_new_layers_as_released(
    vgg16_classifier_file,
):
    classifier, path = vgg16_classifier_file
    model = keras_fcn.Dilation8(21, context="basic", weights=path)
    model_checks.assert_same_weights(model, classifier, CONV_NAMES)
    fc1_kernel, fc1_bias = classifier.get_layer("fc1").get_weights()
    fc6_kernel, fc6_bias = model.get_layer("fc6").get_weights()
    # fc1 reads the 7×7×512 pool5 row by row: its kernel is fc6's, dilation or not.
    np.testing.assert_array_equal(fc6_kernel[2, 5, 17], fc1_kernel[(2 * 7 + 5) * 512 + 17])
    np.testing.assert_array_equal(fc6_bias, fc1_bias)
    np.testing.assert_array_equal(
        model.get_layer("fc7").get_weights()[0][0, 0], classifier.get_layer("fc2").get_weights()[0]
    )
    # fc-final: Gaussian std 0.001 (network.py); the basic context module: exact identity.
    assert np.std(model.get_layer("fc-final").get_weights()[0]) == pytest.approx(0.001, rel=0.05)
    centre = model.get_layer("ct_conv3_1").get_weights()[0][1, 1]
    np.testing.assert_array_equal(centre, np.eye(21))


def test_logits_stay_float32_under_mixed_precision():
    model_checks.assert_logits_stay_float32_under_mixed_precision(
        lambda: keras_fcn.Dilation8(3, context="large", weights=None, fc_units=NARROW),
        "ct_conv5_1",
        (17, 19),
    )


def test_save_and_load_round_trip_gives_identical_outputs(tmp_path, narrow_models):
    images = np.random.default_rng(5).integers(0, 256, (1, 21, 30, 3)).astype("float32")
    model_checks.assert_round_trip_gives_identical_outputs(
        narrow_models["dilation8-large"], tmp_path / "model.keras", images
    )


def test_the_mean_of_the_weights_goes_into_the_model():
    model = build_dilation(3, weights=None, fc_units=NARROW, mean=DILATION_VOC_MEAN_BGR)
    assert model.get_layer("preprocessing").mean == DILATION_VOC_MEAN_BGR


@pytest.mark.parametrize(
    "kwargs, message",
    [({"context": "huge"}, "context must be one of"), *model_checks.INVALID_ARGUMENTS],
)
def test_invalid_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_fcn.Dilation8(**{"num_classes": 3, "weights": None, "fc_units": NARROW, **kwargs})


@pytest.mark.slow
def test_exported_saved_model_serves_any_size_like_the_model(tmp_path, narrow_models):
    model_checks.assert_saved_model_serves_like_the_model(
        narrow_models[EXPORTED], str(tmp_path / "saved"), sizes=[(23, 41), (50, 37)]
    )
