"""Files fetched from the web once, and one line that says what to do when one cannot be had.

Every download of the library goes through here: the presets' `.caffemodel` and `.pth` files
and CamVid's archive through `get_file`, keras.applications' ImageNet weights through
`explain_download_failure` around the application's constructor. `keras.utils.get_file` ends a
failed download with a bare `Exception("URL fetch failure on URL: ...")` (and
keras.applications with the same), naming neither the place the file can be put by hand nor
the argument that reads a local copy instead; that is the Keras gap this module fills. Both raise
`DownloadError`: one line naming the URL, the cache path where the file can be put and the
argument that takes a local file. The command line prints it and exits with status 2.
"""

import contextlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
from collections.abc import Iterator

_FETCH_FAILURE = "URL fetch failure on "
"""How `keras.utils.get_file` starts the message of a download that failed."""


class DownloadError(OSError):
    """A file that could not be downloaded: its URL, where to put it by hand, what reads it.

    Args:
        url: the file's URL.
        cache_path: where the library looks for the file before downloading it.
        local_argument: the argument that takes a local copy instead, e.g.
            `"caffemodel=PATH (--caffemodel PATH)"`.
        reason: why the download failed, as the network library said it.

    Example:

    >>> print(DownloadError("http://x/a.h5", "/c/models/a.h5", "weights=PATH", "timed out"))
    cannot download http://x/a.h5 (timed out): put the file at /c/models/a.h5, or pass weights=PATH
    """

    def __init__(self, url: str, cache_path: str, local_argument: str, reason: str):
        super().__init__(
            f"cannot download {url} ({reason}): put the file at {cache_path}, or pass "
            f"{local_argument}"
        )
        self.url = url
        self.cache_path = cache_path
        self.local_argument = local_argument


def keras_home() -> str:
    """Keras' cache directory: `$KERAS_HOME`, else `~/.keras`, read at each call; a writable
    temporary directory where it cannot be written, as `keras.utils.get_file` chooses.

    Example:

    >>> os.path.isdir(keras_home())
    True
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    os.makedirs(home, exist_ok=True)
    return home if os.access(home, os.W_OK) else os.path.join(tempfile.gettempdir(), ".keras")


def _failure_reason(error: BaseException) -> str | None:
    """Why a download failed, or `None` if `error` is not a failed download."""
    text = str(error)
    if type(error) is Exception and text.startswith(_FETCH_FAILURE):  # keras.utils.get_file's
        return text.split(": ", 1)[-1].removeprefix("None -- ")
    if isinstance(error, (urllib.error.URLError, http.client.HTTPException, ConnectionError)):
        return text
    return None


def get_file(
    file_name: str,
    url: str,
    local_argument: str,
    *,
    cache_subdir: str = "models",
    file_hash: str | None = None,
    extract: bool = False,
    cache_dir: str | None = None,
) -> str:
    """`keras.utils.get_file` into Keras' cache, raising a `DownloadError` when it fails.

    Args:
        file_name: the file's name in the cache.
        url: where it is published.
        local_argument: the argument that takes a local copy, named in the error.
        cache_subdir: the cache's subdirectory (`models`, `datasets`).
        file_hash: its published SHA256 or MD5, checked by Keras; `None` for none.
        extract: extract the archive (the path returned is then the extraction's).
        cache_dir: the cache; `None` for `keras_home()`.

    Returns:
        The file's path (or its extraction's).

    Raises:
        DownloadError: if the file is not in the cache and cannot be downloaded.

    Example:

    >>> try:  # port 9 (discard) is closed
    ...     get_file("x.h5", "http://127.0.0.1:9/x.h5", "weights=PATH", cache_dir="cache")
    ... except DownloadError as error:
    ...     print(error.cache_path)
    Downloading data from http://127.0.0.1:9/x.h5
    cache/models/x.h5
    """
    import keras  # here, so that the command line catches `DownloadError` without Keras

    cache_dir = keras_home() if cache_dir is None else os.fspath(cache_dir)
    try:
        return keras.utils.get_file(
            file_name,
            url,
            cache_dir=cache_dir,
            cache_subdir=cache_subdir,
            file_hash=file_hash,
            extract=extract,
        )
    except Exception as error:
        reason = _failure_reason(error)
        if reason is None:
            raise
        cache_path = os.path.join(cache_dir, cache_subdir, file_name)
        raise DownloadError(url, cache_path, local_argument, reason) from None


@contextlib.contextmanager
def explain_download_failure(local_argument: str) -> Iterator[None]:
    """Turns a failed `keras.utils.get_file` inside the block into a `DownloadError`.

    For code that downloads through `keras.utils.get_file` itself: keras.applications'
    constructors with `weights="imagenet"`. The URL is read from Keras' message, and the file's
    place is its name (the URL's last part, as keras.applications names its files) in Keras'
    `models` cache, where keras.applications keeps its weights.

    Args:
        local_argument: the argument that takes a local copy, named in the error.

    Example:

    >>> import keras
    >>> with explain_download_failure("weights=PATH"):
    ...     keras.applications.VGG16(weights=None).name
    'vgg16'
    """
    try:
        yield
    except Exception as error:
        text = str(error)
        if type(error) is not Exception or not text.startswith(_FETCH_FAILURE):
            raise
        # Where keras.applications looks: Keras' home as Keras fixed it on import (it has no
        # public accessor).
        from keras.src.backend.config import keras_home as applications_home

        url = text[len(_FETCH_FAILURE) :].split(": ", 1)[0]
        file_name = os.path.basename(urllib.parse.urlsplit(url).path)
        cache_path = os.path.join(applications_home(), "models", file_name)
        raise DownloadError(url, cache_path, local_argument, _failure_reason(error)) from None
