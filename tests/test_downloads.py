"""Downloads that cannot be had, tried for real against a closed local port (never the web)."""

import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image

from keras_fcn.downloads import DownloadError, get_file


@pytest.fixture
def unreachable_url():
    """A URL on a local port that was just free and is closed: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/files"


@pytest.fixture
def applications_home(tmp_path, monkeypatch):
    """An empty Keras home for keras.applications (fixed when Keras is imported), so that no
    weights already cached on this machine are found."""
    from keras.src.backend import config

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home"


def test_an_unreachable_file_names_its_url_its_cache_path_and_the_local_argument(
    unreachable_url, tmp_path
):
    url = f"{unreachable_url}/net.caffemodel"
    with pytest.raises(DownloadError) as raised:
        get_file("net.caffemodel", url, "caffemodel=PATH", cache_dir=str(tmp_path))
    cache_path = tmp_path / "models" / "net.caffemodel"
    assert raised.value.url == url and raised.value.cache_path == str(cache_path)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert url in message and str(cache_path) in message and "caffemodel=PATH" in message
    assert "refused" in message  # the network's own reason
    assert not cache_path.exists()


def test_a_file_put_at_the_cache_path_is_used_without_the_network(unreachable_url, tmp_path):
    url = f"{unreachable_url}/net.caffemodel"
    with pytest.raises(DownloadError) as raised:
        get_file("net.caffemodel", url, "caffemodel=PATH", cache_dir=str(tmp_path))
    with open(raised.value.cache_path, "wb") as file:  # the advice of the message, followed
        file.write(b"weights")
    path = get_file("net.caffemodel", url, "caffemodel=PATH", cache_dir=str(tmp_path))
    assert path == raised.value.cache_path


def test_imagenet_weights_of_a_resnet_offline_name_their_file_and_weights_argument(
    unreachable_url, applications_home, monkeypatch
):
    from keras.src.applications import resnet as keras_resnet

    from keras_fcn.backbones.resnet import KERAS_APPLICATIONS, resnet

    monkeypatch.setattr(keras_resnet, "BASE_WEIGHTS_PATH", f"{unreachable_url}/")
    with pytest.raises(DownloadError) as raised:
        resnet(keras.Input((None, None, 3)), layout=KERAS_APPLICATIONS, weights="imagenet")
    name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert raised.value.url == f"{unreachable_url}/{name}"
    assert raised.value.cache_path == str(applications_home / "models" / name)
    assert "weights=PATH" in str(raised.value) and "--weights none" in str(raised.value)


PRESET_OFFLINE_SCRIPT = textwrap.dedent(
    """
    import dataclasses, sys
    from keras_fcn import presets
    from keras_fcn.cli import main

    url = sys.argv[1] + "/" + presets.PRESETS["voc-fcn32s"].file_name
    presets.PRESETS["voc-fcn32s"] = dataclasses.replace(presets.PRESETS["voc-fcn32s"], url=url)
    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.mark.slow
def test_predict_with_a_preset_offline_is_one_line_and_status_2(unreachable_url, tmp_path):
    image_path = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image_path)
    keras_home = tmp_path / "keras_home"
    arguments = ["predict", "--preset", "voc-fcn32s", "--fc-units", "8", str(image_path)]
    result = subprocess.run(
        [sys.executable, "-c", PRESET_OFFLINE_SCRIPT, unreachable_url, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_HOME": str(keras_home), "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("keras-fcn")]
    assert "Traceback" not in result.stderr and len(errors) == 1
    cache_path = keras_home / "models" / "fcn32s-heavy-pascal.caffemodel"
    assert errors[0].startswith("keras-fcn predict: error: cannot download ")
    assert f"{unreachable_url}/fcn32s-heavy-pascal.caffemodel" in errors[0]
    assert f"put the file at {cache_path}" in errors[0] and "--caffemodel PATH" in errors[0]
