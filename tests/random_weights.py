"""Random weights that make a test model's outputs depend on its every layer."""

import keras
import numpy as np


def randomize_batch_normalization(model, seed, scale=(0.5, 1.5), shift=0.1):
    """Gives every batch normalization of `model` random statistics, so that inference differs
    from a fresh model's: scales uniform in `scale`, shifts normal with deviation `shift`,
    moving means normal with deviation 0.5 and moving variances uniform in [0.5, 2)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(*scale, channels),
                    rng.normal(0, shift, channels),
                    rng.normal(0, 0.5, channels),
                    rng.uniform(0.5, 2.0, channels),
                ]
            )
