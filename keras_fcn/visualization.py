"""Pictures of segmentations: palette PNG masks, colour overlays, figures with a legend of the
classes present, uncertainty maps, and training curves.

Masks are saved as palette PNGs, by default with the PASCAL VOC colour map as VOC's own
`SegmentationClass` files are: viewers show colours, and `PIL.Image.open(path)` reads back the
class indices. Every function that draws class ids takes a `palette`, a `(256, 3)` uint8 array
such as `keras_fcn.classes.camvid_palette()` (default: `voc_palette()`).
"""

import csv
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from keras_fcn.classes import IGNORE_LABEL, voc_palette


def _palette(palette: np.ndarray | None) -> np.ndarray:
    if palette is None:
        return voc_palette()
    palette = np.asarray(palette)
    if palette.shape != (256, 3):
        raise ValueError(
            f"palette must be a (256, 3) array of RGB colours, received shape {palette.shape}."
        )
    return palette.astype(np.uint8)


def colorize(class_ids: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """Maps a `(H, W)` array of class ids (255 = void) to palette colours `(H, W, 3)` uint8.

    Args:
        class_ids: integer array with values in `[0, 255]`.
        palette: `(256, 3)` uint8 colours, e.g. `keras_fcn.classes.camvid_palette()`; `None`
            for the VOC palette.

    Returns:
        A uint8 array of shape `(H, W, 3)`.

    Example:

    >>> colorize(np.array([[0, 15]]))[0, 1].tolist()
    [192, 128, 128]
    >>> from keras_fcn.classes import camvid_palette
    >>> colorize(np.array([[3]]), camvid_palette())[0, 0].tolist()  # CamVid's Road
    [128, 64, 128]
    """
    class_ids = np.asarray(class_ids)
    if class_ids.min(initial=0) < 0 or class_ids.max(initial=0) > 255:
        raise ValueError("Class ids must lie in [0, 255] to be drawn with a palette.")
    return _palette(palette)[class_ids.astype(np.uint8)]


def save_palette_png(class_ids: np.ndarray, path: str, palette: np.ndarray | None = None) -> None:
    """Writes `(H, W)` class ids as a palette PNG that PIL reads back as the same indices.

    Args:
        class_ids: integer array with values in `[0, 255]`.
        path: the PNG to write.
        palette: the colours viewers show, `(256, 3)` uint8; `None` for the VOC palette.

    Example:

    >>> save_palette_png(np.zeros((4, 4), "int32"), "mask.png")
    """
    class_ids = np.asarray(class_ids)
    if class_ids.ndim != 2:
        raise ValueError(f"Expected class ids of shape (H, W), received {class_ids.shape}.")
    if class_ids.min(initial=0) < 0 or class_ids.max(initial=0) > 255:
        raise ValueError("Class ids must lie in [0, 255] to be stored in a palette PNG.")
    image = Image.fromarray(class_ids.astype(np.uint8), mode="P")
    image.putpalette(_palette(palette).flatten().tolist())
    image.save(path)


def save_uncertainty_png(uncertainty: np.ndarray, path: str) -> float:
    """Writes a per-pixel uncertainty as an 8-bit greyscale PNG: black 0, white the map's maximum.

    Each map is scaled to its own maximum, as SegNet-Tutorial's `test_bayesian_segnet.py` shows
    Bayesian SegNet's uncertainty (`vmin=0, vmax=max`); an all-zero map stays black.

    Args:
        uncertainty: `(H, W)` non-negative values (`keras_fcn.predict_with_uncertainty`).
        path: the PNG to write.

    Returns:
        The map's maximum, the value shown as white.

    Example:

    >>> save_uncertainty_png(np.array([[0.0, 0.01], [0.02, 0.04]]), "uncertainty.png")
    0.04
    >>> np.asarray(Image.open("uncertainty.png")).tolist()
    [[0, 64], [128, 255]]
    """
    uncertainty = np.asarray(uncertainty, dtype=np.float64)
    if uncertainty.ndim != 2:
        raise ValueError(
            f"Expected an uncertainty map of shape (H, W), received {uncertainty.shape}."
        )
    if not np.all(np.isfinite(uncertainty)) or uncertainty.min(initial=0) < 0:
        raise ValueError("An uncertainty map must hold finite, non-negative values.")
    maximum = float(uncertainty.max(initial=0))
    scaled = uncertainty / maximum if maximum > 0 else uncertainty
    Image.fromarray(np.round(scaled * 255).astype(np.uint8)).save(path)
    return maximum


def overlay(
    image: np.ndarray,
    class_ids: np.ndarray,
    alpha: float = 0.5,
    palette: np.ndarray | None = None,
    clear_class: int | None = 0,
) -> np.ndarray:
    """Blends the palette colours of `class_ids` over an RGB `image`.

    Args:
        image: uint8 array `(H, W, 3)`.
        class_ids: integer array `(H, W)`.
        alpha: opacity of the colours.
        palette: `(256, 3)` uint8 colours; `None` for the VOC palette.
        clear_class: a class left uncoloured (VOC's background, 0); `None` colours every class.

    Returns:
        A uint8 array `(H, W, 3)`.

    Example:

    >>> overlay(np.zeros((2, 2, 3), "uint8"), np.ones((2, 2), "int32")).shape
    (2, 2, 3)
    """
    image = np.asarray(image, dtype=np.float32)
    colors = colorize(class_ids, palette).astype(np.float32)
    coloured = np.ones(np.shape(class_ids), bool)
    if clear_class is not None:
        coloured = np.asarray(class_ids) != clear_class
    weight = np.where(coloured[..., None], alpha, 0.0)
    return np.clip((1 - weight) * image + weight * colors, 0, 255).astype(np.uint8)


def save_overlay_png(
    path: str,
    image: np.ndarray,
    class_ids: np.ndarray,
    palette: np.ndarray | None = None,
    alpha: float = 0.5,
) -> None:
    """Writes the `overlay` of class ids on an image as a PNG of the image's own size.

    Args:
        path: the PNG to write.
        image: uint8 array `(H, W, 3)`.
        class_ids: integer array `(H, W)`.
        palette: `(256, 3)` uint8 colours; `None` for the VOC palette, whose background (0) is
            left clear (with another palette every class is coloured).
        alpha: opacity of the colours.

    Example:

    >>> save_overlay_png("overlay.png", np.zeros((5, 7, 3), "uint8"), np.ones((5, 7), "int32"))
    >>> Image.open("overlay.png").size
    (7, 5)
    """
    image, class_ids = np.asarray(image), np.asarray(class_ids)
    if image.shape[:2] != class_ids.shape:
        raise ValueError(
            f"The class ids {class_ids.shape} must have the image's size {image.shape[:2]}."
        )
    clear_class = 0 if palette is None else None
    Image.fromarray(overlay(image, class_ids, alpha, palette, clear_class)).save(path)


def class_legend(
    class_ids: Sequence[int],
    palette: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> list[Patch]:
    """The legend entries of class ids: a patch of each one's colour, labelled with its name.

    Args:
        class_ids: the classes to list, e.g. those present in an image; 255 is `"void"`.
        palette: `(256, 3)` uint8 colours; `None` for the VOC palette.
        class_names: the name of each class id; `None` (or an id past its end) names it
            `"class N"`.

    Returns:
        `matplotlib.patches.Patch`es for `Figure.legend(handles=...)`, in the order of the ids.

    Example:

    >>> [patch.get_label() for patch in class_legend([0, 15, 255], class_names=("bg",))]
    ['bg', 'class 15', 'void']
    """
    colours = _palette(palette)
    names = tuple(class_names or ())

    def name(class_id: int) -> str:
        if class_id == IGNORE_LABEL:
            return "void"
        return names[class_id] if class_id < len(names) else f"class {class_id}"

    return [
        Patch(facecolor=colours[class_id] / 255, edgecolor="0.4", label=name(int(class_id)))
        for class_id in class_ids
    ]


def save_prediction_figure(
    path: str,
    image: np.ndarray,
    prediction: np.ndarray,
    label: np.ndarray | None = None,
    palette: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    uncertainty: np.ndarray | None = None,
) -> Figure:
    """Saves a figure of the image, its ground truth (if given), the prediction and an overlay,
    with a legend of the classes present.

    The legend lists every class in the prediction or the ground truth (and void, where the
    ground truth has it) with its colour and name. An uncertainty map, if given, is drawn in
    grey with a colour bar of its values.

    Args:
        path: the PNG to write.
        image: uint8 array `(H, W, 3)`.
        prediction: class ids `(H, W)`.
        label: ground-truth class ids `(H, W)` (255 = void), or `None`.
        palette: `(256, 3)` uint8 colours; `None` for the VOC palette, whose background (0) is
            left clear in the overlay (with another palette every class is coloured).
        class_names: the name of each class id, for the legend; `None` names them `"class N"`.
        uncertainty: a per-pixel uncertainty `(H, W)` (`keras_fcn.predict_with_uncertainty`),
            or `None`.

    Returns:
        The `matplotlib.figure.Figure`, which notebooks display inline.

    Example:

    >>> image = np.zeros((8, 8, 3), "uint8")
    >>> label, prediction = np.eye(8, dtype="int32"), np.ones((8, 8), "int32")
    >>> figure = save_prediction_figure("figure.png", image, prediction, label)
    >>> [axis.get_title() for axis in figure.axes]
    ['image', 'ground truth', 'prediction', 'overlay']
    >>> [text.get_text() for text in figure.legends[0].get_texts()]
    ['class 0', 'class 1']
    """
    image, prediction = np.asarray(image, dtype=np.uint8), np.asarray(prediction)
    panels = [("image", image)]
    present = set(np.unique(prediction).tolist())
    if label is not None:
        panels.append(("ground truth", colorize(label, palette)))
        present |= set(np.unique(label).tolist())
    clear_class = 0 if palette is None else None
    panels += [
        ("prediction", colorize(prediction, palette)),
        ("overlay", overlay(image, prediction, palette=palette, clear_class=clear_class)),
    ]
    if uncertainty is not None:
        panels.append(("uncertainty", np.asarray(uncertainty, dtype=np.float64)))
    height, width = prediction.shape
    panel_width = 3.0
    figure = Figure(
        figsize=(panel_width * len(panels), panel_width * height / width + 0.6),
        layout="constrained",
    )
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (title, picture) in zip(axes, panels, strict=True):
        if picture.ndim == 2:  # the uncertainty: grey from 0 to its maximum, with its scale
            shown = axis.imshow(picture, cmap="gray", vmin=0, vmax=picture.max() or 1)
            figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.02)
        else:
            axis.imshow(picture)
        axis.set_title(title, fontsize="medium")
        axis.axis("off")
    handles = class_legend(sorted(present), palette, class_names)
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncol=min(len(handles), 6),
        frameon=False,
        fontsize="small",
        handlelength=1.2,
        columnspacing=1.0,
    )
    figure.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.05)
    return figure


def _csv_value(text: str) -> float:
    return float("nan") if text in ("", "NA") else float(text)


def read_history_csv(path: str) -> dict[str, list[float]]:
    """Reads a `keras.callbacks.CSVLogger` file into `{column: values}`; `NA` becomes NaN."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        raise ValueError(f"The training log {path} has no epochs.")
    return {key: [_csv_value(row[key]) for row in rows] for key in rows[0]}


def plot_training_curves(history: dict[str, list[float]], path: str) -> Figure:
    """Plots loss and mean IU per epoch (training and validation) into a PNG; returns the figure.

    Args:
        history: `History.history` or `read_history_csv(...)`.
        path: the PNG to write.

    Example:

    >>> history = {"loss": [0.9, 0.5], "mean_iou": [0.2, 0.4], "val_mean_iou": [0.3, 0.35]}
    >>> figure = plot_training_curves(history, "curves.png")
    >>> [axis.get_title() for axis in figure.axes]
    ['loss', 'mean_iou']
    """
    panels = [name for name in ("loss", "mean_iou", "pixel_accuracy") if name in history]
    if not panels:
        raise ValueError(f"No loss or score to plot; the history has {sorted(history)}.")
    epochs = history.get("epoch")
    figure = Figure(figsize=(4.5 * len(panels), 3.5))
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, name in zip(axes[0], panels, strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + name)
            if values:
                steps = [e + 1 for e in epochs] if epochs else range(1, len(values) + 1)
                axis.plot(list(steps), values, style, marker="o", label=(prefix or "train_") + name)
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    return figure
