"""Inference: how a model is run on images to score or segment them.

`single_scale`: the model once, at the images' own size, compiled once for images of any size
on each backend (`logits_function`); evaluation and the in-process predictors run it. Test-time
protocols (scales, flips, windows) sit beside it.
"""

from keras_fcn.inference.single_scale import logits_function

__all__ = ["logits_function"]
