"""Every module of `keras_fcn` that registers classes with Keras, imported together.

Each class Keras may meet in a saved `.keras` file (layers, metrics, losses, preprocessing,
learning-rate multipliers) is registered by `@keras.saving.register_keras_serializable` when its
module is imported. Keras has no lazy lookup of custom objects (`keras.src.saving.
serialization_lib` imports the module named in a file only for Keras' own packages), so
`keras_fcn` imports this module as soon as Keras is imported (see `keras_fcn/__init__.py`):
`keras.models.load_model` then reads the library's files without `custom_objects`. A module
that adds a registered class belongs in this list.

Example:

>>> import keras
>>> keras.saving.get_registered_object("keras_fcn>BilinearUpsampling") is not None
True
"""

import keras_fcn.backbones.preprocessing
import keras_fcn.layers.dilated_conv
import keras_fcn.layers.dropout
import keras_fcn.layers.geometry
import keras_fcn.layers.identity
import keras_fcn.layers.matmul_conv
import keras_fcn.layers.normalization
import keras_fcn.layers.pooling
import keras_fcn.layers.tap_sum_conv
import keras_fcn.layers.unpooling
import keras_fcn.layers.upsampling
import keras_fcn.metrics.confusion_matrix
import keras_fcn.metrics.score_metrics
import keras_fcn.training.losses
import keras_fcn.training.multipliers  # noqa: F401  (each import binds keras_fcn)
