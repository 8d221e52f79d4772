import numpy as np
import pytest
from PIL import Image

from keras_fcn.classes import CAMVID_CLASS_NAMES, camvid_palette, voc_palette
from keras_fcn.visualization import (
    colorize,
    overlay,
    plot_training_curves,
    read_history_csv,
    save_overlay_png,
    save_palette_png,
    save_prediction_figure,
    save_uncertainty_png,
)


def test_voc_palette_matches_the_devkit_colours():
    palette = voc_palette()
    # VOClabelcolormap.m: aeroplane (128, 0, 0), person (192, 128, 128), void (224, 224, 192).
    assert palette[1].tolist() == [128, 0, 0]
    assert palette[15].tolist() == [192, 128, 128]
    assert palette[255].tolist() == [224, 224, 192]


def test_palette_png_reads_back_as_class_indices(tmp_path):
    class_ids = np.random.default_rng(0).integers(0, 21, (7, 9))
    class_ids[0, 0] = 255
    path = tmp_path / "mask.png"
    save_palette_png(class_ids, str(path))
    image = Image.open(path)
    assert image.mode == "P"
    np.testing.assert_array_equal(np.asarray(image), class_ids)
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), voc_palette()[class_ids])


def test_colorize_and_overlay_keep_background_clear():
    image = np.full((2, 2, 3), 100, np.uint8)
    class_ids = np.array([[0, 1], [15, 0]])
    np.testing.assert_array_equal(colorize(class_ids)[1, 0], [192, 128, 128])
    blended = overlay(image, class_ids, alpha=0.5)
    np.testing.assert_array_equal(blended[0, 0], image[0, 0])
    np.testing.assert_array_equal(blended[0, 1], [114, 50, 50])  # (100 + 128) / 2, 100 / 2


def test_out_of_range_class_ids_raise():
    with pytest.raises(ValueError, match="255"):
        colorize(np.array([[256]]))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        save_palette_png(np.zeros((2, 2, 1)), "unused.png")


def test_training_curves_from_a_csv_log_with_missing_values(tmp_path):
    log = tmp_path / "history.csv"
    log.write_text("epoch,loss,mean_iou,val_mean_iou\n0,1.5,0.2,NA\n1,0.9,0.4,0.35\n")
    history = read_history_csv(str(log))
    assert history["loss"] == [1.5, 0.9] and np.isnan(history["val_mean_iou"][0])
    path = tmp_path / "curves.png"
    plot_training_curves(history, str(path))
    assert Image.open(path).size[0] > 100


def test_prediction_figure_has_a_panel_per_picture(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    labels = np.ones((8, 8), np.int32)
    with_truth, without_truth = tmp_path / "a.png", tmp_path / "b.png"
    save_prediction_figure(str(with_truth), image, labels, labels)
    save_prediction_figure(str(without_truth), image, labels)
    assert Image.open(with_truth).size[0] > Image.open(without_truth).size[0]


def test_uncertainty_png_is_scaled_to_its_maximum(tmp_path):
    path = tmp_path / "uncertainty.png"
    uncertainty = np.array([[0.0, 0.25], [0.5, 1.0]]) * 0.08
    assert save_uncertainty_png(uncertainty, path) == pytest.approx(0.08)
    image = Image.open(path)
    assert image.mode == "L"
    # 0, a quarter, a half and all of 255, rounded.
    assert np.asarray(image).tolist() == [[0, 64], [128, 255]]
    save_uncertainty_png(np.zeros((2, 3)), path)
    assert np.asarray(Image.open(path)).max() == 0
    with pytest.raises(ValueError, match="finite, non-negative"):
        save_uncertainty_png(np.array([[-1.0]]), path)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        save_uncertainty_png(np.zeros((1, 2, 3)), path)


def test_another_palette_colours_every_class_and_is_stored_in_the_png(tmp_path):
    palette = camvid_palette()
    class_ids = np.array([[0, 3], [10, 255]])
    np.testing.assert_array_equal(colorize(class_ids, palette), palette[class_ids])
    image = np.full((2, 2, 3), 100, np.uint8)
    blended = overlay(image, class_ids, alpha=0.5, palette=palette, clear_class=None)
    np.testing.assert_array_equal(blended[0, 0], [114, 114, 114])  # Sky (128, 128, 128) blended
    path = tmp_path / "mask.png"
    save_palette_png(class_ids, str(path), palette)
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), palette[class_ids])
    with pytest.raises(ValueError, match=r"\(256, 3\)"):
        colorize(class_ids, palette[:11])


def test_prediction_figure_legend_lists_the_classes_present_with_their_names(tmp_path):
    image = np.zeros((12, 16, 3), np.uint8)
    prediction = np.full((12, 16), 3)
    prediction[:4] = 0  # Sky
    prediction[8:, 8:] = 8  # Car
    label = np.full((12, 16), 3)
    label[0] = 255
    label[1:4] = 10  # Bicyclist, in the ground truth only
    figure = save_prediction_figure(
        str(tmp_path / "figure.png"), image, prediction, label, camvid_palette(), CAMVID_CLASS_NAMES
    )
    (legend,) = figure.legends
    present = sorted({0, 3, 8, 10, 255})
    names = [CAMVID_CLASS_NAMES[i] if i != 255 else "void" for i in present]
    assert [text.get_text() for text in legend.get_texts()] == names
    colours = [
        tuple(np.round(np.array(patch.get_facecolor()[:3]) * 255)) for patch in legend.get_patches()
    ]
    assert colours == [tuple(camvid_palette()[i].astype(float)) for i in present]
    # Without names: the ids, and only those of the prediction when there is no ground truth.
    figure = save_prediction_figure(str(tmp_path / "plain.png"), image, prediction)
    assert [text.get_text() for text in figure.legends[0].get_texts()] == [
        "class 0",
        "class 3",
        "class 8",
    ]


def test_uncertainty_panel_has_a_colour_bar_of_its_values(tmp_path):
    uncertainty = np.linspace(0, 0.2, 48).reshape(6, 8)
    figure = save_prediction_figure(
        str(tmp_path / "figure.png"),
        np.zeros((6, 8, 3), np.uint8),
        np.zeros((6, 8), np.int32),
        uncertainty=uncertainty,
    )
    panel = next(axis for axis in figure.axes if axis.get_title() == "uncertainty")
    shown = panel.images[0]
    assert shown.colorbar is not None and shown.colorbar.ax in figure.axes
    assert shown.get_clim() == (0, pytest.approx(0.2))


def test_overlay_png_has_the_photo_size_and_blends_the_palette_colours(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (23, 37, 3)).astype(np.uint8)
    class_ids = rng.integers(0, 11, (23, 37))
    for palette, clear in ((camvid_palette(), None), (None, 0)):
        path = tmp_path / "overlay.png"
        save_overlay_png(str(path), image, class_ids, palette, alpha=0.4)
        written = np.asarray(Image.open(path))
        assert written.shape == image.shape
        colours = voc_palette() if palette is None else palette
        for row, column in ((0, 0), (11, 20), (22, 36), (5, 31)):
            weight = 0.0 if class_ids[row, column] == clear else 0.4
            blend = (1 - weight) * image[row, column] + weight * colours[class_ids[row, column]]
            np.testing.assert_array_equal(written[row, column], np.floor(blend).astype(np.uint8))
    with pytest.raises(ValueError, match=r"must have the image's size \(23, 37\)"):
        save_overlay_png(str(path), image, class_ids[1:])
