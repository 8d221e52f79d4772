"""RefineNet's `.mat` files into keras_fcn's RefineNet, checked against the release's forward pass
(tests/refinenet_reference.py) on random parameters written as MATLAB writes them."""

import numpy as np
import pytest
from matlab_files import write_refinenet_mat
from refinenet_reference import random_parameters, refinenet_logits
from resnet_reference import relative_error

from keras_fcn.models.refinenet import RefineNet
from keras_fcn.weights.mappings.matconvnet import load_matconvnet_weights

CLASSES = 5
WIDTHS = (16, 8, 8, 8)
"""Narrow paths: the head's graph is the point, not its width (the file stays ~100 MB)."""

SIZE = (45, 61)
"""Odd sides: pool1 rounds down (23 × 31 → 12 × 16), and the fusions resize 2 × 2 → 3 × 4,
3 × 4 → 6 × 8, 6 × 8 → 12 × 16 with one scale for both axes."""


def build(pooling, upsampling, depth=50):
    return RefineNet(
        CLASSES,
        depth=depth,
        pooling=pooling,
        upsampling=upsampling,
        adapt_widths=WIDTHS,
        kernel_initializer="zeros",
    )


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """The VOC / Cityscapes layout (pool-then-conv, the first code's `adapt_stage` names),
    written to a file and loaded into its model, with the load's report."""
    rng = np.random.default_rng(0)
    params = random_parameters(rng, CLASSES, 50, WIDTHS, "original", "adapt_stage")
    path = tmp_path_factory.mktemp("mat") / "refinenet_res50_voc2012.mat"
    write_refinenet_mat(path, params)
    model = build("original", "bilinear")
    return params, model, load_matconvnet_weights(model, path)


@pytest.fixture(scope="module")
def improved():
    """The later models' layout: conv-then-pool, `adapt_input_path` names; MATLAB's bicubic."""
    rng = np.random.default_rng(1)
    params = random_parameters(rng, CLASSES, 50, WIDTHS, "improved", "adapt_input_path")
    return params, build("improved", "bicubic")


def images(seed=2):
    return np.random.default_rng(seed).uniform(0, 255, (1, *SIZE, 3)).astype("float32")


def test_original_file_loads_into_the_model_and_computes_the_release(original):
    params, model, report = original
    assert report.loaded[:2] == ("conv1", "bn_conv1")
    assert "adapt_input_path1_b1_conv" in report.loaded  # the file's adapt_stage1_b1_conv
    assert report.skipped == {}
    expected = refinenet_logits(images(), params, 50, "original", "bilinear", "adapt_stage")
    assert relative_error(model(images()), expected) <= 1e-5


def test_improved_file_with_bicubic_resizing_computes_the_release(improved, tmp_path):
    params, model = improved
    write_refinenet_mat(tmp_path / "refinenet_res50_nyud.mat", params)
    load_matconvnet_weights(model, tmp_path / "refinenet_res50_nyud.mat")
    expected = refinenet_logits(images(3), params, 50, "improved", "bicubic")
    assert relative_error(model(images(3)), expected) <= 1e-5


def test_batch_normalization_takes_sigma_and_conv1s_bias(original):
    params, model, _ = original
    bn = model.get_layer("conv1_bn")
    mean, sigma = params["bn_conv1_moments"].T.astype(np.float64)
    np.testing.assert_allclose(bn.moving_mean, mean - params["conv1_bias"][0], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(bn.moving_variance + bn.epsilon), sigma, rtol=1e-6)


def test_a_file_of_the_other_pooling_is_refused(original, improved, tmp_path):
    write_refinenet_mat(tmp_path / "improved.mat", improved[0])
    with pytest.raises(ValueError, match=r"improved\.mat holds a RefineNet with 'improved'.*"):
        load_matconvnet_weights(original[1], tmp_path / "improved.mat")


def test_a_missing_layer_is_named_and_nothing_is_set(original, tmp_path):
    params, model, _ = original
    params = {k: v for k, v in params.items() if k != "mflow_conv_g3_pool2_outvar_dimred_filter"}
    write_refinenet_mat(tmp_path / "missing.mat", params)
    before = model.get_layer("mflow_conv_g1_pool1_outvar_dimred").get_weights()[0].copy()
    with pytest.raises(ValueError, match=r"missing\.mat .*no layer mflow_conv_g3_pool2_outvar_dim"):
        load_matconvnet_weights(model, tmp_path / "missing.mat")
    after = model.get_layer("mflow_conv_g1_pool1_outvar_dimred").get_weights()[0]
    np.testing.assert_array_equal(after, before)


def test_a_param_of_another_shape_is_named(original, tmp_path):
    params = dict(original[0])
    params["p_ims1d2_outl2_dimred_filter"] = np.zeros((3, 3, 1024, 9), np.float32)
    write_refinenet_mat(tmp_path / "shape.mat", params)
    with pytest.raises(ValueError, match=r"shape\.mat: layer 'p_ims1d2_outl2_dimred' holds"):
        load_matconvnet_weights(original[1], tmp_path / "shape.mat")


def test_a_classifier_of_other_classes_is_named(original, tmp_path):
    params = dict(original[0])
    params["classifier"] = {
        "filters": np.zeros((3, 3, 8, 22), np.float32),
        "biases": np.zeros((1, 22), np.float32),
    }
    write_refinenet_mat(tmp_path / "voc.mat", params)
    with pytest.raises(ValueError, match=r"voc\.mat: layer 'simplenn1' .*'score'"):
        load_matconvnet_weights(original[1], tmp_path / "voc.mat")


@pytest.mark.slow
def test_resnet101_file_computes_the_release(tmp_path):
    # Once through the real depth: ResNet-101's MSRA names (res4b22) and 23 conv4 blocks.
    params = random_parameters(np.random.default_rng(4), CLASSES, 101, WIDTHS, "original")
    write_refinenet_mat(tmp_path / "refinenet_res101.mat", params)
    model = build("original", "bicubic", depth=101)
    load_matconvnet_weights(model, tmp_path / "refinenet_res101.mat")
    small = images()[:, :33, :41]
    expected = refinenet_logits(small, params, 101, "original", "bicubic")
    assert relative_error(model(small), expected) <= 1e-5
