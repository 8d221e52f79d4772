"""Inference: how a model is run on images to score or segment them.

`folding`: the inference copy of a model, which every inference path runs (`inference_copy`):
batch normalization folded into the convolutions before it, dilated convolutions run as one;
`phase_layout`: the ResNet stages that copy runs on the phases of their maps (`phase_layers`);
`kernels`: which convolutions, backends and devices those choices were measured on.
`single_scale`: the model once, at the images' own size, compiled once for images of any size on
each backend (`logits_function`); evaluation and the in-process predictors run it.
`protocols`: the papers' test-time protocols (scales, flips, sliding windows, their merge) as
data (`Protocol`, `PROTOCOLS`) and `ProtocolPredictor`, which runs a model under one;
`resizing`: their resizes of images and score maps (Keras' bilinear, MATLAB's `imresize`). `crf`:
DeepLab's fully connected CRF (`dense_crf`, `CRF_SETTINGS`), with the optional `pydensecrf2`.
"""

from keras_fcn.import_hooks import lazy_package

__all__ = lazy_package(
    __name__,
    {
        "keras_fcn.inference.crf": (
            "CRF_SETTINGS",
            "CRFSettings",
            "dense_crf",
            "get_crf_settings",
        ),
        "keras_fcn.inference.folding": (
            "inference_copy",
            "foldable_pairs",
        ),
        "keras_fcn.inference.phase_layout": ("phase_layers",),
        "keras_fcn.inference.protocols": (
            "MERGES",
            "PROTOCOLS",
            "Protocol",
            "ProtocolPredictor",
            "get_protocol",
            "scaled_size",
            "window_starts",
        ),
        "keras_fcn.inference.single_scale": (
            "AUXILIARY_OUTPUTS",
            "has_auxiliary_head",
            "logits_function",
            "without_auxiliary_head",
        ),
    },
)
