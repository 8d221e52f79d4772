"""The four scores of the FCN paper, streamed over a whole split from one confusion matrix.

Every score is a plain function of a confusion matrix `n` (rows = ground truth, columns =
prediction, `n[i, j]` = pixels of class `i` predicted as `j`, `t_i = sum_j n[i, j]`):

- pixel accuracy `sum_i n_ii / sum_i t_i`;
- mean accuracy, the mean of `n_ii / t_i` over the classes present in the ground truth;
- mean IU, the mean of `IU_i = n_ii / (t_i + sum_j n_ji - n_ii)` over the classes present in
  the ground truth or the predictions;
- frequency-weighted IU `(sum_k t_k)^-1 sum_i t_i IU_i`.

The Keras metrics accumulate that matrix and apply the same functions, and so does
`keras_fcn.evaluation`. The counts stay exact over a whole split: `keras.metrics.MeanIoU`'s
float32 matrix stops counting exactly at 2^24 pixels per cell, and PASCAL VOC 2012 val alone
holds about 2.7e8 labelled pixels. Float64 would be exact but TPUs have no float64, so the
matrix is held as two float32 words, `high + low`: `high` takes whole multiples of 2^16, `low`
the rest (below 2^16, where float32 still resolves 1/128). Whole-number counts are exact up to
2^40 (about 1.1e12 pixels per cell), also summed over up to 256 replicas, and fractional sample
weights accumulate.

- `scores`: the four scores and the per-class IU and accuracy, as functions of a matrix.
- `counting`: one batch's (label, prediction) pairs counted as the matrix's two float32 words.
- `confusion_matrix`: `ConfusionMatrixMetric`, the Keras metric that accumulates the matrix.
- `score_metrics`: `PixelAccuracy`, `MeanAccuracy`, `MeanIoU`, `FrequencyWeightedIoU` (one
  score each) and `SegmentationScores` (all four from one matrix).

Reference: Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, section 5 (the original `score.py`).
"""

from keras_fcn.metrics.confusion_matrix import ConfusionMatrixMetric
from keras_fcn.metrics.score_metrics import (
    FrequencyWeightedIoU,
    MeanAccuracy,
    MeanIoU,
    PixelAccuracy,
    SegmentationScores,
)
from keras_fcn.metrics.scores import (
    frequency_weighted_iou,
    mean_accuracy,
    mean_iou,
    per_class_accuracy,
    per_class_iou,
    pixel_accuracy,
)

__all__ = [
    "ConfusionMatrixMetric",
    "FrequencyWeightedIoU",
    "MeanAccuracy",
    "MeanIoU",
    "PixelAccuracy",
    "SegmentationScores",
    "frequency_weighted_iou",
    "mean_accuracy",
    "mean_iou",
    "per_class_accuracy",
    "per_class_iou",
    "pixel_accuracy",
]
