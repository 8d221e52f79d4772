"""What the export tests share: synthetic images, the export run in a fresh process that has
its runtime and numpy only, and the comparison of what it returns with the Keras model.

A runtime's part of the fresh process (`runtime`, Python source) gets the export's path in
`sys.argv[1]` and any further arguments from `sys.argv[4]` on. It defines `segment(images)`,
returning the export's `(class_ids, probabilities)` for a batch of uint8 images, and a dict
`described` of what it reports about the export; `run_alone` adds the modules of TensorFlow and
Keras that the process imported, which should be none.
"""

import json
import subprocess
import sys

import numpy as np

from keras_fcn.data.synthetic import synthetic_example
from keras_fcn.export.precision import calibration_images

_LOAD = """
import json, sys
import numpy as np
"""

_SEGMENT_AND_DESCRIBE = """
outputs = {}
for index, images in enumerate(np.load(sys.argv[2]).values()):
    outputs[f"class_ids_{index}"], outputs[f"probabilities_{index}"] = segment(images)
np.savez(sys.argv[3], **outputs)
described["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps(described))
"""


def synthetic_images(*shapes, seed=0):
    """Synthetic photos of the given (batch, height, width), cropped from 64×64 examples: batch
    `k` holds examples `seed + 10 k`, `seed + 10 k + 1`, ..."""
    return [
        np.stack(
            [synthetic_example(seed + 10 * index + i, num_classes=3)[0][:h, :w] for i in range(b)]
        )
        for index, (b, h, w) in enumerate(shapes)
    ]


def synthetic_calibration_images():
    """The first 8 images of the synthetic calibration split, 3 classes."""
    return calibration_images(
        (synthetic_example(index, num_classes=3, split="calibration") for index in range(8)), 8
    )


def run_alone(runtime, path, images, tmp_path, *arguments):
    """Runs the export at `path` on each batch of `images` in a fresh process that imports
    `runtime` and numpy only.

    Returns:
        What the process described, and `(class_ids, probabilities)` for each batch.
    """
    script = _LOAD + runtime + _SEGMENT_AND_DESCRIBE
    np.savez(tmp_path / "images.npz", *images)
    result = subprocess.run(
        [sys.executable, "-c", script, path, "images.npz", "outputs.npz", *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    outputs = np.load(tmp_path / "outputs.npz")
    return json.loads(result.stdout.splitlines()[-1]), [
        (outputs[f"class_ids_{i}"], outputs[f"probabilities_{i}"]) for i in range(len(images))
    ]


def keras_outputs(model, images):
    """The Keras model's class ids and softmax probabilities (float64) for uint8 `images`."""
    logits = np.asarray(model(images.astype("float32")), np.float64)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    return logits.argmax(-1), probabilities / probabilities.sum(-1, keepdims=True)


def assert_float32_export_segments_like_keras(class_ids, probabilities, model, images):
    """A float32 export's outputs for `images` are the Keras model's: probabilities within 1e-4,
    and the same class wherever the top two probabilities differ by more than 1e-3 (a tie may
    go either way). The model predicts more than one class, so that the class ids test
    something."""
    expected_ids, expected_probabilities = keras_outputs(model, images)
    np.testing.assert_allclose(probabilities, expected_probabilities, atol=1e-4)
    top_two = np.sort(expected_probabilities, -1)[..., -2:]
    clear = top_two[..., 1] - top_two[..., 0] > 1e-3
    np.testing.assert_array_equal(class_ids[clear], expected_ids[clear])
    assert len(np.unique(expected_ids)) > 1


def assert_function_segments_like_keras(segment, model):
    """`segment`, an export loaded as a function from uint8 images to class ids, returns int32
    ids of a 40×40 image's shape, the Keras model's on more than 99% of the pixels."""
    [images] = synthetic_images((1, 40, 40))
    class_ids = segment(images)
    assert class_ids.dtype == np.int32 and class_ids.shape == (1, 40, 40)
    assert np.mean(class_ids == keras_outputs(model, images)[0]) > 0.99
