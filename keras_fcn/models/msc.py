"""Multi-scale inputs fused by their maximum (MSC): DeepLab v2's released test net, for any model.

DeepLab v2's ResNet-101 test net runs the same weights on the image and on two smaller copies of
it, and keeps, for every pixel and class, the largest score of the three. `multi_scale(model)`
builds that net around a model of this package. Every step is Caffe's `Interp` with its corners
aligned (`keras_fcn.layers.CaffeInterp`):

- `data_res075`, `data_res05`: the image resized by each scale's factors, `shrink_factor: 4,
  zoom_factor: 3` for 0.75 and `shrink_factor: 2` for 0.5 (a scale is the fraction
  zoom / shrink): 513 → 385 and 257.
- The model's scores on each copy, with its weights (the prototxt shares them by `param` name,
  one `keras.Model` called three times here): 65, 49 and 33 for 513.
- `fc1_voc12_res075_interp`, `fc1_voc12_res05_interp`: the smaller scores resized to the
  scale-1 scores' size: 49 → 65 (the prototxt's `shrink_factor: 3, zoom_factor: 4`, one
  resampling from 49 to (49 − 1) / 3 + 1 = 17 → 17 + 16 · 3 = 65) and 33 → 65 (`zoom_factor:
  2`).
- `fc_fusion`: the element-wise maximum (`Eltwise MAX`), then the model's own zoom to the input
  (`fc1_interp`, ×8).

The prototxt fixes each scale's factors for its 513 × 513 input; resizing the scores to the
scale-1 scores instead is the same resampling there (one corner-aligned resampling to the same
size), and still fuses at other sizes, where the fixed factors give sizes that differ (500:
63 against 61) and Caffe stops.

A model ending in a zoom to its input (DeepLab's `fc8_interp` and `fc1_interp`, Dilation's
`interp`: `ZoomToReference`) is run up to the zoom's input, its scores at 1/8, and the fused
scores are zoomed once: the released net. Any other model (FCN, SegNet) gives logits at its
input's size; those of the smaller scales are resized to the image and fused there.

The wrapper lives with the models, not the layers: it takes a built model apart at its zoom and
calls its graph three times, a model-level construction that no single layer is.

Reference: Chen et al., "DeepLab", PAMI 2017, section 4.1 (ResNet-101's multi-scale inputs,
"fusing their score maps by taking the maximum response across scales"); the released
ResNet-101 `test.prototxt` (deeplab_aspp_resnet101; as in nightrome/cocostuff10k
`models/deeplab/cocostuff/config/deeplabv2_resnet101/test.prototxt`); DeepLab's Caffe fork,
`src/caffe/layers/interp_layer.cpp`.
"""

import fractions

import keras

from keras_fcn.layers import CaffeInterp, ZoomToReference

SCALES = (1.0, 0.75, 0.5)
"""The released test net's scales: the image, `data_res075` and `data_res05`."""

FUSIONS = {"max": keras.layers.Maximum, "mean": keras.layers.Average}
"""How the scales' scores are fused: the released net's maximum (`Eltwise MAX`), or their mean."""


def scale_factors(scale: float) -> tuple[int, int]:
    """Caffe `Interp`'s `(shrink_factor, zoom_factor)` of a scale: the scale as zoom / shrink.

    Example:

    >>> scale_factors(0.5), scale_factors(0.75), scale_factors(1.25)
    ((2, 1), (4, 3), (4, 5))
    """
    fraction = fractions.Fraction(scale).limit_denominator(100)
    return fraction.denominator, fraction.numerator


def scale_suffix(scale: float) -> str:
    """The prototxt's suffix of a scale's copy of the net (`res05`, `res075`).

    Example:

    >>> scale_suffix(0.5), scale_suffix(0.75), scale_suffix(1.5)
    ('res05', 'res075', 'res15')
    """
    return "res" + f"{scale:g}".replace(".", "")


def _producer(tensor) -> keras.layers.Layer:
    """The layer whose output `tensor` is (Keras' `_keras_history` of a symbolic tensor)."""
    return tensor._keras_history.operation


def _check(model: keras.Model, scales: tuple[float, ...], fuse: str) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"multi_scale takes a model of one image input and one output; {model.name!r} has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    if fuse not in FUSIONS:
        raise ValueError(f"fuse must be one of {tuple(FUSIONS)}, received {fuse!r}.")
    if len(set(scales)) < 2 or 1.0 not in scales or any(scale <= 0 for scale in scales):
        raise ValueError(
            f"scales must be distinct positive scales, 1.0 (the image, whose scores the others "
            f"are fused at) and at least one other; received {tuple(scales)}."
        )
    for scale in scales:
        shrink, zoom = scale_factors(scale)
        if abs(zoom / shrink - scale) > 1e-6:
            raise ValueError(
                f"Each scale must be a fraction zoom / shrink with a shrink factor up to 100 "
                f"(Caffe's Interp factors); received {scale}."
            )


def multi_scale(
    model: keras.Model,
    scales: tuple[float, ...] = SCALES,
    fuse: str = "max",
    *,
    name: str | None = None,
) -> keras.Model:
    """Builds the multi-scale (MSC) net of a model: its scores on resized inputs, fused.

    See the module docstring for the net and its layer names. The weights are the model's own,
    shared by every scale (training the new model trains the model).

    Reference: Chen et al., PAMI 2017, section 4.1; DeepLab v2's ResNet-101 `test.prototxt`.

    Args:
        model: a functional model of one image input and one output, such as every model of
            `keras_fcn.registry` but FCN's multi-input and multi-head nets.
        scales: the scales of the image the model runs on, 1.0 among them; each a fraction
            zoom / shrink (`0.75` is Caffe's `shrink_factor: 4`, `zoom_factor: 3`).
        fuse: `"max"` (the released net's `Eltwise MAX`) or `"mean"`.
        name: the new model's name (the model's with `_msc`).

    Returns:
        A functional `keras.Model` from the model's input to fused logits of the same shape as
        the model's.

    Raises:
        ValueError: for a model of several inputs or outputs, scales without 1.0 or not
            positive, or an unknown fusion.

    Example:

    >>> model = keras_fcn.DeepLabASPP(num_classes=2, weights=None, fc_units=8)
    >>> released = multi_scale(model)
    >>> released.get_layer("data_res075").output.shape, released.get_layer("fc_fusion").name
    ((None, None, None, 3), 'fc_fusion')
    >>> released(np.zeros((1, 41, 49, 3))).shape
    TensorShape([1, 41, 49, 2])
    """
    scales = tuple(float(scale) for scale in scales)
    _check(model, scales, fuse)
    output = model.outputs[0]
    zoom = _producer(output)
    zoomed = isinstance(zoom, ZoomToReference) and zoom.input[1] is model.inputs[0]
    # The scores that the model zooms to its input, or its logits.
    scores = zoom.input[0] if zoomed else output
    # The model's graph up to its scores, with the model's layers (and weights), behind an input
    # of any size: a model built for one size runs on the smaller copies too.
    net = keras.models.clone_model(
        keras.Model(model.inputs, scores, name=f"{model.name}_scores"),
        input_tensors=[keras.Input((None, None, model.inputs[0].shape[-1]))],
        clone_function=lambda layer: layer,
    )
    scores_name = _producer(scores).name

    images = keras.Input(model.inputs[0].shape[1:], name=model.inputs[0].name)
    scaled_scores = {}
    for scale in sorted(scales, reverse=True):
        suffix = scale_suffix(scale)
        inputs = images
        if scale != 1.0:
            shrink, zoom_factor = scale_factors(scale)
            inputs = CaffeInterp(shrink, zoom_factor, name=f"data_{suffix}")(images)
        scaled_scores[scale] = net(inputs)
    reference = scaled_scores[1.0]
    fused = [reference] + [
        CaffeInterp(name=f"{scores_name}_{scale_suffix(scale)}_interp")([value, reference])
        for scale, value in scaled_scores.items()
        if scale != 1.0
    ]
    fused = FUSIONS[fuse](name="fc_fusion")(fused)
    if zoomed:
        fused = ZoomToReference.from_config(zoom.get_config())([fused, images])
    return keras.Model(images, fused, name=name or f"{model.name}_msc")
