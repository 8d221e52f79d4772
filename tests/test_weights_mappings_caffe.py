"""Loading and writing the Caffe FCN nets, DeepLab v2's ResNet-101 and PSPNet, against files of
fcn_release_reference's encoder (DeepLab v2's written from resnet_reference's parameters,
PSPNet's from pspnet_reference's, and compared with their raw-op forward passes)."""

import fcn_release_reference as ref
import keras
import numpy as np
import pytest
from random_weights import randomize_batch_normalization

from keras_fcn.models.deeplab import build_deeplab_resnet
from keras_fcn.models.fcn import FCN8S, FCN8S_AT_ONCE, FCN32S, build_fcn
from keras_fcn.models.pspnet import PSPNet
from keras_fcn.weights.formats.caffe import read_caffemodel
from keras_fcn.weights.mappings.caffe import (
    PSPNET_AUX_LAYERS,
    caffe_layer_name,
    caffe_scale_name,
    load_caffemodel,
    load_caffemodel_report,
    pspnet_caffe_name,
    save_caffemodel,
)

NARROW = 8
write = ref.write_net


def test_keras_names_map_to_caffe_names():
    assert caffe_layer_name("block1_conv1") == "conv1_1"
    assert caffe_layer_name("block5_conv3color") == "conv5_3color"
    for name in ("fc6", "score_fr_sem", "upscore8", "block1_pool", "scale_pool4"):
        assert caffe_layer_name(name) == name


@pytest.fixture(scope="module")
def fcn8s_layers():
    return ref.random_blobs(ref.fcn_layers("8s", {"": 3}, NARROW), seed=2)


def narrow_fcn8s(variant=FCN8S):
    return build_fcn(variant, 3, weights=None, fc_units=NARROW, mean=(104.0, 117.0, 123.0))


@pytest.mark.parametrize("legacy", [False, True], ids=["layer", "v1-layers"])
def test_loaded_kernels_are_the_blobs_transposed_unflipped(tmp_path, fcn8s_layers, legacy):
    path = write(tmp_path / "fcn8s.caffemodel", fcn8s_layers, legacy=legacy, legacy_shape=legacy)
    model = narrow_fcn8s()
    loaded = load_caffemodel(model, path)
    blobs = {name: arrays for name, _, arrays in fcn8s_layers if arrays}
    assert sorted(loaded) == sorted(blobs)
    # A convolution blob (out, in, kh, kw): Keras kernel[i, j, c, o] = blob[o, c, i, j].
    kernel, bias = model.get_layer("block3_conv2").get_weights()
    assert kernel[2, 0, 17, 5] == blobs["conv3_2"][0][5, 17, 2, 0]
    np.testing.assert_array_equal(bias, blobs["conv3_2"][1])
    # A deconvolution blob (in, out, kh, kw): Keras kernel[i, j, o, c] = blob[c, o, i, j].
    (upscore,) = model.get_layer("upscore8").get_weights()
    assert upscore[3, 11, 2, 0] == blobs["upscore8"][0][0, 2, 3, 11]
    np.testing.assert_array_equal(upscore, blobs["upscore8"][0].transpose(2, 3, 1, 0))


def test_a_loaded_fcn8s_computes_the_caffe_net(tmp_path, fcn8s_layers):
    model = narrow_fcn8s()
    load_caffemodel(model, write(tmp_path / "fcn8s.caffemodel", fcn8s_layers))
    image = np.random.default_rng(3).integers(0, 256, (29, 43, 3)).astype("uint8")
    blobs = {name: arrays for name, _, arrays in fcn8s_layers if arrays}
    expected = ref.fcn(blobs, image, (104.0, 117.0, 123.0), "8s")
    actual = keras.ops.convert_to_numpy(model(image[None]))
    assert ref.relative_error(actual, expected) <= 1e-5


def test_save_caffemodel_writes_what_caffe_reads(tmp_path):
    keras.utils.set_random_seed(4)
    model = narrow_fcn8s(FCN8S_AT_ONCE)
    path = str(tmp_path / "saved.caffemodel")
    save_caffemodel(model, path)
    # Byte for byte what the independent encoder writes for the same layers.
    stored = read_caffemodel(path)
    layers = [(name, layer.type, list(layer.blobs)) for name, layer in stored.items()]
    with open(path, "rb") as file:
        assert file.read() == ref.encode_net(layers, name=model.name)
    assert stored["scale_pool4"].type == "Scale"
    np.testing.assert_array_equal(stored["scale_pool4"].blobs[0], np.full(512, 0.01, "float32"))
    restored = narrow_fcn8s(FCN8S_AT_ONCE)
    load_caffemodel(restored, path)
    for ours, theirs in zip(restored.weights, model.weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)


# Bad input: every case is a ValueError naming the file and the layer, before any weight is set.


def unchanged(model, before):
    return all(np.array_equal(w, b) for w, b in zip(model.get_weights(), before, strict=True))


def test_a_truncated_file_is_reported(tmp_path, fcn8s_layers):
    data = ref.encode_net(fcn8s_layers)
    path = tmp_path / "truncated.caffemodel"
    path.write_bytes(data[: len(data) // 2])
    model = narrow_fcn8s()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"truncated.caffemodel: the file is truncated"):
        load_caffemodel(model, str(path))
    assert unchanged(model, before)


def test_a_file_cut_between_layers_lacks_the_last_ones(tmp_path, fcn8s_layers):
    data = ref.encode_net(fcn8s_layers[:-1])  # a file ending cleanly before upscore8
    path = tmp_path / "short.caffemodel"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"short.caffemodel is not the file.*no layer upscore8"):
        load_caffemodel(narrow_fcn8s(), str(path))


@pytest.mark.parametrize(
    "corruption",
    [
        lambda data: data[:40] + b"\xff" * 16 + data[56:],  # a layer's bytes overwritten
        lambda data: b"\x07" + data,  # an unknown wire type at the top level
        lambda data: bytes(np.random.default_rng(5).integers(0, 256, 4096, "uint8")),
    ],
    ids=["overwritten", "bad-wire-type", "random-bytes"],
)
def test_a_corrupt_file_is_reported(tmp_path, fcn8s_layers, corruption):
    path = tmp_path / "corrupt.caffemodel"
    path.write_bytes(corruption(ref.encode_net(fcn8s_layers)))
    with pytest.raises(ValueError, match=r"corrupt.caffemodel.*(corrupt|truncated)"):
        load_caffemodel(narrow_fcn8s(), str(path))


def test_another_nets_file_is_reported_with_what_differs(tmp_path, fcn8s_layers):
    fcn32s = ref.random_blobs(ref.fcn_layers("32s", {"": 3}, NARROW), seed=6)
    path = write(tmp_path / "fcn32s.caffemodel", fcn32s)
    model = narrow_fcn8s()
    before = model.get_weights()
    with pytest.raises(ValueError) as error:
        load_caffemodel(model, path)
    message = str(error.value)
    assert "fcn32s.caffemodel is not the file of the model" in message
    assert "no layer upscore2, score_pool4" in message and "lacks: upscore" in message
    assert unchanged(model, before)
    # The at-once file read as the staged FCN-8s: its skip scales would be lost.
    at_once = ref.random_blobs(ref.fcn_layers("8s", {"": 3}, NARROW, at_once=True), seed=7)
    with pytest.raises(ValueError, match=r"lacks: scale_pool4, scale_pool3"):
        load_caffemodel(narrow_fcn8s(), write(tmp_path / "atonce.caffemodel", at_once))
    with pytest.raises(ValueError, match=r"no layer scale_pool4, scale_pool3"):
        load_caffemodel(
            narrow_fcn8s(FCN8S_AT_ONCE), write(tmp_path / "staged.caffemodel", fcn8s_layers)
        )


def test_a_blob_of_another_shape_names_the_layer_and_both_shapes(tmp_path, fcn8s_layers):
    wide = ref.random_blobs(ref.fcn_layers("8s", {"": 3}, 2 * NARROW), seed=8)
    model = narrow_fcn8s()
    before = model.get_weights()
    with pytest.raises(ValueError) as error:
        load_caffemodel(model, write(tmp_path / "wide.caffemodel", wide))
    assert "wide.caffemodel: layer 'fc6' holds blobs of shapes [(16, 512, 7, 7), (16,)]" in str(
        error.value
    )
    assert "model's layer 'fc6' takes [(8, 512, 7, 7), (8,)]" in str(error.value)
    assert unchanged(model, before)
    # A deconvolution written with a bias, and one flipped to (out, in) on 3 and 4 classes.
    layers = [(n, t, b) for n, t, b in fcn8s_layers]
    index = next(i for i, (n, _, _) in enumerate(layers) if n == "upscore2")
    layers[index] = ("upscore2", "Deconvolution", [*layers[index][2], np.zeros(3, "float32")])
    with pytest.raises(
        ValueError, match=r"'upscore2' holds blobs of shapes \[\(3, 3, 4, 4\), \(3,"
    ):
        load_caffemodel(narrow_fcn8s(), write(tmp_path / "bias.caffemodel", layers))


def test_a_layer_of_another_type_is_reported(tmp_path, fcn8s_layers):
    layers = [(n, "Deconvolution" if n == "fc7" else t, b) for n, t, b in fcn8s_layers]
    with pytest.raises(ValueError, match=r"'fc7' is a Deconvolution in the file but a Convolution"):
        load_caffemodel(narrow_fcn8s(), write(tmp_path / "types.caffemodel", layers))


def test_a_scale_other_than_the_models_constant_is_reported(tmp_path):
    layers = ref.random_blobs(ref.fcn_layers("8s", {"": 3}, NARROW, at_once=True), seed=9)
    layers = [(n, t, [b * 2 for b in blobs] if t == "Scale" else blobs) for n, t, blobs in layers]
    model = narrow_fcn8s(FCN8S_AT_ONCE)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"'scale_pool4' scales by 0.02, not by 0.01"):
        load_caffemodel(model, write(tmp_path / "scale.caffemodel", layers))
    assert unchanged(model, before)


def test_read_fcn32s_legacy_file_loads_with_right_aligned_biases(tmp_path):
    layers = ref.random_blobs(ref.fcn_layers("32s", {"": 3}, NARROW), seed=11)
    path = write(tmp_path / "v1.caffemodel", layers, legacy=True, legacy_shape=True)
    model = build_fcn(FCN32S, 3, weights=None, fc_units=NARROW)
    load_caffemodel(model, path)
    np.testing.assert_array_equal(model.get_layer("score_fr").get_weights()[1], layers[-2][2][1])


# DeepLab v2's ResNet-101: MSRA's names, BatchNorm + Scale, the multi-scale net's copies.


@pytest.mark.parametrize(
    "keras_name, depth, caffe_name",
    [
        ("conv1_conv", 101, "conv1"),
        ("conv1_bn", 101, "bn_conv1"),
        ("conv2_block1_0_conv", 101, "res2a_branch1"),
        ("conv2_block3_3_bn", 101, "bn2c_branch2c"),
        ("conv3_block2_1_conv", 101, "res3b1_branch2a"),
        ("conv3_block4_2_bn", 101, "bn3b3_branch2b"),
        ("conv4_block23_3_conv", 101, "res4b22_branch2c"),
        ("conv5_block3_2_conv", 101, "res5c_branch2b"),
        # ResNet-50 letters its blocks, ResNet-152 numbers them as ResNet-101.
        ("conv3_block4_1_conv", 50, "res3d_branch2a"),
        ("conv4_block6_3_bn", 50, "bn4f_branch2c"),
        ("conv3_block8_1_conv", 152, "res3b7_branch2a"),
        ("conv4_block36_3_conv", 152, "res4b35_branch2c"),
        ("fc1_voc12_c2", 101, "fc1_voc12_c2"),
    ],
)
def test_resnet_names_map_to_msras_caffe_names(keras_name, depth, caffe_name):
    assert caffe_layer_name(keras_name, depth) == caffe_name


def test_every_batch_norm_is_a_caffe_batch_norm_and_scale():
    assert caffe_scale_name("bn_conv1") == "scale_conv1"
    assert caffe_scale_name("bn4b22_branch2c") == "scale4b22_branch2c"


def small_resnet_stem():
    """conv1 and its batch normalization, with keras.applications' names."""
    images = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, use_bias=False, name="conv1_conv")(images)
    features = keras.layers.BatchNormalization(epsilon=1e-5, name="conv1_bn")(features)
    return keras.Model(images, features)


def test_batch_norm_blobs_are_divided_by_their_factor_zero_as_caffe(tmp_path):
    rng = np.random.default_rng(30)
    kernel = rng.normal(0, 1, (4, 3, 3, 3)).astype("float32")
    mean, variance = rng.normal(0, 1, 4), rng.uniform(0.5, 2, 4)
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(0, 1, 4)
    for factor, expected in ((999.5, (mean, variance)), (0.0, (np.zeros(4), np.zeros(4)))):
        layers = [
            ("conv1", "Convolution", [kernel]),
            ("bn_conv1", "BatchNorm", [mean * factor, variance * factor, np.array([factor])]),
            ("scale_conv1", "Scale", [gamma, beta]),
        ]
        model = small_resnet_stem()
        path = write(
            tmp_path / "stem.caffemodel",
            [(n, t, [np.float32(b) for b in blobs]) for n, t, blobs in layers],
        )
        assert load_caffemodel(model, path) == ["conv1", "bn_conv1", "scale_conv1"]
        bn = model.get_layer("conv1_bn")
        # BatchNormLayer::Forward_cpu: mean = blob0 · (s == 0 ? 0 : 1 / s), variance alike.
        np.testing.assert_allclose(bn.moving_mean.numpy(), expected[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(bn.moving_variance.numpy(), expected[1], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(bn.gamma.numpy(), gamma, rtol=1e-6)
        np.testing.assert_allclose(bn.beta.numpy(), beta, rtol=1e-6)
    # Written back: BatchNorm with the factor 1, then Scale.
    save_caffemodel(model, tmp_path / "saved.caffemodel")
    stored = read_caffemodel(tmp_path / "saved.caffemodel")
    assert [(name, layer.type) for name, layer in stored.items()] == [
        ("conv1", "Convolution"),
        ("bn_conv1", "BatchNorm"),
        ("scale_conv1", "Scale"),
    ]
    assert stored["bn_conv1"].blobs[2].tolist() == [1.0]
    np.testing.assert_allclose(stored["scale_conv1"].blobs[0], gamma, rtol=1e-6)


@pytest.fixture(scope="module")
def resnet_model():
    return build_deeplab_resnet(21, weights=None, kernel_initializer="zeros")


def test_the_released_resnet101_loads_and_computes_the_raw_op_net(deeplab_v2_release, resnet_model):
    report = load_caffemodel_report(resnet_model, deeplab_v2_release.path)
    names = [name for name, _, blobs in deeplab_v2_release.layers if blobs]
    # 104 convolutions, 104 BatchNorm + Scale pairs, 4 ASPP branches; the copies skipped.
    assert sorted(report.loaded) == sorted(names) and len(names) == 316
    assert sorted(report.skipped) == sorted(
        name + s for name in names for s in ("_res075", "_res05")
    )
    assert report.skipped["bn4b22_branch2c_res05"] == (
        "the scale-0.5 copy of bn4b22_branch2c (multi-scale net), equal to it"
    )
    release = deeplab_v2_release
    bn = resnet_model.get_layer("conv4_block23_3_bn")
    np.testing.assert_allclose(
        bn.moving_mean.numpy(),
        release.parameters["layer3.22.bn3.running_mean"],
        rtol=1e-5,
        atol=1e-6,
    )
    actual = keras.ops.convert_to_numpy(resnet_model(release.images))
    assert actual.shape == release.logits.shape == (1, 41, 49, 21)
    assert ref.relative_error(actual, release.logits) <= 1e-5


def release_layers(release, replace=None, drop=(), extra=()):
    """The release's scale-1 layers, some replaced or dropped, some copies appended."""
    layers = [(n, t, (replace or {}).get(n, b)) for n, t, b in release.layers if n not in drop]
    return layers + list(extra)


def test_a_multi_scale_copy_that_differs_is_refused_by_name(
    tmp_path, deeplab_v2_release, resnet_model
):
    blobs = {name: blobs for name, _, blobs in deeplab_v2_release.layers}
    mean, variance, factor = blobs["bn4b22_branch2c"]
    differing = ("bn4b22_branch2c_res075", "BatchNorm", [mean, variance, factor * 2])
    equal = ("res5c_branch2b_res05", "Convolution", blobs["res5c_branch2b"])
    path = write(
        tmp_path / "msc.caffemodel", release_layers(deeplab_v2_release, extra=[equal, differing])
    )
    before = resnet_model.get_weights()
    with pytest.raises(ValueError) as error:
        load_caffemodel(resnet_model, path)
    assert (
        "msc.caffemodel: layer 'bn4b22_branch2c_res075', the copy of 'bn4b22_branch2c' for the "
        "scale 0.75" in str(error.value)
    )
    assert unchanged(resnet_model, before)


def test_a_release_without_a_scale_layer_is_reported(tmp_path, deeplab_v2_release, resnet_model):
    path = write(
        tmp_path / "noscale.caffemodel",
        release_layers(deeplab_v2_release, drop=["scale3b2_branch2b"]),
    )
    before = resnet_model.get_weights()
    with pytest.raises(
        ValueError, match=r"noscale.caffemodel is not the file .*no layer scale3b2_branch2b\."
    ):
        load_caffemodel(resnet_model, path)
    assert unchanged(resnet_model, before)


def test_a_truncated_release_is_reported(tmp_path, deeplab_v2_release, resnet_model):
    path = tmp_path / "truncated.caffemodel"
    with open(deeplab_v2_release.path, "rb") as file:
        path.write_bytes(file.read(40_000_000))  # inside res4's layers
    with pytest.raises(ValueError, match=r"truncated.caffemodel: the file is truncated"):
        load_caffemodel(resnet_model, str(path))


# PSPNet: its own names, its BN layer, the auxiliary head of the released files.


@pytest.mark.parametrize(
    "keras_name, caffe_name",
    [
        ("conv1_1_3x3", "conv1_1_3x3_s2"),
        ("conv1_1_3x3_bn", "conv1_1_3x3_s2/bn"),
        ("conv1_3_3x3_bn", "conv1_3_3x3/bn"),
        ("conv2_block1_0_conv", "conv2_1_1x1_proj"),
        ("conv3_block1_1_conv", "conv3_1_1x1_reduce"),
        ("conv4_block3_2_bn", "conv4_3_3x3/bn"),
        ("conv4_block23_3_conv", "conv4_23_1x1_increase"),
        ("conv5_3_pool6_conv", "conv5_3_pool6_conv"),
        ("conv5_3_pool6_conv_bn", "conv5_3_pool6_conv/bn"),
        ("conv5_4_bn", "conv5_4/bn"),
        ("conv6", "conv6"),
        ("conv4_24_bn", "conv4_24/bn"),
        ("conv6_1", "conv6_1"),
    ],
)
def test_pspnet_names_map_to_the_prototxts(keras_name, caffe_name):
    assert pspnet_caffe_name(keras_name) == caffe_name


@pytest.fixture(scope="module")
def pspnet101():
    return PSPNet(21, depth=101, input_size=41, kernel_initializer="zeros")


@pytest.fixture(scope="module")
def pspnet50_aux():
    return PSPNet(150, depth=50, input_size=41, aux=True, kernel_initializer="zeros")


def test_a_pspnet101_file_loads_without_its_auxiliary_head_and_computes_the_prototxt(
    pspnet_release, pspnet101
):
    release = pspnet_release[101]
    report = load_caffemodel_report(pspnet101, release.path)
    names = [name for name, _, blobs in release.layers if blobs]
    # The VOC prototxt's 112 Convolution and 111 BN layers; the auxiliary head's 3 skipped.
    assert len(report.loaded) == 112 + 111
    assert sorted(report.loaded) == sorted(set(names) - set(PSPNET_AUX_LAYERS))
    assert sorted(report.skipped) == sorted(PSPNET_AUX_LAYERS)
    assert "aux=True" in report.skipped["conv4_24/bn"]
    actual = keras.ops.convert_to_numpy(pspnet101(release.images, training=False))
    assert actual.shape == release.logits.shape == (1, 41, 41, 21)
    assert ref.relative_error(actual, release.logits) <= 1e-5


def test_a_pspnet50_file_loads_its_auxiliary_head_into_a_model_built_with_it(
    pspnet_release, pspnet50_aux
):
    release = pspnet_release[50]
    report = load_caffemodel_report(pspnet50_aux, release.path)
    assert sorted(report.loaded) == sorted(name for name, _, blobs in release.layers if blobs)
    assert dict(report.skipped) == {}
    bn = pspnet50_aux.get_layer("conv4_block3_2_bn")  # PSPNet's conv4_3_3x3/bn
    # BN's blobs in order: slope (γ), bias (β), moving mean, moving variance.
    for variable, blob in zip(bn.weights, release.parameters["conv4_3_3x3/bn"], strict=True):
        np.testing.assert_allclose(variable.numpy(), blob.reshape(-1), rtol=1e-6)
    outputs = pspnet50_aux(release.images, training=False)
    for key, expected in (("out", release.logits), ("aux", release.aux)):
        actual = keras.ops.convert_to_numpy(outputs[key])
        assert actual.shape == expected.shape == (1, 41, 41, 150)
        assert ref.relative_error(actual, expected) <= 1e-5, key


def pspnet_file(tmp_path, release, name, replace=None, drop=()):
    """The release's layers, some replaced or dropped, written to `name`."""
    layers = [(n, t, (replace or {}).get(n, b)) for n, t, b in release.layers if n not in drop]
    return write(tmp_path / name, layers)


def test_broken_pspnet_files_are_refused_by_file_and_layer(tmp_path, pspnet_release, pspnet50_aux):
    release = pspnet_release[50]
    blobs = {name: blobs for name, _, blobs in release.layers}
    before = pspnet50_aux.get_weights()
    three_blobs = pspnet_file(
        tmp_path, release, "three.caffemodel", {"conv4_3_3x3/bn": blobs["conv4_3_3x3/bn"][:3]}
    )
    with pytest.raises(ValueError, match=r"three.caffemodel: layer 'conv4_3_3x3/bn' holds blobs"):
        load_caffemodel(pspnet50_aux, three_blobs)
    missing = pspnet_file(tmp_path, release, "missing.caffemodel", drop=["conv5_3_pool2_conv/bn"])
    with pytest.raises(
        ValueError, match=r"missing.caffemodel is not the file .*no layer conv5_3_pool2_conv/bn"
    ):
        load_caffemodel(pspnet50_aux, missing)
    layers = [(n, "BatchNorm" if n == "conv5_4/bn" else t, b) for n, t, b in release.layers]
    batch_norm = write(tmp_path / "batchnorm.caffemodel", layers)
    with pytest.raises(ValueError, match=r"layer 'conv5_4/bn' is a BatchNorm in the file but a BN"):
        load_caffemodel(pspnet50_aux, batch_norm)
    assert unchanged(pspnet50_aux, before)


def test_a_pspnet_model_writes_back_its_bn_layers(tmp_path):
    model = PSPNet(3, depth=50, input_size=None, kernel_initializer="zeros")
    randomize_batch_normalization(model, seed=3)
    save_caffemodel(model, tmp_path / "saved.caffemodel")
    stored = read_caffemodel(tmp_path / "saved.caffemodel")
    bn = stored["conv5_4/bn"]
    assert bn.type == "BN" and [blob.shape for blob in bn.blobs] == [(1, 512, 1, 1)] * 4
    for blob, weight in zip(bn.blobs, model.get_layer("conv5_4_bn").get_weights(), strict=True):
        np.testing.assert_array_equal(blob.reshape(-1), weight)
    assert stored["conv1_1_3x3_s2"].blobs[0].shape == (64, 3, 3, 3)
