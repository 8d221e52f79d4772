"""Inference: how a model is run on images to score or segment them.

`single_scale`: the model once, at the images' own size, compiled once for images of any size
on each backend (`logits_function`); evaluation and the in-process predictors run it. `crf`:
DeepLab's fully connected CRF (`dense_crf`, `CRF_SETTINGS`), with the optional `pydensecrf2`.
Test-time protocols (scales, flips, windows) sit beside them.
"""

from keras_fcn.inference.crf import CRF_SETTINGS, CRFSettings, dense_crf, get_crf_settings
from keras_fcn.inference.single_scale import logits_function

__all__ = ["CRF_SETTINGS", "CRFSettings", "dense_crf", "get_crf_settings", "logits_function"]
