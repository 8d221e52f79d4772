"""The papers' solvers as `Recipe`s: how each release trained its nets (the registry's
`paper_recipe` of each model, `keras_fcn.registry`), with the sources each follows and what a
`Recipe` cannot express.

Example:

>>> FCN_SOLVER.momentum, FCN_SOLVER.loss_reduction
(0.99, 'sum')
>>> PSPNET_CITYSCAPES_SOLVER.crop_size
713
"""

import dataclasses

from keras_fcn.models import deeplab, dilation, pspnet
from keras_fcn.training.recipes import Recipe, l2_for_caffe_weight_decay

BIASES_AT_TWICE_THE_RATE = (("*/bias", 2.0),)
"""Caffe's `lr_mult: 2` on every bias, as FCN's, DeepLab's and Dilation's prototxts set it."""


def _paper_sgd(
    learning_rate: float,
    batch_size: int,
    *,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    crop: tuple[int, tuple[float, float]] | None = None,
    **settings,
) -> Recipe:
    """A paper's solver: SGD at `learning_rate` on batches of `batch_size`, with `momentum`
    (0.9 unless the paper says otherwise) and Caffe's `weight_decay` on the kernels (5e-4
    unless the paper says otherwise; `l2_for_caffe_weight_decay`); `crop=(side, (low, high))`
    trains on random crops of that side, mirrored and scaled by `low`–`high`; `settings` are
    the recipe's other fields."""
    if crop is not None:
        side, scales = crop
        settings |= {"crop_size": side, "augment": True, "scale_range": scales}
    return Recipe(
        name="paper",
        optimizer="sgd",
        learning_rate=learning_rate,
        momentum=momentum,
        l2=l2_for_caffe_weight_decay(weight_decay),
        batch_size=batch_size,
        **settings,
    )


def _paper_poly_sgd(learning_rate: float, batch_size: int, **settings) -> Recipe:
    """`_paper_sgd` with the "poly" decay of DeepLab and the nets that train as it does (power
    0.9, `Recipe`'s)."""
    return _paper_sgd(learning_rate, batch_size, schedule="poly", **settings)


FCN_SOLVER = _paper_sgd(
    1e-10,
    1,
    momentum=0.99,
    learning_rate_multipliers=BIASES_AT_TWICE_THE_RATE,
    loss_reduction="sum",
)
"""The original FCN solver (`solver.prototxt`, `solve.py`, `net.py`): SGD with momentum 0.99 and
a fixed rate, biases at twice the rate, the loss summed over pixels (not averaged), Caffe's
weight decay 5e-4 on the weights (not the biases), batch 1, whole images without augmentation.
The learning rate differs per net."""

DEEPLAB_SOLVER = _paper_poly_sgd(
    1e-3,
    10,
    crop=(321, (1.0, 1.0)),
    learning_rate_multipliers=(
        (f"{deeplab.SCORE_NAME}*/kernel", 10.0),
        (f"{deeplab.SCORE_NAME}*/bias", 20.0),
        *BIASES_AT_TWICE_THE_RATE,
    ),
    label_stride=deeplab.OUTPUT_STRIDE,
)
"""DeepLab's VGG16 solver: SGD with momentum 0.9, base rate 1e-3 with the "poly" decay (power
0.9; PAMI 2017 table 3: 65.88 mean IU with batch 10 and 20k iterations, against 62.25 for the
v1 release's step schedule), the new classifier `fc8_voc12` at 10× (biases 20×) and every other
bias at 2× (`train.prototxt`'s `lr_mult`), weight decay 5e-4, the loss averaged over labelled
pixels of the labels subsampled 8× (`label_shrink`), batches of random 321×321 crops, mirrored
and not rescaled, as the release's `ImageSegData` layer takes them."""

DEEPLAB_V2_RESNET_SOLVER = dataclasses.replace(
    DEEPLAB_SOLVER,
    learning_rate=2.5e-4,
    learning_rate_multipliers=(
        (f"{deeplab.RESNET_SCORE_NAME}*/kernel", 10.0),
        (f"{deeplab.RESNET_SCORE_NAME}*/bias", 20.0),
    ),
    scale_range=(0.5, 1.5),
)
"""DeepLab v2's ResNet-101 solver, as its TensorFlow port trains it
(DrSleep/tensorflow-deeplab-resnet `train.py`): SGD with momentum 0.9, base rate 2.5e-4 with
the "poly" decay (power 0.9, 20k iterations), the ASPP branches `fc1_voc12_c*` at 10× (biases
20×) and the bias-free backbone at 1×, weight decay 5e-4, batches of 10 random 321×321 crops,
mirrored, with the labels subsampled 8×, and the images randomly rescaled between 0.5 and 1.5
(PAMI 2017, section 4.1: "data augmentation by randomly scaling the input images (from 0.5 to
1.5) during training"). Batch normalization is frozen in the model itself
(`build_deeplab_resnet`). The released net trains with multi-scale inputs and a loss on every
scale and on their maximum, which a recipe does not express."""

FCN_ALEXNET_SOLVER = _paper_sgd(1e-4, 1)
"""FCN-AlexNet's solver (`voc-fcn-alexnet/solver.prototxt`), unlike the VGG16 nets': SGD with
standard momentum 0.9 and a fixed rate of 1e-4 on the loss averaged over labelled pixels
(`normalize: true`), weight decay 5e-4, whole images one at a time. The original accumulates the
gradients of 20 images per step (`iter_size: 20`); the recipe's batches of one do not."""

DILATION_SOLVER = _paper_sgd(
    1e-4,
    14,
    crop=(500, (1.0, 1.0)),
    learning_rate_multipliers=BIASES_AT_TWICE_THE_RATE,
    label_stride=dilation.OUTPUT_STRIDE,
)
"""The Dilation front-end's solver (`fyu/dilation`, `train.py` and `docs/training.md`): SGD
with momentum 0.9 at 1e-4 (the code's front-end default; its step decay by 10 comes only after
100k iterations), biases at 2×, weight decay 5e-4, the loss averaged over labelled pixels of the
labels sliced every 8 pixels (`label_slice`), batches of 14 random 500×500 crops, mirrored. The
release crops 500×500 windows of the reflected image (128×128 pixels of labels); the model here
reflects each crop itself. The context module's joint training with the front-end uses 1e-5
(`train.py joint`), after the module alone was trained at 1e-3 on stored front-end scores,
which one recipe does not express."""

DEEPLAB_V3_SOLVER = _paper_poly_sgd(0.007, 16, crop=(513, (0.5, 2.0)), weight_decay=1e-4)
"""DeepLab v3's first stage on VOC train_aug (arXiv:1706.05587, section 4.1; tensorflow/models
`research/deeplab/train.py`): SGD with momentum 0.9 at 0.007 with the "poly" decay (power
0.9, 30k steps), weight decay 1e-4 ("use 0.0001 for ResNet model variants": slim's
`l2_regularizer(1e-4)`, 1e-4 · ‖w‖² / 2, Caffe's rule), batches of 16 random 513×513 crops,
mirrored and scaled by 0.5–2 (in steps of 0.25 there, continuously here), the loss averaged
over labelled pixels of the upsampled logits (`upsample_logits`), at output stride 16. The
batch normalization decay of 0.9997 is not a solver setting that a `Recipe` holds: the model's
head carries it (`keras_fcn.models.deeplab_v3.PAPER_ASPP`, Keras' `momentum`). Nor is the
second stage, at output stride 8 with frozen batch normalization at 0.001, which one recipe
does not express."""

TORCHVISION_SOLVER = _paper_poly_sgd(
    0.02,
    32,
    crop=(480, (0.5, 2.0)),
    weight_decay=1e-4,
    learning_rate_multipliers=(("aux_*", 10.0),),
    aux_loss_weight=0.5,
)
"""torchvision's (pytorch/vision `references/segmentation`: README's `--lr 0.02 -b 4` on 8 GPUs
with `--aux-loss`, `train.py`, `presets.py`): SGD with momentum 0.9 at 0.02 with the "poly"
decay per step (power 0.9, 30 epochs), the auxiliary head at 10× the rate, weight decay 1e-4
(torch's coupled decay, 1e-4 · ‖w‖² / 2), batches of 4 × 8 = 32 random 480×480 crops, mirrored,
the loss averaged over labelled pixels, plus 0.5 × the auxiliary head's for a net built with it
(`aux=True`; the registry's nets are built without). A `Recipe` does not express the decay of
biases and batch normalization parameters (the recipe's L2 is on kernels), nor torchvision's
scale jitter, a resize of the shorter side to 260–1040 pixels rather than a factor of the
image's size."""

AUTO_DEEPLAB_SOLVER = _paper_poly_sgd(0.05, 8, crop=(769, (0.5, 2.0)), weight_decay=4e-5)
"""Auto-DeepLab on Cityscapes, from scratch (Liu et al., CVPR 2019, section 5): random 769×769
crops of the 2,975 fine training images, batches of 8, the "poly" learning rate policy over
1.5 M iterations for table 2 (0.5 M for the ablations; `mindspore-ai/models`
`research/cv/Auto-DeepLab/README.md` quotes the paper's S at 75.20 / 77.09 / 78.00 mean IU after
0.5 / 1 / 1.5 M). The base rate 0.05 is the paper's as its MindSpore port reads it
(`base_lr`; not checked against the paper here). The project's choices, from the release's
defaults where the paper is silent (tensorflow/models `research/deeplab/train.py`,
`nas_network.nas_arg_scope`): SGD with momentum 0.9, power 0.9, weight decay 4e-5 (slim's
`l2_regularizer(4e-5)`, 4e-5 · ‖w‖² / 2), mirrored crops scaled by 0.5–2 (in steps of 0.25
there, continuously here), the loss averaged over labelled pixels of the upsampled logits. The
batch normalization decay of 0.9997 is the model's (Keras' `momentum`); a `Recipe` holds no
iteration count (1.5 M) nor the release's drop-path, which is off (`drop_path_keep_prob=1.0`)."""

GCN_SOLVER = _paper_sgd(2.5e-5, 1, crop=(512, (1.0, 1.0)), momentum=0.99)
"""GCN's solver (Peng et al., CVPR 2017, section 4, Caffe): SGD with momentum 0.99, weight decay
5e-4, batch 1, mean subtraction and horizontal flips, VOC images padded to 512×512 (stages 2 and
3). The paper gives no learning rate: 2.5e-5 on the loss averaged over labelled pixels is the
project's choice, FCN-32s' rate under the same momentum and batch (1e-10 on the loss summed
over a 500×500 image). Nor does a recipe express the paper's staged VOC schedule: stage 1 on
COCO, SBD and VOC 2012 together (109,892 images padded to 640×640), stage 2 on SBD and VOC
2012 (10,582), stage 3 on VOC 2012 train alone (1,464)."""

PSPNET_SOLVER = _paper_poly_sgd(
    0.01,
    16,
    crop=(473, (0.5, 2.0)),
    weight_decay=1e-4,
    learning_rate_multipliers=(
        ("conv5_3_pool*", 10.0),
        ("conv5_4*", 10.0),
        ("conv6*", 10.0),
        ("conv4_24*", 10.0),
    ),
    aux_loss_weight=pspnet.AUX_LOSS_WEIGHT,
)
"""PSPNet's solver on VOC 2012 and ADE20K (Zhao et al., CVPR 2017, section 4.1; the author's
PyTorch re-implementation hszhao/semseg `config/voc2012/voc2012_pspnet101.yaml`,
`config/ade20k/ade20k_pspnet50.yaml`, `tool/train.py`): SGD with momentum 0.9 at 0.01 with the
"poly" decay per step (power 0.9), the new layers (the pyramid pooling module, `conv5_4`,
`conv6` and the auxiliary head) at 10× the rate, weight decay 1e-4, batches of 16 random
473×473 crops, mirrored and scaled by 0.5–2, the loss averaged over labelled pixels of the
zoomed logits, plus 0.4 × the auxiliary head's for a net built with it (`aux=True`,
`pspnet.AUX_LOSS_WEIGHT`), batch normalization trained (synchronised over the GPUs there). A
`Recipe` does not express the random rotation
by −10°…10° and Gaussian blur of the augmentation, the crops' padding with the mean, and the
decay of biases and batch normalization parameters (torch's coupled decay there; the recipe's
L2 is on kernels). The Caffe training of the released nets is not published; the number of
steps differs per dataset (paper: 30k iterations on VOC, 150k on ADE20K; semseg: 50 and 100
epochs)."""

PSPNET_CITYSCAPES_SOLVER = dataclasses.replace(PSPNET_SOLVER, crop_size=713)
"""PSPNet's solver on Cityscapes (hszhao/semseg `config/cityscapes/cityscapes_pspnet101.yaml`):
`PSPNET_SOLVER` with 713×713 crops (paper: 90k iterations; semseg: 200 epochs)."""

REFINENET_SOLVER = _paper_sgd(
    5e-4, 1, crop=(400, (0.7, 1.3)), learning_rate_multipliers=(("conv[1-5]_*", 0.1),)
)
"""RefineNet's training (guosheng/refinenet `main/demo_refinenet_train.m`,
`main/gen_net_opts_model_type1.m`): SGD with momentum 0.9 at 5e-4, the ResNet at a tenth of the
rate (`input_featnet_lr_multiplier`), MatConvNet's weight decay 5e-4 (Caffe's rule), one image
per step, random 400 × 400 crops, flipped and scaled by 0.7–1.3 (`aug_scales`, in steps of 0.1
there, continuously here), the loss averaged over labelled pixels. Not expressed by a recipe:
the release lowers the rate by hand to 5e-5 once the validation score stalls
(`demo_refinenet_train_reduce_learning_rate.m`; the constant schedule here is the first stage),
clamps every image's short side to [450, 1100] before it crops, samples crops and images per
class (`class_sample`), computes the loss at 1/4 against labels resized by nearest neighbour
where the recipe's loss reads the upsampled logits (the project's choice, as for the other
models), and trains the batch normalizations' scale and shift, which the model freezes."""

SEGNET_SOLVER = _paper_sgd(1e-3, 4, class_weights="median-frequency")
"""SegNet-Tutorial's solver (`Models/segnet_solver.prototxt`): SGD with momentum 0.9 and a fixed
rate (0.001 for SegNet, 0.1 for SegNet-Basic, `segnet_basic_solver.prototxt`; the Bayesian
solvers are the same), Caffe's weight decay 5e-4, batches of 4 whole 360×480 images
(`batch_size` of the train prototxts; the paper reports mini-batches of 12 for its SegNet-Basic
comparisons), the loss averaged over labelled pixels (`SoftmaxWithLoss`, normalised) and
weighted by median-frequency class weights (the prototxts' `class_weighting`, computed here from
the training labels). The weight decay also applies to
the BN scales (`compile_for_training`); Caffe's doubled bias rate is not reproduced."""
