"""Trained nets of the original releases, one call away: `from_preset("voc-fcn8s")`.

The 14 nets of the FCN release, DeepLab-LargeFOV's VOC model, Dilation8's VOC model, DeepLab
v2's ResNet-101 VOC model, torchvision's four COCO nets, PSPNet's three nets and RefineNet's 14
(ResNet-101 and -152 on seven datasets, MatConvNet `.mat` files shared in Google Drive folders,
which are downloaded by hand and passed as `path`: `from_preset("voc-refinenet101",
"refinenet_res101_voc2012.mat")`).

The nets are data, one `Preset` a net, in `PRESETS` (`keras_fcn.presets.releases`, with
the releases they come from): the model of the registry each is, its inputs and their means, its
classes, where its file is published and its published scores. `from_preset` builds the
architecture, downloads the file once with `keras.utils.get_file`, converts it
(`keras_fcn.weights.load_caffemodel`; from an archive, its member streamed to a temporary file
first) and caches the Keras weights in `$KERAS_HOME/models` (`~/.keras/models`), so that later
calls only load them.

The original geometry is the Caffe nets' own, value for value, so the converted models compute
what the released nets compute. PSPNet's `.caffemodel` files are on Google Drive, which
`keras.utils.get_file` cannot download: `from_preset(name, path)` reads one downloaded by hand.
"""

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator

import keras

from keras_fcn.downloads import get_file, keras_home
from keras_fcn.presets.releases import PRESETS, Preset
from keras_fcn.weights.mappings.caffe import load_caffemodel
from keras_fcn.weights.mappings.matconvnet import load_matconvnet_weights
from keras_fcn.weights.mappings.torchvision import load_torchvision_weights


def get_preset(name: str) -> Preset:
    """The preset of a name.

    Example:

    >>> get_preset("voc-fcn8s").mean_iou
    65.5
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; the presets are {', '.join(PRESETS)}.")
    return PRESETS[name]


def _sha1(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


_CONVERTED = "{name}-{sha1}.weights.h5"
"""The name of a preset's converted weights in `$KERAS_HOME/models`: keyed by the first 16 hex
digits of its file's SHA1, so that another file never loads stale weights."""


def _cache_path(preset: Preset, sha1: str) -> str:
    """The converted weights of a preset's file."""
    return os.path.join(keras_home(), "models", _CONVERTED.format(name=preset.name, sha1=sha1[:16]))


def cached_files(name: str) -> list[str]:
    """The files of a preset in Keras' cache: its downloaded file and its converted weights.

    Example:

    >>> all(os.path.isfile(path) for path in cached_files("voc-fcn8s"))
    True
    """
    preset = get_preset(name)
    models = os.path.join(keras_home(), "models")
    download = os.path.join(models, preset.file_name)
    pattern = _CONVERTED.format(name=glob.escape(preset.name), sha1="[0-9a-f]" * 16)
    converted = glob.glob(os.path.join(glob.escape(models), pattern))
    return ([download] if os.path.isfile(download) else []) + sorted(converted)


def _download(preset: Preset) -> tuple[str, str]:
    """Downloads the preset's file once (`keras_fcn.downloads.get_file`); returns its path and
    SHA1."""
    path = get_file(
        preset.file_name,
        preset.url,
        f"caffemodel=PATH (--caffemodel PATH), the {preset.file_name} downloaded by hand",
    )
    sha1 = _sha1(path)
    if preset.sha1 is not None and sha1 != preset.sha1:
        os.remove(path)
        raise ValueError(
            f"The file downloaded from {preset.url} has SHA1 {sha1}, not the published "
            f"{preset.sha1}: it was incomplete or altered, and is deleted; call again to "
            "download it again."
        )
    return path, sha1


@contextlib.contextmanager
def _caffemodel_of(preset: Preset, path: str) -> Iterator[str]:
    """The `.caffemodel` at `path`, or, for a zip archive, its member streamed to a temporary
    file next to the cache (deleted afterwards): the reader seeks in the file, which a member
    compressed in the archive does not allow."""
    if not path.lower().endswith(".zip"):
        yield path
        return
    wanted = preset.member or preset.file_name
    try:
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.endswith(".caffemodel")]
            found = [name for name in members if name.rsplit("/", 1)[-1] == wanted]
            if len(found) != 1:
                raise ValueError(
                    f"{path} holds {'no' if not found else 'several'} {wanted} (preset "
                    f"{preset.name!r}); its .caffemodel files are {', '.join(members) or 'none'}."
                )
            directory = os.path.join(keras_home(), "models")
            os.makedirs(directory, exist_ok=True)
            handle, staging = tempfile.mkstemp(
                prefix=f".{preset.name}-", suffix=".caffemodel", dir=directory
            )
            try:
                with archive.open(found[0]) as source, os.fdopen(handle, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 24)
                yield staging
            finally:
                os.remove(staging)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is not a readable zip archive ({error}).") from error


def _one_file(
    path: str | os.PathLike | None, caffemodel: str | os.PathLike | None
) -> str | os.PathLike | None:
    """The file `from_preset` reads, given as `path` or as `caffemodel`, not both."""
    if caffemodel is None:
        return path
    if path is not None:
        raise ValueError(
            f"from_preset takes the file once: received path={path!r} and "
            f"caffemodel={caffemodel!r}."
        )
    return caffemodel


def _check_downloadable(preset: Preset) -> None:
    """Raises `FileNotFoundError` for a preset whose file a program cannot download."""
    if preset.manual_file:
        raise FileNotFoundError(
            f"Preset {preset.name!r} is the file {preset.manual_file}, published on a page that "
            f"cannot be downloaded by a program: {preset.url}. Download it there by hand and call "
            f"from_preset({preset.name!r}, path)."
        )


def _local_file(path: str | os.PathLike) -> tuple[str, str]:
    """A file given by the caller: its path and SHA1."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    return path, _sha1(path)


def _convert(model: keras.Model, preset: Preset, path: str, verbose: bool) -> None:
    """Loads the weights of a release's file into the preset's model, by the file's format:
    torchvision's `.pth`, MatConvNet's `.mat`, else a `.caffemodel` or a zip archive holding
    it."""
    if path.lower().endswith((".pth", ".pt")):
        load_torchvision_weights(model, path, verbose)
    elif path.lower().endswith(".mat"):
        load_matconvnet_weights(model, path, verbose)
    else:
        with _caffemodel_of(preset, path) as caffemodel_path:
            load_caffemodel(model, caffemodel_path, verbose)


def _save_weights_atomically(model: keras.Model, cache: str) -> None:
    """Writes the model's weights at `cache` through a temporary file next to it, so that an
    interrupted write never leaves a partial cache."""
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    handle, staging = tempfile.mkstemp(
        prefix=f".{model.name}-", suffix=".weights.h5", dir=os.path.dirname(cache)
    )
    os.close(handle)
    try:
        model.save_weights(staging, overwrite=True)
        os.replace(staging, cache)
    finally:
        if os.path.exists(staging):
            os.remove(staging)


def from_preset(
    name: str,
    path: str | os.PathLike | None = None,
    *,
    caffemodel: str | os.PathLike | None = None,
    verbose: bool = False,
    **options,
) -> keras.Model:
    """Builds a trained net of the original releases with its weights.

    The first call downloads the net's file (a `.caffemodel`, the release's zip archive holding
    it, or torchvision's `.pth`) from the release (hundreds of MB) into `$KERAS_HOME/models`
    (`~/.keras/models`), checks its SHA1 where one is known, converts it and caches the Keras
    weights next to it (`NAME-SHA1.weights.h5`, written atomically); later calls load those, in
    seconds. The model
    takes RGB images in [0, 255] of any size (the preset's mean is subtracted inside it) and
    returns logits of the same size: a tensor, a dict `{"score_sem", "score_geo"}` for the
    SIFT Flow nets, and from a dict `{"color", "hha"}` of images for `nyud-fcn32s-color-hha`.
    Their classes are `PRESETS[name].class_names`. DeepLab v2's ResNet-101 is the net at one
    scale; its published score is that of its multi-scale test net,
    `keras_fcn.models.msc.multi_scale(model)`. torchvision's nets take the same raw images and
    normalize them inside; `aux=True` builds their auxiliary head too, whose weights the `.pth`
    holds (otherwise they are skipped). PSPNet's nets are the released deploy nets (473×473
    inputs, 713×713 for Cityscapes; `input_size=None` for any size), to run under their
    protocols (`PRESETS[name].scores` names them); their files hold the auxiliary head,
    loaded with `aux=True` and otherwise skipped.
    RefineNet's files are shared in Google Drive folders: `path` is required
    (`PRESETS[name].file_name` in the folder `PRESETS[name].url`); their nets score the
    release's channels, `void` included where its class list has it
    (`PRESETS[name].class_names`).

    Reference: Long, Shelhamer & Darrell, CVPR 2015; Shelhamer, Long & Darrell, PAMI 2016;
    Chen et al., ICLR 2015 and PAMI 2017; Yu & Koltun, ICLR 2016.

    Args:
        name: a key of `PRESETS` (`"voc-fcn8s"`, `"siftflow-fcn16s"`, ...).
        path: the net's `.caffemodel`, a zip archive holding it (the release's, as
            downloaded), torchvision's `.pth` or RefineNet's `.mat`, read instead of downloading
            it (offline use);
            its converted weights are cached too, keyed by the file's SHA1.
        caffemodel: the same as `path`, by keyword.
        verbose: show the conversion's progress over the layers, with the time left.
        **options: architecture options (`Preset.build`): `geometry="aligned"`, `input_shape`,
            `dropout`, a narrower `fc_units` for a file written so, torchvision's and PSPNet's
            `aux`, PSPNet's `input_size`.

    Returns:
        The `keras.Model`, named as the preset.

    Raises:
        DownloadError: if the file is neither cached nor downloadable (offline); the message
            names its URL, the cache path to put it at, and `caffemodel=`.
        ValueError: for an unknown name or option, both `path` and `caffemodel`, a download
            whose SHA1 differs from the published one, an archive without the net's
            `.caffemodel`, or a file that is not the net's (see `load_caffemodel`).
        FileNotFoundError: if `path` names no file, or is not given for a net published where
            it cannot be downloaded (PSPNet's, on Google Drive: the message gives the page).

    Example:

    >>> model = keras_fcn.from_preset("voc-fcn8s")  # doctest: +SKIP
    >>> scores = model(images)  # (B, H, W, 21) logits # doctest: +SKIP
    >>> zip_path = "prototxt_and_model.zip"  # the release's archive, downloaded by hand
    >>> model = keras_fcn.from_preset("voc-deeplab-v2-resnet101", zip_path)  # doctest: +SKIP
    """
    path = _one_file(path, caffemodel)
    preset = get_preset(name)
    model = preset.build(**options)
    if path is None:
        _check_downloadable(preset)
        known = preset.sha1 and _cache_path(preset, preset.sha1)
        if known and os.path.isfile(known):
            model.load_weights(known)
            return model
        path, sha1 = _download(preset)
    else:
        path, sha1 = _local_file(path)
    cache = _cache_path(preset, sha1)
    if os.path.isfile(cache):
        model.load_weights(cache)
    else:
        _convert(model, preset, path, verbose)
        _save_weights_atomically(model, cache)
    return model
