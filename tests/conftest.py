"""Shared test fixtures: small PASCAL VOC and SBD trees in a temp directory, and one small FCN.

The trees are written by `keras_fcn.data.testing`: every example id gets a deterministic image
and mask (`example_arrays`), VOC masks as palette PNGs and SBD masks as `.mat` files. The FCN
(`small_fcn`) is built once per session for the export tests, which write it in every format.
"""

import types

import keras
import numpy as np
import pytest

from keras_fcn import registry
from keras_fcn.data import testing
from keras_fcn.data.synthetic import synthetic_example


@pytest.fixture
def voc_tree(tmp_path):
    """Factory writing `VOCdevkit/VOC2012` with the given split lists (id lists)."""

    def make(splits: dict[str, list[str]], name: str = "VOC2012") -> testing.Tree:
        return testing.write_voc_tree(tmp_path / "VOCdevkit" / name, splits)

    return make


@pytest.fixture
def sbd_tree(tmp_path):
    """Factory writing `benchmark_RELEASE/dataset` with the given split lists (id lists)."""

    def make(splits: dict[str, list[str]]) -> testing.Tree:
        return testing.write_sbd_tree(tmp_path / "benchmark_RELEASE" / "dataset", splits)

    return make


@pytest.fixture
def data_writers():
    """The single-file writers, for tests that build their own files."""
    return types.SimpleNamespace(
        example=testing.example_arrays,
        jpeg=testing.write_jpeg,
        palette_png=testing.write_palette_png,
        sbd_mat=testing.write_sbd_mat,
    )


SMALL_FCN_CLASSES = 3


@pytest.fixture(scope="session")
def small_fcn():
    """FCN-8s, aligned, fc6/fc7 of 8 units, 3 classes, whose predicted class varies over an image.

    A fresh FCN scores zero everywhere. Seeded unit-variance score kernels make the logits
    differ between classes; `score_pool3`'s bias (added to every logit) centres them on
    synthetic images (`keras_fcn.data.synthetic`, 3 classes), so that every class wins somewhere.
    """
    keras.utils.set_random_seed(0)
    model = registry.build("fcn8s", SMALL_FCN_CLASSES, weights=None, fc_units=8, geometry="aligned")
    rng = np.random.default_rng(0)
    for name in ("score_fr", "score_pool4", "score_pool3"):
        kernel, bias = model.get_layer(name).get_weights()
        kernel = rng.normal(0, 1 / np.sqrt(kernel.shape[2]), kernel.shape).astype("float32")
        model.get_layer(name).set_weights([kernel, np.zeros_like(bias)])
    images = np.stack(
        [synthetic_example(index, num_classes=SMALL_FCN_CLASSES)[0] for index in range(4)]
    )
    mean_logits = np.asarray(model(images.astype("float32"))).mean(axis=(0, 1, 2))
    kernel, bias = model.get_layer("score_pool3").get_weights()
    model.get_layer("score_pool3").set_weights([kernel, bias - mean_logits])
    return model
