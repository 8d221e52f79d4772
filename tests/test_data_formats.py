import numpy as np
import pytest
import scipy.io
import tensorflow as tf
from PIL import Image

from keras_fcn.classes import voc_palette
from keras_fcn.data.formats import (
    colours_to_indices,
    decode_image,
    decode_mask,
    decode_png_mask,
    decode_sbd_mask,
    png_palette,
    to_rgb,
)

RNG = np.random.default_rng(0)
INDICES = RNG.integers(0, 21, (13, 17)).astype(np.uint8)
INDICES[0, :3] = 255  # void


def read_mask(path, palette=None, palette_name="given"):
    read = tf.function(lambda p: decode_png_mask(p, palette, palette_name))
    return read(tf.constant(str(path))).numpy()


def read_image(path):
    return tf.function(decode_image)(tf.constant(str(path))).numpy()


def test_voc_palette_png_gives_stored_indices(tmp_path, data_writers):
    data_writers.palette_png(tmp_path / "m.png", INDICES)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png", voc_palette()), INDICES)


def test_palette_png_is_read_through_its_own_palette(tmp_path, data_writers):
    # Three entries: index 0 black, 1 red, 2 green; decode_png returns these colours.
    data_writers.palette_png(tmp_path / "m.png", INDICES % 3, [[0, 0, 0], [255, 0, 0], [0, 255, 0]])
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), INDICES % 3)


def test_own_palette_of_a_voc_mask_gives_the_same_indices(tmp_path, data_writers):
    data_writers.palette_png(tmp_path / "m.png", INDICES)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), INDICES)


def test_repeated_palette_colour_takes_lowest_index(tmp_path, data_writers):
    # Entries 0 and 2 are both black: black pixels read as 0, the lowest index.
    indices = np.array([[0, 1, 2]], np.uint8)
    data_writers.palette_png(tmp_path / "m.png", indices, [[0, 0, 0], [9, 9, 9], [0, 0, 0]])
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), [[0, 1, 0]])


def test_rgb_mask_in_voc_colours_is_mapped_to_indices(tmp_path):
    Image.fromarray(voc_palette()[INDICES]).save(tmp_path / "m.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png", voc_palette()), INDICES)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_grayscale_mask_keeps_values_at_every_bit_depth(tmp_path, bits):
    values = (INDICES.astype(int) % 2**bits).astype(np.uint8)
    if bits == 1:
        Image.fromarray(values.astype(bool)).save(tmp_path / "m.png")
    else:
        Image.fromarray(values, mode="L").save(tmp_path / "m.png", bits=bits)
    assert (tmp_path / "m.png").read_bytes()[24] == bits  # IHDR bit depth
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), values)


def test_sixteen_bit_grayscale_mask_keeps_values(tmp_path):
    values = (np.arange(12 * 5).reshape(12, 5) * 1000).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "m.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), values)


def test_colour_outside_voc_palette_is_an_error_naming_the_file(tmp_path, data_writers):
    data_writers.palette_png(tmp_path / "m.png", INDICES % 2, [[0, 0, 0], [1, 2, 3]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"m\.png: colour \[1 2 3\]"):
        read_mask(tmp_path / "m.png", voc_palette())


@pytest.mark.parametrize(("palette_name", "expected"), [("VOC", "the VOC"), (None, "the given")])
def test_colour_outside_the_palette_names_the_palette(
    tmp_path, data_writers, palette_name, expected
):
    data_writers.palette_png(tmp_path / "m.png", INDICES % 2, [[0, 0, 0], [1, 2, 3]])
    names = {} if palette_name is None else {"palette_name": palette_name}
    read = tf.function(lambda p: decode_png_mask(p, voc_palette(), **names))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"is not in {expected} palette"):
        read(tf.constant(str(tmp_path / "m.png")))


def test_colour_outside_the_palette_is_named_with_the_palettes_name():
    palette = tf.constant([[0, 0, 0]], tf.uint8)
    image = tf.constant([[[0, 0, 0], [5, 6, 7]]], tf.uint8)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"m\.png: colour \[5 6 7\] \(RGB\) is not in the CamVid palette",
    ):
        colours_to_indices(image, palette, tf.constant("m.png"), "CamVid")


def test_rgb_mask_without_palette_is_an_error_naming_the_file(tmp_path):
    Image.fromarray(voc_palette()[INDICES]).save(tmp_path / "m.png")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"m\.png: the mask has 3 channels"):
        read_mask(tmp_path / "m.png")


def test_jpeg_mask_is_an_error_naming_the_file(tmp_path, data_writers):
    data_writers.jpeg(tmp_path / "m.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"m\.png: masks must be PNG"):
        read_mask(tmp_path / "m.png")


def test_png_palette_parses_the_plte_chunk(tmp_path, data_writers):
    palette = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    data_writers.palette_png(tmp_path / "m.png", INDICES % 3, palette)
    contents = tf.io.read_file(str(tmp_path / "m.png"))
    np.testing.assert_array_equal(png_palette(contents, tf.constant("m.png")), palette)


def test_colours_to_indices_matches_a_dictionary_lookup():
    palette = voc_palette()
    colours = palette[INDICES]
    lookup = {tuple(colour): index for index, colour in enumerate(palette.tolist())}
    expected = np.array([[lookup[tuple(c)] for c in row] for row in colours.tolist()])
    result = colours_to_indices(tf.constant(colours), tf.constant(palette), "m.png", "VOC")
    np.testing.assert_array_equal(result, expected)


def test_jpeg_image_matches_pil_decoding(tmp_path, data_writers):
    image, _ = data_writers.example("2007_000032")
    data_writers.jpeg(tmp_path / "a.jpg", image)
    reference = np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB")).astype(int)
    decoded = read_image(tmp_path / "a.jpg")
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - reference).max() <= 1


def test_grayscale_image_is_repeated_into_three_channels(tmp_path):
    gray = RNG.integers(0, 256, (9, 7)).astype(np.uint8)
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.stack([gray] * 3, axis=-1))


def test_to_rgb_repeats_one_channel_and_keeps_three():
    gray = RNG.integers(0, 256, (3, 4, 1)).astype(np.uint8)
    np.testing.assert_array_equal(to_rgb(gray), np.concatenate([gray] * 3, axis=-1))
    rgb = RNG.integers(0, 256, (3, 4, 3)).astype(np.uint8)
    np.testing.assert_array_equal(to_rgb(rgb), rgb)


def test_rgba_image_is_an_error_naming_the_file(tmp_path):
    Image.fromarray(np.zeros((4, 4, 4), np.uint8), mode="RGBA").save(tmp_path / "a.png")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a\.png: the image has 4 channels"):
        read_image(tmp_path / "a.png")


@pytest.mark.parametrize("name", ["a.jpg", "a.png"])
def test_truncated_image_is_an_error_naming_the_file(tmp_path, name):
    image = RNG.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / name)
    contents = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(contents[: len(contents) // 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match=name + r": the file is truncated"):
        read_image(tmp_path / name)


def test_bytes_after_the_jpeg_end_marker_are_accepted(tmp_path, data_writers):
    image, _ = data_writers.example("2007_000033")
    data_writers.jpeg(tmp_path / "a.jpg", image)
    (tmp_path / "a.jpg").write_bytes((tmp_path / "a.jpg").read_bytes() + b"\0" * 100)
    assert read_image(tmp_path / "a.jpg").shape == image.shape


def test_non_image_file_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "a.jpg").write_text("not an image")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a\.jpg: not a JPEG, PNG"):
        read_image(tmp_path / "a.jpg")


def test_sbd_mat_mask_gives_its_segmentation(tmp_path, data_writers):
    data_writers.sbd_mat(tmp_path / "a.mat", INDICES % 21)
    label = tf.function(decode_mask)(tf.constant(str(tmp_path / "a.mat")))
    np.testing.assert_array_equal(label, INDICES % 21)


def test_sbd_mat_mask_is_read_outside_a_graph_too(tmp_path, data_writers):
    data_writers.sbd_mat(tmp_path / "a.mat", INDICES % 21)
    np.testing.assert_array_equal(
        decode_sbd_mask(tf.constant(str(tmp_path / "a.mat"))), INDICES % 21
    )


@pytest.mark.parametrize(
    ("contents", "message"),
    [(b"garbage", "cannot read the .mat file"), (None, "expected an SBD class mask")],
)
def test_unreadable_mat_is_an_error_naming_the_file(tmp_path, contents, message):
    if contents is None:
        scipy.io.savemat(tmp_path / "a.mat", {"other": np.zeros((2, 2))})
    else:
        (tmp_path / "a.mat").write_bytes(contents)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"a\.mat: " + message):
        tf.function(decode_mask)(tf.constant(str(tmp_path / "a.mat")))
