"""The offline demo: FCN-8s learns synthetic shapes on a CPU, then is exported and served once.

It shows the whole path a user takes, with nothing to download: the synthetic dataset
(`keras_fcn.data.synthetic`), the training recipe and callbacks (`keras_fcn.training`), the
paper's four scores before and after training (`keras_fcn.evaluate`), a figure with a legend of
the shapes, and a TF Serving SavedModel that is loaded back and queried with an encoded PNG.
"""

import io
import os
import time

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from keras_fcn import data, training
from keras_fcn.evaluation import evaluate
from keras_fcn.export import export_for_serving
from keras_fcn.model_info import ModelInfo, write_model_info
from keras_fcn.models import FCN8s
from keras_fcn.visualization import save_prediction_figure

DEMO_NUM_CLASSES = 4
"""Background, disc, square and triangle."""

DEMO_FC_UNITS = 64
"""fc6/fc7 width: narrow, so that training fits a laptop's CPU."""

DEMO_LEARNING_RATE = 1e-3
DEMO_BATCH_SIZE = 16
DEMO_VAL_EXAMPLES = 128


def _encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def run_demo(
    output_dir: str = "runs/demo",
    export_dir: str = "saved_models/demo",
    epochs: int = 10,
    train_examples: int = 1024,
    image_size: int = 64,
    seed: int = 0,
) -> dict:
    """Trains FCN-8s on synthetic shapes, reports, exports and serves it; returns the scores.

    The model is FCN-8s from random weights (`weights=None`, nothing downloads) with narrow
    fc6/fc7 and the aligned geometry; training uses the default recipe (Adam, cosine decay,
    labelled-pixel mean loss) with flips, and is resumable like `keras-fcn train`.

    Args:
        output_dir: run directory: checkpoints, `history.csv`, `prediction.png`.
        export_dir: SavedModel base directory; version 1 is written.
        epochs: passes over the training images.
        train_examples: synthetic training images.
        image_size: side of the images.
        seed: seed of the data and the initial weights.

    Returns:
        `{"before": report dict, "after": report dict, "seconds": float, "export": path}`.

    Example:

    >>> scores = run_demo(epochs=1, train_examples=16, image_size=32)  # doctest: +ELLIPSIS
    Before training (FCN-8s from random weights):
    ...
    >>> sorted(scores)
    ['after', 'before', 'export', 'seconds']
    """
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    train_source = data.synthetic(train_examples, image_size, DEMO_NUM_CLASSES, seed, "train")
    val_source = data.synthetic(DEMO_VAL_EXAMPLES, image_size, DEMO_NUM_CLASSES, seed, "val")
    train_data = data.training_pipeline(
        train_source,
        crop_size=None,
        batch_size=DEMO_BATCH_SIZE,
        augment=True,
        seed=seed,
        scale_range=(1.0, 1.0),
        cache=True,
    )
    val_data = data.evaluation_pipeline(val_source, batch_size=DEMO_BATCH_SIZE, cache=True)
    class_names = data.synthetic_class_names(DEMO_NUM_CLASSES)

    model = FCN8s(
        DEMO_NUM_CLASSES, weights=None, fc_units=DEMO_FC_UNITS, dropout=0.0, geometry="aligned"
    )
    recipe = training.default_recipe(DEMO_LEARNING_RATE, DEMO_BATCH_SIZE)
    steps = int(train_data.cardinality()) * epochs
    training.compile_for_training(model, recipe, DEMO_NUM_CLASSES, total_steps=steps)

    before = evaluate(model, val_data, DEMO_NUM_CLASSES, class_names)
    print(f"Before training (FCN-8s from random weights):\n{before}\n")
    training.fit(model, train_data, val_data, epochs, output_dir, verbose=2)
    for name in ("final.keras", "best.keras"):  # `keras-fcn predict` then names the shapes
        write_model_info(
            os.path.join(output_dir, name), ModelInfo(class_names, dataset="synthetic")
        )
    after = evaluate(model, val_data, DEMO_NUM_CLASSES, class_names)
    print(f"\nAfter {epochs} epochs on {train_examples} synthetic images:\n{after}\n")

    image, label = next(iter(val_source.as_numpy_iterator()))
    prediction = np.argmax(keras.ops.convert_to_numpy(model(image[None])), axis=-1)[0]
    figure_path = os.path.join(output_dir, "prediction.png")
    save_prediction_figure(figure_path, image, prediction, label, class_names=class_names)

    export_path = export_for_serving(model, export_dir, version=1, overwrite=True)
    served = tf.saved_model.load(export_path).signatures["serving_default"]
    served_ids = served(image_bytes=tf.constant([_encode_png(image)]))["class_ids"].numpy()[0]
    agreement = float(np.mean(served_ids == prediction))

    seconds = time.perf_counter() - start
    print(f"Figure (image, ground truth, prediction, overlay, legend): {figure_path}")
    print(
        f"SavedModel for TF Serving: {export_path}; served a PNG, "
        f"{agreement:.1%} of pixels agree with the in-process model."
    )
    print(
        f"Mean IU on {DEMO_VAL_EXAMPLES} held-out images: {before.mean_iou:.3f} before, "
        f"{after.mean_iou:.3f} after training; {seconds / 60:.1f} minutes in all."
    )
    return {
        "before": before.to_dict(),
        "after": after.to_dict(),
        "seconds": seconds,
        "export": export_path,
    }
