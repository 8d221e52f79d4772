"""DeepLab's dense CRF: its settings, its wiring into pydensecrf, what it does to a sharp edge.

The expected marginals come from `pydensecrf` called directly, as its own example
(`examples/inference.py`: Potts compatibilities, generic `DenseCRF` with the features of
`pydensecrf.utils`) and DeepLab v2's PyTorch port (`libs/utils/crf.py`) call it.
"""

import sys

import keras
import numpy as np
import pytest

from keras_fcn.inference import (
    CRF_SETTINGS,
    CRFSettings,
    Protocol,
    ProtocolPredictor,
    dense_crf,
)

pytestmark = pytest.mark.backends


def densecrf():
    """`pydensecrf.densecrf` and `pydensecrf.utils`, or a skip naming the missing extra."""
    module = pytest.importorskip(
        "pydensecrf.densecrf", reason="pydensecrf2 is not installed (pip install keras-fcn[crf])"
    )
    return module, pytest.importorskip("pydensecrf.utils")


def edge_image(height=32, width=48):
    """A dark left half and a bright right half, the truth 0 left and 1 right."""
    image = np.empty((height, width, 3), np.uint8)
    image[:, : width // 2] = (40, 50, 60)
    image[:, width // 2 :] = (200, 180, 160)
    truth = np.zeros((height, width), np.int64)
    truth[:, width // 2 :] = 1
    return image, truth


def noisy_probabilities(truth, wrong=0.3, seed=0):
    """Two-class probabilities of 0.65 for the truth, except on a random `wrong` share of the
    pixels, where they lean 0.65 the wrong way."""
    flipped = np.random.default_rng(seed).random(truth.shape) < wrong
    ones = np.where(flipped, 1 - truth, truth)
    probabilities = np.where(ones[..., None] == np.arange(2), 0.65, 0.35)
    return probabilities.astype("float32")


def test_the_crf_labels_a_sharp_edge_better_than_the_argmax_of_noisy_probabilities():
    densecrf()
    image, truth = edge_image()
    probabilities = noisy_probabilities(truth)
    argmax_error = np.mean(probabilities.argmax(-1) != truth)
    crf_error = np.mean(dense_crf(image, probabilities).argmax(-1) != truth)
    assert 0.25 < argmax_error < 0.35
    assert crf_error < argmax_error / 5


def test_the_crf_is_deterministic():
    densecrf()
    image, truth = edge_image(20, 30)
    probabilities = noisy_probabilities(truth, seed=1)
    first = dense_crf(image, probabilities, iterations=3)
    np.testing.assert_array_equal(dense_crf(image, probabilities, iterations=3), first)
    assert first.dtype == np.float32 and first.shape == (20, 30, 2)
    np.testing.assert_allclose(first.sum(-1), 1, atol=1e-5)


def test_the_default_is_deeplab_v2s_voc_crf_as_its_port_runs_it():
    module, utils = densecrf()
    settings = CRF_SETTINGS["deeplab-v2-voc"]
    assert (
        settings.pos_w,
        settings.pos_xy_std,
        settings.bi_w,
        settings.bi_xy_std,
        settings.bi_rgb_std,
    ) == (3, 1, 4, 67, 3)
    v1 = CRF_SETTINGS["deeplab-v1-largefov"]
    assert (v1.pos_w, v1.pos_xy_std, v1.bi_w, v1.bi_xy_std, v1.bi_rgb_std) == (3, 3, 4, 121, 5)

    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    probabilities = rng.dirichlet(np.ones(4), size=(17, 23)).astype("float32")
    # kazuto1011/deeplab-pytorch:libs/utils/crf.py, with configs/voc12.yaml's values.
    crf = module.DenseCRF2D(23, 17, 4)
    crf.setUnaryEnergy(
        np.ascontiguousarray(utils.unary_from_softmax(probabilities.transpose(2, 0, 1)))
    )
    crf.addPairwiseGaussian(sxy=1, compat=3)
    crf.addPairwiseBilateral(sxy=67, srgb=3, rgbim=np.ascontiguousarray(image), compat=4)
    expected = np.array(crf.inference(10)).reshape(4, 17, 23).transpose(1, 2, 0)
    np.testing.assert_allclose(dense_crf(image, probabilities), expected, atol=1e-6)


def test_it_matches_the_packages_potts_example():
    # pydensecrf's examples/inference.py: Potts compatibilities (scalar compat), the generic
    # DenseCRF with features from pydensecrf.utils, a smoothness kernel (sxy 3, compat 3) and an
    # appearance kernel (sxy 80, srgb 13, compat 10), 5 iterations. The example's features are
    # ordered (y, x, r, g, b), DenseCRF2D's (x, y, r, g, b); the permutohedral lattice
    # approximates the same Gaussian differently for the two orders, so the example's features
    # are reordered here (with its order, its own images agree on 99.88–99.95% of the pixels,
    # benchmarks/README.md "Dense CRF against pydensecrf's Potts example").
    module, utils = densecrf()
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (21, 30, 3), dtype=np.uint8)
    probabilities = rng.dirichlet(np.ones(3), size=(21, 30)).astype("float32")
    crf = module.DenseCRF(21 * 30, 3)
    crf.setUnaryEnergy(
        np.ascontiguousarray(utils.unary_from_softmax(probabilities.transpose(2, 0, 1)))
    )
    smoothness = utils.create_pairwise_gaussian(sdims=(3, 3), shape=(21, 30))
    appearance = utils.create_pairwise_bilateral(
        sdims=(80, 80), schan=(13, 13, 13), img=image, chdim=2
    )
    for features, compat in ((smoothness[[1, 0]], 3), (appearance[[1, 0, 2, 3, 4]], 10)):
        crf.addPairwiseEnergy(
            np.ascontiguousarray(features),
            compat=compat,
            kernel=module.DIAG_KERNEL,
            normalization=module.NORMALIZE_SYMMETRIC,
        )
    expected = np.array(crf.inference(5)).reshape(3, 21, 30).transpose(1, 2, 0)
    example = CRFSettings(pos_w=3, pos_xy_std=3, bi_w=10, bi_xy_std=80, bi_rgb_std=13)
    marginals = dense_crf(image, probabilities, iterations=5, settings=example)
    np.testing.assert_allclose(marginals, expected, atol=1e-6)


def test_a_protocol_with_a_crf_refines_the_merged_probabilities():
    densecrf()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Rescaling(1 / 64), keras.layers.Conv2D(2, 1)]
    )
    image, _ = edge_image(12, 16)
    single = ProtocolPredictor(model)(image[None])[0]
    refined = ProtocolPredictor(model, Protocol(crf="deeplab-v1-largefov"))(image[None])[0]
    np.testing.assert_allclose(
        refined, dense_crf(image, single, settings="deeplab-v1-largefov"), atol=1e-6
    )


def test_without_the_extra_the_error_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydensecrf", None)
    monkeypatch.setitem(sys.modules, "pydensecrf.densecrf", None)
    monkeypatch.setitem(sys.modules, "pydensecrf.utils", None)
    image, truth = edge_image(4, 6)
    with pytest.raises(ImportError, match=r"pip install 'keras-fcn\[crf\]'.*pydensecrf2"):
        dense_crf(image, noisy_probabilities(truth))


@pytest.mark.parametrize(
    "image_shape, probabilities_shape, message",
    [
        ((4, 6), (4, 6, 2), "RGB image"),
        ((4, 6, 3), (4, 5, 2), "of the image's size"),
    ],
)
def test_mismatched_inputs_are_refused_with_their_shapes(image_shape, probabilities_shape, message):
    with pytest.raises(ValueError, match=message):
        dense_crf(np.zeros(image_shape, np.uint8), np.full(probabilities_shape, 0.5, "float32"))


def test_unknown_settings_list_the_named_ones():
    image, truth = edge_image(4, 6)
    with pytest.raises(ValueError, match="deeplab-v2-voc"):
        dense_crf(image, noisy_probabilities(truth), settings="deeplab-v4")
