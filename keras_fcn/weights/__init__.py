"""Weights: transfer between models of the family (`transfer`)."""

from keras_fcn.weights.transfer import WeightTransfer, transfer_weights

__all__ = ["WeightTransfer", "transfer_weights"]
