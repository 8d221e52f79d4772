"""Dropout that Monte Carlo sampling can switch on at inference, leaving the rest in inference.

Bayesian SegNet keeps its dropout layers active at test time and averages the softmax of several
passes (caffe-segnet's `sample_weights_test: true`), while batch normalisation stays in
inference mode. Calling a Keras model with `training=True` would switch both, so the Bayesian
models' dropout layers are `MonteCarloDropout`: an ordinary `keras.layers.Dropout` in training
and inference, which also drops units while its `sampling` attribute is true.
`keras_fcn.predict_with_uncertainty` sets it for its passes and restores it.

Reference: Kendall, Badrinarayanan & Cipolla, "Bayesian SegNet: Model Uncertainty in Deep
Convolutional Encoder-Decoder Architectures for Scene Understanding", BMVC 2017
(arXiv:1511.02680), section 3; Gal & Ghahramani, "Dropout as a Bayesian Approximation", ICML
2016.
"""

import keras


@keras.saving.register_keras_serializable(package="keras_fcn")
class MonteCarloDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` that also drops units at inference while `sampling` is true.

    `sampling` is run-time state, not configuration: it starts false (so the layer behaves as
    `Dropout`, and a saved or exported model is deterministic) and is read when the layer is
    called, so set it before calling the model eagerly, or before tracing a function.

    Args:
        rate, noise_shape, seed: as `keras.layers.Dropout`.

    Example:

    >>> layer = MonteCarloDropout(0.5, seed=0)
    >>> x = np.ones((1, 1000), "float32")
    >>> bool(np.all(layer(x) == 1))  # inference: the identity
    True
    >>> layer.sampling = True
    >>> sorted(set(np.asarray(layer(x)).ravel().tolist()))  # units dropped, the rest scaled
    [0.0, 2.0]
    """

    def __init__(self, rate: float, **kwargs):
        super().__init__(rate, **kwargs)
        self.sampling = False

    def call(self, inputs, training=False):
        return super().call(inputs, training=True if self.sampling else training)
