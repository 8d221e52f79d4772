"""Shared test fixtures (data, and one small FCN for the exports), and the backend-independent
test runs.

The data fixtures write small PASCAL VOC and SBD trees in a temp directory with
`keras_fcn.data.testing`: every example id gets a deterministic image and mask
(`example_arrays`), VOC masks as palette PNGs and SBD masks as `.mat` files. One small FCN
(`small_fcn`) is built once per session for the export tests, which write it in every format.

Tests marked `backends` are backend-independent: `.ci/run` runs them again with
`KERAS_BACKEND=jax` and `torch` (`python -m pytest -m backends tests/`). On those
backends only the test modules that use the marker are collected, and TensorFlow cannot be
imported in the test process (`backend_processes.block_tensorflow()`), as on an accelerator
machine without it: a library path that still reached for TensorFlow fails there. Such
modules import TensorFlow, or `keras_fcn` modules that need it, only inside their
TensorFlow-only tests.
"""

import pathlib
import types

import backend_processes
import keras
import pytest

BACKENDS_MARKER = "pytest.mark.backends"
"""How a test module marks its backend-independent tests (on the module or on single tests)."""

if keras.backend.backend() != "tensorflow":
    backend_processes.block_tensorflow()


def pytest_ignore_collect(collection_path: pathlib.Path, config) -> bool | None:
    """On JAX and PyTorch, skips test modules without backend-independent tests, and the
    helper modules (the references, which the test modules import when they need them), which
    `--doctest-modules` would otherwise import."""
    if keras.backend.backend() == "tensorflow" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return collection_path.name != "conftest.py"
    return BACKENDS_MARKER not in collection_path.read_text()


@pytest.fixture
def tf():
    """TensorFlow, for the tests of the TensorFlow backend's own paths (imported when asked)."""
    import tensorflow

    return tensorflow


@pytest.fixture
def voc_tree(tmp_path):
    """Factory writing `VOCdevkit/VOC2012` with the given split lists (id lists)."""
    from keras_fcn.data import testing

    def make(splits: dict[str, list[str]], name: str = "VOC2012") -> testing.Tree:
        return testing.write_voc_tree(tmp_path / "VOCdevkit" / name, splits)

    return make


@pytest.fixture
def sbd_tree(tmp_path):
    """Factory writing `benchmark_RELEASE/dataset` with the given split lists (id lists)."""
    from keras_fcn.data import testing

    def make(splits: dict[str, list[str]]) -> testing.Tree:
        return testing.write_sbd_tree(tmp_path / "benchmark_RELEASE" / "dataset", splits)

    return make


@pytest.fixture
def data_writers():
    """The single-file writers, for tests that build their own files."""
    from keras_fcn.data import testing

    return types.SimpleNamespace(
        example=testing.example_arrays,
        jpeg=testing.write_jpeg,
        palette_png=testing.write_palette_png,
        sbd_mat=testing.write_sbd_mat,
    )


@pytest.fixture(scope="module")
def vgg16_classifier_file(tmp_path_factory):
    """A VGG16 classifier with random weights, saved where the models load it as `weights=`.

    The file (528 MiB, ImageNet's shapes) is deleted when the module's tests are done, so that a
    run keeps at most one such file on disk.
    """
    keras.utils.set_random_seed(0)
    classifier = keras.applications.VGG16(weights=None)
    path = tmp_path_factory.mktemp("vgg16") / "vgg16_random.weights.h5"
    classifier.save_weights(path)
    yield classifier, str(path)
    path.unlink()


SMALL_FCN_CLASSES = 3


@pytest.fixture(scope="session")
def small_fcn():
    """FCN-8s, aligned, fc6/fc7 of 8 units, 3 classes, whose predicted class varies over an image.

    A fresh FCN scores zero everywhere. Seeded unit-variance score kernels make the logits
    differ between classes; `score_pool3`'s bias (added to every logit) centres them on
    synthetic images (`keras_fcn.data.synthetic`, 3 classes), so that every class wins somewhere.
    """
    import numpy as np

    from keras_fcn import registry
    from keras_fcn.data.synthetic import synthetic_example

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


@pytest.fixture(scope="session")
def deeplab_v2_release(tmp_path_factory):
    """DeepLab v2's released ResNet-101 VOC net as a `.caffemodel`, with random weights.

    Written by the tests' own encoder (fcn_release_reference) from raw-op reference parameters
    (resnet_reference, float32 values): MSRA's layer names, every BatchNorm's blobs multiplied
    by a moving-average factor other than 1, and the multi-scale net's copies of every layer
    (`_res075`, `_res05`) as the released file holds them (about 530 MB). Also the raw-op
    reference's logits on a 41 × 49 image.
    """
    import fcn_release_reference
    import numpy as np
    import resnet_reference

    rng = np.random.default_rng(20)
    parameters = resnet_reference.random_parameters(rng, resnet_reference.BLOCKS_101)
    parameters |= resnet_reference.random_aspp(rng, 21)
    parameters = {
        name: value.astype("float32").astype("float64") for name, value in parameters.items()
    }
    factors = rng.uniform(1.0, 999.0, resnet_reference.batch_norm_count(parameters))
    layers = resnet_reference.caffe_layers(parameters, factors)
    path = tmp_path_factory.mktemp("deeplab_v2") / "train_iter_20000.caffemodel"
    with open(path, "wb") as file:
        file.write(fcn_release_reference.length_delimited(1, b"voc12"))
        for suffix in ("", "_res075", "_res05"):
            for name, layer_type, blobs in layers:
                file.write(fcn_release_reference.encode_layer(name + suffix, layer_type, blobs))
    images = np.random.default_rng(21).integers(0, 256, (1, 41, 49, 3)).astype("float32")
    yield types.SimpleNamespace(
        parameters=parameters,
        layers=layers,
        path=path,
        images=images,
        logits=resnet_reference.deeplab_v2_logits(images, parameters),
    )
    path.unlink()


@pytest.fixture(scope="session")
def pspnet_release(tmp_path_factory):
    """PSPNet's released nets as `.caffemodel` files with random weights, by depth: 101 (VOC's
    21 classes) and 50 (ADE20K's 150), each with the auxiliary head's layers as the released
    files hold them.

    Written by the tests' own encoder (fcn_release_reference) from pspnet_reference's layer
    list (the prototxts' names, PSPNet's `BN` with four (1, C, 1, 1) blobs), with the raw-op
    reference's logits (and auxiliary logits) on a 41 × 41 image: conv5 is 6 × 6, where the
    prototxt's fixed pools are exact.
    """
    import fcn_release_reference
    import numpy as np
    import pspnet_reference

    directory = tmp_path_factory.mktemp("pspnet")
    images = np.random.default_rng(41).integers(0, 256, (1, 41, 41, 3)).astype("float32")
    releases = {}
    for depth, num_classes, name in ((101, 21, "pspnet101_VOC2012"), (50, 150, "pspnet50_ADE20K")):
        layers = pspnet_reference.layer_list(depth, num_classes, aux=True)
        parameters = pspnet_reference.random_parameters(np.random.default_rng(depth), layers)
        caffe_layers = pspnet_reference.caffe_layers(layers, parameters)
        path = directory / f"{name}.caffemodel"
        fcn_release_reference.write_net(path, caffe_layers, name=name)
        logits, aux = pspnet_reference.forward(images, parameters, depth, aux=True)
        releases[depth] = types.SimpleNamespace(
            num_classes=num_classes,
            parameters=parameters,
            layers=caffe_layers,
            path=str(path),
            images=images,
            logits=logits,
            aux=aux,
        )
    yield releases
    for release in releases.values():
        pathlib.Path(release.path).unlink()
