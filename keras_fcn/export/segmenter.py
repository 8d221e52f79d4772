"""What every export computes: raw uint8 images in, class ids (and probabilities if asked) out.

`segmenter(model)` wraps a segmentation model in a functional Keras model from `images` (uint8
RGB, `[B, H, W, 3]`) to `class_ids` (int32 `[B, H, W]`) and, when asked for
(`outputs=OUTPUTS`), `probabilities` (float32 `[B, H, W, num_classes]`): the inputs and outputs
of the SavedModel's `serve_images` signature. The ONNX, OpenVINO and LiteRT exports are this
model converted, so every format takes and returns the same tensors under the same names. A
runtime computes every output of the graph it is given, and the softmax is a pass over every
pixel's `num_classes` scores that writes as many floats, so these exports hold the class ids
only unless the probabilities are asked for.
"""

from collections.abc import Sequence

import keras
import tensorflow as tf

from keras_fcn.export.graphs import plain_convolutions
from keras_fcn.export.layout import (
    CLASS_IDS_OUTPUT,
    DEFAULT_OUTPUTS,
    IMAGES_INPUT,
    PROBABILITIES_OUTPUT,
    check_outputs,
)
from keras_fcn.export.precision import float32_model
from keras_fcn.inference import inference_copy, without_auxiliary_head


class ClassIds(keras.layers.Layer):
    """The arg-max over the last axis as int32, written with `tf.argmax`.

    `keras.ops.argmax` on TensorFlow first maps -0.0 to the smallest positive float with a
    `Bitcast` and a `BitwiseAnd` (to match NumPy under flush-to-zero), which neither tf2onnx nor
    OpenVINO's TensorFlow front end converts. Logits never need that distinction.

    Example:

    >>> ClassIds()(np.array([[0.1, 0.7, 0.2]], "float32")).numpy()
    array([1], dtype=int32)
    """

    def call(self, logits):
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]

    def compute_output_spec(self, logits):
        return keras.KerasTensor(logits.shape[:-1], dtype="int32")


def check_model(model: keras.Model) -> None:
    """Raises a `ValueError` unless `model` maps `(B, H, W, 3)` images of any size to scores
    (a model with an auxiliary head: its logits `"out"`, which the exports keep).

    Example:

    >>> check_model(keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8))
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, received {type(model).__name__}.")
    model = without_auxiliary_head(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"The model {model.name!r} must have one input and one output, received "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    input_shape, output_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if len(input_shape) != 4 or input_shape[-1] != 3 or len(output_shape) != 4:
        raise ValueError(
            f"The model {model.name!r} must map (B, H, W, 3) images to (B, H, W, num_classes) "
            f"scores, received input shape {input_shape} and output shape {output_shape}."
        )
    if input_shape[1:3] != (None, None):
        raise ValueError(
            f"The model {model.name!r} takes only {input_shape[1]}×{input_shape[2]} images; the "
            "exports accept any size. Build it with input_shape=(None, None, 3) and copy the "
            "weights over (keras_fcn.transfer_weights)."
        )


def segmenter(
    model: keras.Model,
    input_size: tuple[int, int] | None = None,
    outputs: Sequence[str] = DEFAULT_OUTPUTS,
    matmul_convolutions: bool = True,
) -> keras.Model:
    """Wraps a segmentation model as uint8 images → class ids (and probabilities if asked).

    A model under a mixed-precision policy (trained with `mixed_bfloat16`) is copied to float32
    first (`keras_fcn.export.float32_model`): the ONNX, OpenVINO and LiteRT exports compute in
    float32, or in their own precision from the float32 graph. The export computes the
    model's inference copy, its batch normalization folded into the convolutions
    (`keras_fcn.inference.inference_copy`), without the phase layout that only TensorFlow
    was measured faster with (`keras_fcn.inference.phase_layout`); a model with an auxiliary
    head is exported without it (`keras_fcn.inference.without_auxiliary_head`).
    Each runtime's graph writes `keras_fcn.layers.MatmulConv2D` as it runs fastest there
    (`matmul_convolutions`, see `keras_fcn.export.graphs`).

    Args:
        model: a model mapping `(B, H, W, 3)` RGB images in [0, 255] to `(B, H, W, num_classes)`
            logits, such as `keras_fcn.FCN8s`.
        input_size: `(height, width)` for a model of one input size (LiteRT), or `None` for any.
        outputs: `("class_ids",)`, or `("class_ids", "probabilities")` (`OUTPUTS`).
        matmul_convolutions: keep `MatmulConv2D` layers (`True`) or write them as the plain
            `Conv2D` with the same weights (`keras_fcn.export.graphs.plain_convolutions`).

    Returns:
        A functional `keras.Model` with the input `images` and a dict of `outputs`.

    Example:

    >>> model = keras_fcn.FCN8s(num_classes=2, weights=None, fc_units=8, geometry="aligned")
    >>> wrapper = segmenter(model, outputs=("class_ids", "probabilities"))
    >>> outputs = wrapper(np.zeros((1, 37, 53, 3), "uint8"))
    >>> outputs["class_ids"].shape, outputs["probabilities"].shape
    (TensorShape([1, 37, 53]), TensorShape([1, 37, 53, 2]))
    """
    outputs = check_outputs(outputs)
    model = without_auxiliary_head(model)
    check_model(model)
    model = inference_copy(float32_model(model), phases=False)
    if not matmul_convolutions:
        model = plain_convolutions(model)
    height, width = (None, None) if input_size is None else input_size
    images = keras.Input((height, width, 3), dtype="uint8", name=IMAGES_INPUT)
    logits = model(keras.ops.cast(images, "float32"))
    results = {CLASS_IDS_OUTPUT: ClassIds(name=CLASS_IDS_OUTPUT)(logits)}
    if PROBABILITIES_OUTPUT in outputs:
        results[PROBABILITIES_OUTPUT] = keras.layers.Softmax(name=PROBABILITIES_OUTPUT)(logits)
    return keras.Model(images, results, name=f"{model.name}_segmenter")


def input_signature(input_size: tuple[int, int] | None = None) -> list[tf.TensorSpec]:
    """The `input_signature` of `segmenter`'s model for `model.export`: `images`, uint8.

    Example:

    >>> input_signature((512, 384))[0].shape
    TensorShape([None, 512, 384, 3])
    """
    height, width = (None, None) if input_size is None else input_size
    return [tf.TensorSpec((None, height, width, 3), tf.uint8, name=IMAGES_INPUT)]
