"""The fully connected CRF that DeepLab v1 and v2 ran on their nets' probabilities.

Mean-field inference in a dense CRF with Gaussian edge potentials (Krähenbühl & Koltun): a
smoothness kernel over positions and an appearance kernel over positions and colours, Potts
label compatibility, on the image at its own size. The inference is `pydensecrf2`'s (PyPI; a
maintained fork of `pydensecrf` that builds with numpy 2), an optional dependency
(`pip install keras-fcn[crf]`), imported only when `dense_crf` runs.

Reference: Krähenbühl & Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian Edge
Potentials", NIPS 2011; Chen et al., "Semantic Image Segmentation with Deep Convolutional Nets
and Fully Connected CRFs", ICLR 2015, section 4; Chen et al., "DeepLab", PAMI 2017, section 3.3.
"""

import dataclasses

import numpy as np

UNARY_CLIP = 1e-5
"""Smallest probability turned into a unary energy (`-log`): `pydensecrf.utils.
unary_from_softmax`'s default, as DeepLab v2's PyTorch port uses it."""


@dataclasses.dataclass(frozen=True)
class CRFSettings:
    """The weights and standard deviations of the CRF's two kernels.

    The energy of two pixels i, j with different labels is `pos_w · exp(-|p_i − p_j|² / 2
    pos_xy_std²) + bi_w · exp(-|p_i − p_j|² / 2 bi_xy_std² − |I_i − I_j|² / 2 bi_rgb_std²)`,
    positions p in pixels and colours I in [0, 255] (the paper's w₂, θ_γ, w₁, θ_α, θ_β), the
    names of DeepLab's `DenseCRF` layer.

    Args:
        pos_w: weight of the smoothness (position) kernel.
        pos_xy_std: its standard deviation in pixels.
        bi_w: weight of the appearance (bilateral) kernel.
        bi_xy_std: its standard deviation over positions, in pixels.
        bi_rgb_std: its standard deviation over colours.
        source: where the values come from.
    """

    pos_w: float
    pos_xy_std: float
    bi_w: float
    bi_xy_std: float
    bi_rgb_std: float
    source: str = ""


CRF_SETTINGS = {
    "deeplab-v2-voc": CRFSettings(
        pos_w=3,
        pos_xy_std=1,
        bi_w=4,
        bi_xy_std=67,
        bi_rgb_std=3,
        source="DeepLab v2 ResNet-101 on VOC 2012 (76.35 → 77.69 mean IU on val): "
        "kazuto1011/deeplab-pytorch:configs/voc12.yaml, libs/utils/crf.py",
    ),
    "deeplab-v2-vgg16": CRFSettings(
        pos_w=2,
        pos_xy_std=2,
        bi_w=4,
        bi_xy_std=65,
        bi_rgb_std=3,
        source="DeepLab v2 VGG16 (unverified: quoted in third-party code)",
    ),
    "deeplab-v1-largefov": CRFSettings(
        pos_w=3,
        pos_xy_std=3,
        bi_w=4,
        bi_xy_std=121,
        bi_rgb_std=5,
        source="DeepLab v1 LargeFOV on VOC 2012 (unverified: DeepLab v1's per-model list as "
        "third-party code quotes it)",
    ),
    "deeplab-public-ver2": CRFSettings(
        pos_w=3,
        pos_xy_std=3,
        bi_w=4,
        bi_xy_std=49,
        bi_rgb_std=5,
        source="the default of DeepLab v2's release script: "
        "talent518/deeplab-public-ver2:exper/run_densecrf.sh (a mirror of the release)",
    ),
}
"""Named CRF settings, each with its source (all run 10 mean-field iterations)."""


def get_crf_settings(settings: str | CRFSettings) -> CRFSettings:
    """A `CRFSettings` given as itself or by its name in `CRF_SETTINGS`.

    Example:

    >>> get_crf_settings("deeplab-v2-voc").bi_xy_std
    67
    """
    if isinstance(settings, CRFSettings):
        return settings
    if settings not in CRF_SETTINGS:
        raise ValueError(
            f"Unknown CRF settings {settings!r}; expected one of {sorted(CRF_SETTINGS)} or a "
            "keras_fcn.inference.CRFSettings."
        )
    return CRF_SETTINGS[settings]


def _import_densecrf():
    try:
        import pydensecrf.densecrf as densecrf
        import pydensecrf.utils as densecrf_utils
    except ImportError as error:
        raise ImportError(
            "keras_fcn.dense_crf needs the optional dependency pydensecrf2 (it provides the "
            "`pydensecrf` module): pip install 'keras-fcn[crf]' (or pip install pydensecrf2)."
        ) from error
    return densecrf, densecrf_utils


def dense_crf(
    image,
    probabilities,
    iterations: int = 10,
    settings: str | CRFSettings = "deeplab-v2-voc",
) -> np.ndarray:
    """Refines class probabilities with DeepLab's fully connected CRF on the image.

    The unary energy is `-log p` (p clipped below at `UNARY_CLIP`); the pairwise terms are a
    Potts model with a smoothness and an appearance Gaussian kernel (`CRFSettings`), both
    symmetrically normalised with diagonal kernels, as `pydensecrf`'s `DenseCRF2D` adds them.
    The default settings are DeepLab v2's for ResNet-101 on VOC (`CRF_SETTINGS`; RESNET_ERA §8),
    `settings="deeplab-v1-largefov"` DeepLab v1's. Deterministic: the same inputs give the same
    output.

    Reference: Chen et al., "DeepLab", PAMI 2017, section 3.3 and table 4.

    Args:
        image: the RGB image `(H, W, 3)`, uint8 or values in [0, 255] (rounded to uint8).
        probabilities: class probabilities `(H, W, num_classes)` of that image, e.g. a model's
            softmax (`keras_fcn.inference.ProtocolPredictor`'s output).
        iterations: mean-field iterations (DeepLab: 10).
        settings: a name of `CRF_SETTINGS` or a `CRFSettings`.

    Returns:
        The CRF's marginals, float32 `(H, W, num_classes)`; their argmax is the labelling.

    Raises:
        ImportError: without `pydensecrf2`, naming the `crf` extra that installs it.

    Example:

    A dark left half and a bright right half; the probabilities lean the right way on all but
    one column:

    >>> image = np.zeros((4, 6, 3), "uint8")
    >>> image[:, 3:] = 255
    >>> probabilities = np.full((4, 6, 2), 0.4, "float32")
    >>> probabilities[:, :3, 0] = probabilities[:, 3:, 1] = 0.6
    >>> probabilities[:, 2] = [0.45, 0.55]
    >>> dense_crf(image, probabilities).argmax(axis=-1)[0]
    array([0, 0, 0, 1, 1, 1])
    """
    crf_settings = get_crf_settings(settings)
    image = np.asarray(image)
    probabilities = np.asarray(probabilities, dtype="float32")
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"dense_crf expects an RGB image (H, W, 3); received {image.shape}.")
    if probabilities.ndim != 3 or probabilities.shape[:2] != image.shape[:2]:
        raise ValueError(
            "dense_crf expects probabilities (H, W, num_classes) of the image's size "
            f"{image.shape[:2]}; received {probabilities.shape}."
        )
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, received {iterations!r}.")
    densecrf, densecrf_utils = _import_densecrf()
    height, width, num_classes = probabilities.shape
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    image = np.ascontiguousarray(image)
    unary = densecrf_utils.unary_from_softmax(np.moveaxis(probabilities, -1, 0), clip=UNARY_CLIP)
    crf = densecrf.DenseCRF2D(width, height, num_classes)
    crf.setUnaryEnergy(np.ascontiguousarray(unary))
    crf.addPairwiseGaussian(sxy=crf_settings.pos_xy_std, compat=crf_settings.pos_w)
    crf.addPairwiseBilateral(
        sxy=crf_settings.bi_xy_std,
        srgb=crf_settings.bi_rgb_std,
        rgbim=image,
        compat=crf_settings.bi_w,
    )
    marginals = np.asarray(crf.inference(iterations), dtype="float32")
    return np.ascontiguousarray(marginals.reshape(num_classes, height, width).transpose(1, 2, 0))
