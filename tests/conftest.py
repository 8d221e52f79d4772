"""Shared test fixtures (data fixtures only): small PASCAL VOC and SBD trees in a temp directory.

The trees are written by `keras_fcn.data.testing`: every example id gets a deterministic image
and mask (`example_arrays`), VOC masks as palette PNGs and SBD masks as `.mat` files.
"""

import types

import pytest

from keras_fcn.data import testing


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
