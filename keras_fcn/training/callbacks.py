"""The callbacks of a training run: resumable, checkpointed, logged.

All are Keras' own: `BackupAndRestore` (re-running an interrupted command resumes at the last
finished epoch, optimizer state included), `ModelCheckpoint` (best validation mean IU),
`CSVLogger`, `TensorBoard` (where TensorFlow is installed: Keras writes its logs with
`tf.summary` on every backend) and `TerminateOnNaN`.
"""

import json
import os

import keras

from keras_fcn.backends import tensorflow_installed


def training_callbacks(output_dir: str, monitor: str = "val_mean_iou") -> list:
    """The callbacks of a training run writing into `output_dir`.

    - `backup/`: `BackupAndRestore` at the end of each epoch; re-running the same command after an
      interruption resumes from the last finished epoch, optimizer state included.
    - `best.keras`: `ModelCheckpoint` of the best `monitor` (maximised).
    - `history.csv`: `CSVLogger`, appended to on resume; `logs/`: `TensorBoard`, where
      TensorFlow is installed.
    - `TerminateOnNaN`.

    Args:
        output_dir: the run's directory.
        monitor: the logged score that picks `best.keras`.

    Returns:
        A list of callbacks for `model.fit`.

    Example:

    >>> [type(callback).__name__ for callback in training_callbacks("runs/fcn8s")][:2]
    ['BackupAndRestore', 'ModelCheckpoint']
    """
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(output_dir, "backup")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(output_dir, "best.keras"), monitor=monitor, mode="max", save_best_only=True
        ),
        keras.callbacks.CSVLogger(os.path.join(output_dir, "history.csv"), append=True),
    ]
    if tensorflow_installed():
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(output_dir, "logs")))
    return [*callbacks, keras.callbacks.TerminateOnNaN()]


def finished_epochs(output_dir: str) -> int:
    """The epochs an interrupted run in `output_dir` finished, which a new run resumes after.

    `BackupAndRestore` records them in `backup/training_metadata.json` at the end of each epoch
    and deletes `backup/` when a run ends; Keras has no function that reads them back.

    Args:
        output_dir: the run's directory.

    Returns:
        The number of finished epochs; 0 when there is nothing to resume.

    Example:

    >>> finished_epochs("runs/never-started")
    0
    """
    path = os.path.join(output_dir, "backup", "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as file:
        return int(json.load(file)["epoch"])
