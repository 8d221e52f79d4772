"""The .caffemodel reader and writer against files of fcn_release_reference's hand-made encoder."""

import fcn_release_reference as ref
import numpy as np
import pytest

from keras_fcn.weights.formats.caffe import (
    caffe_messages,
    open_caffemodel,
    read_caffemodel,
    write_caffemodel,
)

write = ref.write_net


def small_net(rng):
    """A conv with bias, a deconvolution without, and a blob-less layer between them."""
    return [
        ("conv", "Convolution", [rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)]),
        ("relu", "ReLU", []),
        ("up", "Deconvolution", [rng.normal(size=(4, 4, 4, 4))]),
    ]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"legacy": True},
        {"legacy_shape": True},
        {"double": True},
        {"legacy": True, "legacy_shape": True, "double": True},
    ],
    ids=["layer", "v1-layers", "legacy-dims", "double-data", "v1-legacy-double"],
)
def test_both_formats_read_back_the_blobs_written(tmp_path, options):
    layers = small_net(np.random.default_rng(0))
    stored = read_caffemodel(write(tmp_path / "net.caffemodel", layers, **options))
    assert list(stored) == ["conv", "up"]  # blob-less layers are skipped
    assert (stored["conv"].type, stored["up"].type) == ("Convolution", "Deconvolution")
    kernel, bias = stored["conv"].blobs
    np.testing.assert_array_equal(kernel, layers[0][2][0].astype("float32"))
    np.testing.assert_array_equal(bias.reshape(-1), layers[0][2][1].astype("float32"))
    legacy = options.get("legacy_shape", False)
    # Legacy 4-D dims keep their stored shape: a bias is (1, 1, 1, 4), aligned on load.
    assert bias.shape == ((1, 1, 1, 4) if legacy else (4,))
    assert stored["conv"].legacy_shapes == (legacy, legacy)
    assert all(blob.dtype == np.float32 for layer in stored.values() for blob in layer.blobs)


def test_the_descriptor_parses_what_the_encoder_writes(tmp_path):
    layers = small_net(np.random.default_rng(1))
    net = caffe_messages().NetParameter.FromString(ref.encode_net(layers, name="tiny"))
    assert net.name == "tiny" and [layer.name for layer in net.layer] == ["conv", "relu", "up"]
    assert list(net.layer[2].blobs[0].shape.dim) == [4, 4, 4, 4]
    legacy = caffe_messages().NetParameter.FromString(ref.encode_net(layers, legacy=True))
    assert [(layer.name, layer.type) for layer in legacy.layers] == [
        ("conv", 4),
        ("relu", 18),
        ("up", 39),
    ]


def test_a_file_that_is_not_a_caffemodel_is_reported(tmp_path):
    path = tmp_path / "empty.caffemodel"
    path.write_bytes(ref.length_delimited(1, b"just a name"))
    with pytest.raises(ValueError, match=r"empty.caffemodel: the file holds no layers"):
        read_caffemodel(str(path))
    with pytest.raises(FileNotFoundError, match=r"missing\.caffemodel"):
        read_caffemodel(str(tmp_path / "missing.caffemodel"))


def test_a_blob_whose_values_do_not_fill_its_shape_is_reported(tmp_path):
    rng = np.random.default_rng(10)
    blob = ref.length_delimited(7, ref.length_delimited(1, ref.varint(2) + ref.varint(3)))
    blob += ref.length_delimited(5, rng.normal(size=5).astype("<f4").tobytes())
    layer = ref.length_delimited(1, b"score_fr") + ref.length_delimited(2, b"Convolution")
    path = tmp_path / "short_blob.caffemodel"
    path.write_bytes(ref.length_delimited(100, layer + ref.length_delimited(7, blob)))
    with pytest.raises(ValueError, match=r"blob 0 of layer 'score_fr' holds 5 values.*\(2, 3\)"):
        read_caffemodel(str(path))


@pytest.mark.parametrize("legacy", [False, True], ids=["layer", "v1-layers"])
def test_open_scans_shapes_and_reads_each_layer_when_asked(tmp_path, legacy):
    layers = small_net(np.random.default_rng(12))
    path = write(tmp_path / "net.caffemodel", layers, legacy=legacy, legacy_shape=legacy)
    stored = open_caffemodel(path)
    assert list(stored) == ["conv", "up"]
    assert stored["conv"].shapes == (
        ((4, 3, 3, 3), (1, 1, 1, 4)) if legacy else ((4, 3, 3, 3), (4,))
    )
    assert stored["conv"].fits(1, (4,)) and not stored["conv"].fits(1, (5,))
    for name, _, arrays in layers:
        if arrays:
            for read, written in zip(stored[name].read(), arrays, strict=True):
                np.testing.assert_array_equal(
                    read.reshape(written.shape), written.astype("float32")
                )


def test_write_caffemodel_is_byte_for_byte_the_independent_encoder(tmp_path):
    layers = [
        (n, t, [b.astype("float32") for b in blobs])
        for n, t, blobs in small_net(np.random.default_rng(13))
        if blobs
    ]
    path = tmp_path / "written.caffemodel"
    write_caffemodel(path, "tiny", layers)
    assert path.read_bytes() == ref.encode_net(layers, name="tiny")
