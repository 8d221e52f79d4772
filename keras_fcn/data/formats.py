"""Image and mask file formats: reading JPEG, PNG, BMP and GIF images, PNG and SBD masks.

Every function here is made of TensorFlow ops (plus one `tf.numpy_function` for SBD's `.mat`
files), so it runs inside `tf.data` maps. A bad file stops the pipeline with a
`tf.errors.InvalidArgumentError` whose message starts with the file's path; nothing is skipped
and no label is guessed.

Before decoding, files are checked for what makes TensorFlow's decoders fail with messages that
do not say which file: an unknown format (by its first bytes), a missing end marker (JPEG EOI,
PNG IEND: a truncated file) and a JPEG header whose markers do not lead to a frame and a scan.
Damage inside the compressed data that the decoders still reject is reported with the file by
`check_dataset`.

Masks are read so that the stored class indices come back, whatever the PNG flavour:
- single-channel PNGs hold the indices directly (1-, 2- and 4-bit files included, which
  `tf.io.decode_png` would otherwise stretch to 0..255; 16-bit files keep their values);
- palette PNGs hold indices into a palette, but `tf.io.decode_png` returns the palette's
  colours. The colours are mapped back to indices through a given palette (the VOC palette for
  VOC masks, where a colour outside it is an error) or, when none is given, through the
  palette stored in the file's own `PLTE` chunk, parsed in the graph. A pixel takes the lowest
  index that has its colour;
- RGB masks are accepted only with a given palette (e.g. VOC masks saved in colour).

References: PNG specification (ISO/IEC 15948), sections 5.3 (chunk layout) and 11.2.2 (IHDR);
JPEG, ITU-T T.81, annex B (marker segments).
"""

import numpy as np
import scipy.io
import tensorflow as tf

from keras_fcn.data.checks import check_image_channels, require

_JPEG_START = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"
_PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND"
_GIF_START = b"GIF8"
_BMP_START = b"BM"
# End markers are looked for in this many trailing bytes, so that padding after them is allowed.
_END_WINDOW = 1024
# IHDR starts right after the signature: length (4), type (4), width (4), height (4), then
# the bit depth and the colour type.
_PNG_BIT_DEPTH_OFFSET = 24
_PNG_GRAY, _PNG_RGB, _PNG_PALETTE, _PNG_GRAY_ALPHA, _PNG_RGBA = 0, 2, 3, 4, 6


def _starts_with(contents: tf.Tensor, prefix: bytes) -> tf.Tensor:
    return tf.equal(tf.strings.substr(contents, 0, len(prefix)), prefix)


def _tail_contains(contents: tf.Tensor, marker: bytes) -> tf.Tensor:
    """Whether `marker` occurs in the last `_END_WINDOW` bytes of `contents`."""
    start = tf.maximum(tf.strings.length(contents) - _END_WINDOW, 0)
    tail = tf.io.decode_raw(tf.strings.substr(contents, start, _END_WINDOW), tf.uint8)
    # Leading zeros keep every shifted slice non-empty; no marker starts with a zero byte.
    tail = tf.concat([tf.zeros([len(marker)], tf.uint8), tail], axis=0)
    count = tf.shape(tail)[0] - len(marker) + 1
    found = tf.ones([count], tf.bool)
    for offset, byte in enumerate(marker):
        found &= tf.equal(tail[offset : offset + count], byte)
    return tf.reduce_any(found)


def _complete_file_checks(contents: tf.Tensor, path: tf.Tensor) -> list[tf.Operation]:
    """Assertions that a JPEG or PNG file is not truncated (its end marker is present)."""
    is_jpeg = _starts_with(contents, _JPEG_START)
    is_png = _starts_with(contents, _PNG_START)
    complete = tf.logical_not(is_jpeg) | _tail_contains(contents, _JPEG_END)
    complete &= tf.logical_not(is_png) | _tail_contains(contents, _PNG_END)
    return [require(complete, "{}: the file is truncated (its end marker is missing)", path)]


def _jpeg_header_valid(contents: tf.Tensor) -> tf.Tensor:
    """Whether a JPEG's markers, from SOI to the first SOS, form a valid sequence with a frame.

    Each marker is 0xFF then a code; all but the stand-alone ones (TEM, RST0-7) carry a 2-byte
    big-endian length that counts itself. The walk stops at SOS (start of scan), after which
    the compressed data follows; a frame header (SOF) must come before it.

    Reference: ITU-T T.81 (JPEG), annex B.1.1.
    """
    size = tf.strings.length(contents)

    def walking(offset, valid, frame, scan):
        return valid & tf.logical_not(scan) & (offset + 4 <= size)

    def step(offset, valid, frame, scan):
        data = tf.cast(tf.io.decode_raw(tf.strings.substr(contents, offset, 4), tf.uint8), tf.int32)
        code = data[1]
        fill = tf.equal(code, 0xFF)  # fill bytes may precede a marker
        standalone = tf.equal(code, 0x01) | ((code >= 0xD0) & (code <= 0xD7))
        length = data[2] * 256 + data[3]
        is_frame = (
            (code >= 0xC0)
            & (code <= 0xCF)
            & tf.logical_not(tf.equal(code, 0xC4) | tf.equal(code, 0xC8) | tf.equal(code, 0xCC))
        )
        valid &= tf.equal(data[0], 0xFF) & (fill | standalone | (length >= 2))
        valid &= tf.logical_not(tf.equal(code, 0xD8) | tf.equal(code, 0xD9))
        step_size = tf.where(fill, 1, tf.where(standalone, 2, 2 + length))
        return offset + step_size, valid, frame | is_frame, tf.equal(code, 0xDA)

    _, valid, frame, scan = tf.while_loop(
        walking, step, (tf.constant(2), tf.constant(True), tf.constant(False), tf.constant(False))
    )
    return valid & frame & scan


def decode_image(path: tf.Tensor) -> tf.Tensor:
    """Reads a JPEG, PNG, BMP or GIF file into an RGB uint8 tensor of shape `(H, W, 3)`.

    Grayscale images are repeated into three channels. Files that are not images, truncated
    files and images with two or four channels (e.g. RGBA) raise an error naming the file.

    Args:
        path: scalar string tensor, the image file.

    Returns:
        A uint8 tensor of shape `(H, W, 3)`.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_jpeg("a.jpg", np.full((4, 6, 3), 128, np.uint8))
    >>> image = decode_image(tf.constant("a.jpg"))
    >>> image.shape, image.dtype.name
    (TensorShape([4, 6, 3]), 'uint8')
    """
    contents = tf.io.read_file(path)
    is_jpeg = _starts_with(contents, _JPEG_START)
    known = (
        is_jpeg
        | _starts_with(contents, _PNG_START)
        | _starts_with(contents, _GIF_START)
        | _starts_with(contents, _BMP_START)
    )
    header_valid = tf.cond(is_jpeg, lambda: _jpeg_header_valid(contents), lambda: True)
    checks = [
        require(known, "{}: not a JPEG, PNG, BMP or GIF image file", path),
        require(header_valid, "{}: corrupt JPEG header (invalid marker sequence)", path),
        *_complete_file_checks(contents, path),
    ]
    with tf.control_dependencies(checks):
        # JPEGs are decoded with the accurate integer IDCT, as PIL and OpenCV do: TensorFlow's
        # default (the fast one) is off by several grey levels near edges.
        image = tf.cond(
            is_jpeg,
            lambda: tf.io.decode_jpeg(contents, channels=0, dct_method="INTEGER_ACCURATE"),
            lambda: tf.io.decode_image(contents, channels=0, expand_animations=False),
        )
    return tf.ensure_shape(to_rgb(check_image_channels(image, path)), [None, None, 3])


def to_rgb(image: tf.Tensor) -> tf.Tensor:
    """Repeats a grayscale `(H, W, 1)` image into three channels; others pass unchanged.

    Args:
        image: tensor of shape `(H, W, 1)` or `(H, W, 3)`.

    Returns:
        A tensor of shape `(H, W, 3)`.

    Example:

    >>> to_rgb(tf.constant([[[7]]], tf.uint8)).numpy().tolist()
    [[[7, 7, 7]]]
    """
    return tf.cond(
        tf.equal(tf.shape(image)[-1], 1),
        lambda: tf.tile(image, [1, 1, 3]),
        lambda: tf.identity(image),
    )


def colours_to_indices(
    image: tf.Tensor, palette: tf.Tensor, path: tf.Tensor, palette_name: str
) -> tf.Tensor:
    """Maps an `(H, W, 3)` colour image to the indices of its colours in `palette`.

    Args:
        image: uint8 tensor of shape `(H, W, 3)`.
        palette: uint8 tensor of shape `(K, 3)`; row `i` is the colour of index `i`.
        path: scalar string tensor, the mask file, named in errors.
        palette_name: how errors name the palette, e.g. `"VOC"`.

    Returns:
        An int32 tensor of shape `(H, W)`. A colour listed more than once takes its lowest
        index; a colour not in the palette is an error naming the file.

    Example:

    >>> palette = tf.constant([[0, 0, 0], [128, 0, 0]], tf.uint8)
    >>> colours_to_indices(tf.constant([[[128, 0, 0]]], tf.uint8), palette, "m.png", "VOC")
    <tf.Tensor: shape=(1, 1), dtype=int32, numpy=array([[1]], dtype=int32)>
    """

    def codes(rgb):
        rgb = tf.cast(rgb, tf.int32)
        return rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]

    # A mask holds few distinct colours: match those against the palette, then spread back.
    distinct, where_distinct = tf.unique(tf.reshape(codes(image), [-1]))
    palette_codes = codes(palette)
    size = tf.shape(palette_codes)[0]
    matches = tf.equal(distinct[:, None], palette_codes[None, :])
    lowest = tf.reduce_min(tf.where(matches, tf.range(size)[None, :], size), axis=1)
    found = lowest < size

    def first_unknown_colour():
        code = tf.boolean_mask(distinct, tf.logical_not(found))[0]
        return tf.stack([code // 65536, code // 256 % 256, code % 256])

    check = require(
        tf.reduce_all(found),
        "{}: colour {} (RGB) is not in the " + palette_name + " palette",
        path,
        first_unknown_colour,
    )
    with tf.control_dependencies([check]):
        indices = tf.gather(lowest, where_distinct)
    return tf.reshape(indices, tf.shape(image)[:2])


def _read_u32(contents: tf.Tensor, offset: tf.Tensor) -> tf.Tensor:
    """The big-endian unsigned 32-bit integer at `offset`, as int64."""
    data = tf.cast(tf.io.decode_raw(tf.strings.substr(contents, offset, 4), tf.uint8), tf.int64)
    return ((data[0] * 256 + data[1]) * 256 + data[2]) * 256 + data[3]


def png_palette(contents: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """Reads the `PLTE` chunk of a PNG file's bytes as a `(K, 3)` uint8 palette.

    Args:
        contents: scalar string tensor, the PNG file's bytes.
        path: scalar string tensor, the file, named in errors.

    Returns:
        A uint8 tensor of shape `(K, 3)`.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_palette_png("mask.png", np.array([[0, 1]]), [[0, 0, 0], [9, 8, 7]])
    >>> png_palette(tf.io.read_file("mask.png"), tf.constant("mask.png")).numpy().tolist()
    [[0, 0, 0], [9, 8, 7]]
    """
    size = tf.cast(tf.strings.length(contents), tf.int64)

    def before_palette(offset):
        in_file = offset + 8 <= size
        chunk_type = tf.strings.substr(contents, tf.minimum(offset + 4, size), 4)
        return in_file & tf.not_equal(chunk_type, "PLTE")

    def next_chunk(offset):
        # A chunk is its length (4 bytes), type (4), data (length) and CRC (4).
        return (offset + 12 + _read_u32(contents, offset),)

    (offset,) = tf.while_loop(before_palette, next_chunk, (tf.constant(8, tf.int64),))
    found = offset + 8 <= size
    check = require(found, "{}: palette PNG without a PLTE chunk (corrupt file)", path)
    with tf.control_dependencies([check]):
        length = _read_u32(contents, offset)
        entries = tf.io.decode_raw(tf.strings.substr(contents, offset + 8, length), tf.uint8)
    return tf.reshape(entries, [-1, 3])


def decode_png_mask(
    path: tf.Tensor,
    palette: np.ndarray | tf.Tensor | None = None,
    palette_name: str = "given",
) -> tf.Tensor:
    """Reads a PNG mask into its stored class indices, an int32 tensor of shape `(H, W)`.

    Args:
        path: scalar string tensor, the mask file.
        palette: `None` to read palette PNGs through the palette stored in each file (RGB masks
            are then an error), or a `(K, 3)` uint8 palette, e.g. `voc_palette()`, through which
            the colours of palette and RGB masks are mapped back to indices (a colour outside it
            is an error).
        palette_name: how errors name `palette`, e.g. `"VOC"` for "not in the VOC palette".

    Returns:
        An int32 tensor of shape `(H, W)`.

    Example:

    >>> from keras_fcn.classes import voc_palette
    >>> from keras_fcn.data import testing
    >>> testing.write_palette_png("2007_000032.png", np.array([[0, 15, 255]]))
    >>> decode_png_mask(tf.constant("2007_000032.png"), voc_palette(), "VOC").numpy()
    array([[  0,  15, 255]], dtype=int32)
    """
    contents = tf.io.read_file(path)
    checks = [
        require(_starts_with(contents, _PNG_START), "{}: masks must be PNG files (lossless)", path),
        *_complete_file_checks(contents, path),
    ]
    with tf.control_dependencies(checks):
        header = tf.cast(
            tf.io.decode_raw(tf.strings.substr(contents, _PNG_BIT_DEPTH_OFFSET, 2), tf.uint8),
            tf.int32,
        )
    bit_depth, colour_type = header[0], header[1]

    def grayscale():
        return tf.cond(
            tf.equal(bit_depth, 16),
            lambda: tf.cast(tf.io.decode_png(contents, channels=1, dtype=tf.uint16), tf.int32),
            # decode_png stretches 1-, 2- and 4-bit values to 0..255 by bit replication
            # (e.g. 2-bit 0b10 -> 0b10101010 = 2 * 85); dividing undoes it.
            lambda: (
                tf.cast(tf.io.decode_png(contents, channels=1), tf.int32)
                // (255 // (tf.bitwise.left_shift(1, tf.minimum(bit_depth, 8)) - 1))
            ),
        )[..., 0]

    def through_own_palette():
        return colours_to_indices(
            tf.io.decode_png(contents, channels=3),
            png_palette(contents, path),
            path,
            "file's own",
        )

    def through_given_palette():
        return colours_to_indices(
            tf.io.decode_png(contents, channels=3),
            tf.convert_to_tensor(palette, tf.uint8),
            path,
            palette_name,
        )

    def rejected():
        channels = tf.gather([1, 0, 3, 1, 2, 0, 4], tf.minimum(colour_type, 6))
        check = require(
            tf.constant(False),
            "{}: the mask has {} channels; expected a single-channel or palette PNG holding "
            "class indices",
            path,
            channels,
        )
        with tf.control_dependencies([check]):
            return tf.zeros([0, 0], tf.int32)

    if palette is None:
        branches = {_PNG_GRAY: grayscale, _PNG_PALETTE: through_own_palette}
    else:
        branches = {
            _PNG_GRAY: grayscale,
            _PNG_PALETTE: through_given_palette,
            _PNG_RGB: through_given_palette,
            _PNG_RGBA: through_given_palette,
        }
    branch_index = tf.constant(len(branches), tf.int32)
    for index, key in enumerate(branches):
        branch_index = tf.where(tf.equal(colour_type, key), index, branch_index)
    label = tf.switch_case(branch_index, [*branches.values(), rejected])
    return tf.ensure_shape(label, [None, None])


def _read_sbd_mat(path: bytes | np.ndarray) -> np.ndarray:
    path = np.asarray(path).item().decode()  # bytes in a graph, a 0-d array when eager
    try:
        contents = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except (
        Exception
    ) as error:  # scipy raises many types (IndexError, OSError, ...) on corrupt files
        raise ValueError(f"{path}: cannot read the .mat file ({error})") from error
    segmentation = getattr(contents.get("GTcls"), "Segmentation", None)
    if not isinstance(segmentation, np.ndarray) or segmentation.ndim != 2:
        raise ValueError(
            f"{path}: expected an SBD class mask, a struct GTcls with a 2-D field Segmentation"
        )
    return segmentation.astype(np.int32)


def decode_sbd_mask(path: tf.Tensor) -> tf.Tensor:
    """Reads the class mask `GTcls.Segmentation` of an SBD `cls/*.mat` file.

    Reference: B. Hariharan et al., "Semantic Contours from Inverse Detectors", ICCV 2011 (the
    Semantic Boundaries Dataset).

    Args:
        path: scalar string tensor, the `.mat` file.

    Returns:
        An int32 tensor of shape `(H, W)`.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_sbd_mat("cls/2008_000002.mat", np.array([[0, 3], [3, 3]]))
    >>> decode_sbd_mask(tf.constant("cls/2008_000002.mat")).numpy()
    array([[0, 3],
           [3, 3]], dtype=int32)
    """
    label = tf.numpy_function(_read_sbd_mat, [path], tf.int32, stateful=False)
    return tf.ensure_shape(label, [None, None])


def decode_mask(
    path: tf.Tensor,
    palette: np.ndarray | tf.Tensor | None = None,
    palette_name: str = "given",
) -> tf.Tensor:
    """Reads a mask file, an SBD `.mat` file or a PNG, into class indices of shape `(H, W)`.

    Args:
        path: scalar string tensor, the mask file; `.mat` files are read as SBD masks.
        palette: the palette of PNG masks, as in `decode_png_mask`.
        palette_name: how errors name `palette`.

    Returns:
        An int32 tensor of shape `(H, W)`.

    Example:

    >>> from keras_fcn.data import testing
    >>> testing.write_palette_png("masks/cat.png", np.array([[0, 1]]), [[0, 0, 0], [9, 8, 7]])
    >>> decode_mask(tf.constant("masks/cat.png")).numpy()
    array([[0, 1]], dtype=int32)
    """
    return tf.cond(
        tf.strings.regex_full_match(path, r"(?i).*\.mat"),
        lambda: decode_sbd_mask(path),
        lambda: decode_png_mask(path, palette, palette_name),
    )
