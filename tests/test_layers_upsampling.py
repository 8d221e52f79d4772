import caffe_reference
import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
from refinenet_reference import matlab_imresize

from keras_fcn.layers import upsampling


def closed_form_kernel(size):
    # upsample_filt from the original surgery.py, written out independently.
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    grid_i, grid_j = np.ogrid[:size, :size]
    return (1 - abs(grid_i - center) / factor) * (1 - abs(grid_j - center) / factor)


@pytest.mark.parametrize("size", [1, 3, 4, 5, 16, 32, 64])
def test_kernel_equals_closed_form(size):
    np.testing.assert_allclose(
        upsampling.bilinear_kernel(size), closed_form_kernel(size), rtol=0, atol=1e-7
    )


def test_kernel_of_size_four_by_hand():
    # factor 2, center 1.5: profile 1 - |i - 1.5| / 2 = [0.25, 0.75, 0.75, 0.25].
    profile = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(upsampling.bilinear_kernel(4), np.outer(profile, profile))


def test_initializer_is_bilinear_on_the_diagonal_and_zero_elsewhere():
    kernel = keras.ops.convert_to_numpy(upsampling.BilinearUpsampling()((8, 8, 3, 3)))
    for i in range(3):
        for j in range(3):
            expected = upsampling.bilinear_kernel(8) if i == j else np.zeros((8, 8))
            np.testing.assert_array_equal(kernel[:, :, i, j], expected)


def test_initializer_rejects_non_square_kernels():
    with pytest.raises(ValueError, match="square"):
        upsampling.BilinearUpsampling()((4, 4, 3, 2))


@pytest.mark.parametrize("stride", [2, 8, 32])
def test_frozen_upsampler_reproduces_bilinear_resize_away_from_borders(stride):
    # Transposed conv with kernel 2s, 'same' padding and the bilinear kernel samples the input
    # at (o + 0.5) / s - 0.5, like tf.image.resize's half-pixel bilinear; away from the borders
    # both interpolate linearly between the same neighbours.
    size, channels = 6, 2
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    smooth = np.stack([np.sin(rows / 3.0) + np.cos(cols / 4.0), rows * 0.5 - cols * 0.25], -1)
    smooth = smooth[None].astype("float32")
    upsample = keras.layers.Conv2DTranspose(
        channels,
        2 * stride,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer=upsampling.BilinearUpsampling(),
    )
    upsampled = keras.ops.convert_to_numpy(upsample(smooth))
    expected = tf.image.resize(smooth, (size * stride, size * stride), method="bilinear").numpy()
    interior = slice(stride, (size - 1) * stride)
    np.testing.assert_allclose(
        upsampled[:, interior, interior], expected[:, interior, interior], atol=1e-5
    )


def test_config_round_trip():
    initializer = upsampling.BilinearUpsampling()
    restored = keras.initializers.deserialize(keras.initializers.serialize(initializer))
    assert isinstance(restored, upsampling.BilinearUpsampling)


@pytest.mark.parametrize("coarse_size", [(2, 2), (5, 7), (9, 4)])
def test_zoom_equals_caffe_interp_with_zoom_factor_8(coarse_size):
    # Interp's zoom_factor 8 makes n inputs into 8 (n - 1) + 1 outputs, corners aligned.
    coarse = np.random.default_rng(0).normal(size=(2, *coarse_size, 3)).astype("float32")
    height, width = (8 * (n - 1) + 1 for n in coarse_size)
    zoomed = upsampling.ZoomToReference(8)([coarse, np.zeros((2, height, width, 1))])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(zoomed), caffe_reference.interp(coarse, height, width), atol=1e-6
    )


def test_zoom_equals_tensorflows_align_corners_resize_then_crop():
    coarse = np.random.default_rng(1).normal(size=(1, 6, 5, 2)).astype("float32")
    full = tf.compat.v1.image.resize_bilinear(coarse, (41, 33), align_corners=True).numpy()
    zoomed = upsampling.ZoomToReference(8)([coarse, np.zeros((1, 37, 30, 1))])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(zoomed), full[:, :37, :30], atol=1e-6)


def test_zoom_repeats_the_last_input_past_it():
    # Dilation's interp_map samples (h / 8) for all h < 8n: past 8 (n - 1) the last row holds.
    coarse = np.arange(3, dtype="float32").reshape(1, 3, 1, 1) * 8
    zoomed = upsampling.ZoomToReference(8)([coarse, np.zeros((1, 24, 1, 1))])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(zoomed)[0, :, 0, 0], np.minimum(np.arange(24), 16)
    )


def test_zoom_keeps_every_factor_th_pixel_equal_to_the_input():
    coarse = np.random.default_rng(2).normal(size=(1, 5, 6, 4)).astype("float32")
    zoomed = keras.ops.convert_to_numpy(
        upsampling.ZoomToReference(8)([coarse, np.zeros((1, 40, 45, 1))])
    )
    np.testing.assert_array_equal(zoomed[:, ::8, ::8], coarse)


def test_zoom_follows_a_dynamic_reference_size():
    features = keras.Input((None, None, 3))
    reference = keras.Input((None, None, 1))
    model = keras.Model([features, reference], upsampling.ZoomToReference(4)([features, reference]))
    assert model.output_shape == (None, None, None, 3)
    output = model([np.zeros((1, 3, 4, 3)), np.zeros((1, 11, 13, 1))])
    assert tuple(output.shape) == (1, 11, 13, 3)


def test_zoom_config_round_trip_and_errors():
    layer = upsampling.ZoomToReference(4)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, upsampling.ZoomToReference) and restored.factor == 4
    with pytest.raises(ValueError, match="factor"):
        upsampling.ZoomToReference(0)


@pytest.mark.parametrize(
    "coarse_size, size",
    # Up by a fractional factor, a 1×1 map broadcast (DeepLab v3's image pooling), down, same.
    [((5, 7), (35, 45)), ((1, 1), (5, 9)), ((9, 4), (4, 11)), ((3, 3), (3, 3))],
)
def test_resize_equals_torchs_interpolate_without_aligned_corners(coarse_size, size):
    coarse = np.random.default_rng(3).normal(size=(2, *coarse_size, 3)).astype("float32")
    resized = upsampling.ResizeToReference()([coarse, np.zeros((1, *size, 1))])
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(coarse.transpose(0, 3, 1, 2)).double(),
        size=size,
        mode="bilinear",
        align_corners=False,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(resized), expected.numpy().transpose(0, 2, 3, 1), atol=3e-6
    )


def test_resize_equals_keras_resize_and_follows_a_traced_dynamic_size():
    coarse = np.random.default_rng(4).normal(size=(1, 6, 5, 2)).astype("float32")
    expected = keras.ops.image.resize(coarse, (37, 30), interpolation="bilinear")
    features = keras.Input((None, None, 2))
    reference = keras.Input((None, None, 1))
    model = keras.Model(
        [features, reference], upsampling.ResizeToReference()([features, reference])
    )
    assert model.output_shape == (None, None, None, 2)
    # A graph whose sizes are unknown when traced, as SavedModel exports are.
    traced = tf.function(
        lambda features, reference: model([features, reference]),
        input_signature=[tf.TensorSpec((None, None, None, c)) for c in (2, 1)],
    )
    resized = traced(coarse, np.zeros((1, 37, 30, 1), "float32")).numpy()
    np.testing.assert_allclose(resized, keras.ops.convert_to_numpy(expected), atol=1e-6)


def test_resize_config_round_trip():
    restored = keras.layers.deserialize(
        keras.layers.serialize(upsampling.ResizeToReference(name="up"))
    )
    assert isinstance(restored, upsampling.ResizeToReference) and restored.name == "up"


@pytest.mark.parametrize(
    "size, shrink, zoom, expected",
    [
        # DeepLab v2's multi-scale test net at 513: data_res05, data_res075, and their scores.
        (513, 2, 1, 257),  # (513 − 1) // 2 + 1
        (513, 4, 3, 385),  # 129, then 129 + 128 · 2
        (49, 3, 4, 65),  # 17, then 17 + 16 · 3
        (33, 1, 2, 65),  # 33 + 32
        (500, 4, 3, 373),  # (499 // 4 + 1 = 125) + 124 · 2: shrinking rounds down
        (1, 4, 3, 1),
    ],
)
def test_interp_sizes_are_caffes(size, shrink, zoom, expected):
    assert upsampling.interp_size(size, shrink, zoom) == expected
    layer = upsampling.CaffeInterp(shrink, zoom)
    assert layer.compute_output_shape((None, size, 7, 2)) == (
        None,
        expected,
        upsampling.interp_size(7, shrink, zoom),
        2,
    )


@pytest.mark.parametrize("shrink, zoom", [(2, 1), (4, 3), (3, 4), (1, 8), (1, 1)])
def test_interp_by_factors_equals_caffe_interp(shrink, zoom):
    features = np.random.default_rng(3).normal(size=(2, 13, 18, 3)).astype("float32")
    resized = keras.ops.convert_to_numpy(upsampling.CaffeInterp(shrink, zoom)(features))
    height, width = (upsampling.interp_size(side, shrink, zoom) for side in (13, 18))
    expected = caffe_reference.interp(features, height, width)
    assert resized.shape == expected.shape
    np.testing.assert_allclose(resized, expected, rtol=0, atol=1e-6)


def test_interp_to_a_reference_equals_tensorflows_align_corners_resize():
    features = np.random.default_rng(4).normal(size=(1, 9, 6, 2)).astype("float32")
    for size in [(17, 11), (5, 4), (1, 1), (9, 6)]:
        resized = upsampling.CaffeInterp()([features, np.zeros((1, *size, 1))])
        expected = tf.compat.v1.image.resize_bilinear(features, size, align_corners=True).numpy()
        np.testing.assert_allclose(keras.ops.convert_to_numpy(resized), expected, atol=1e-6)


def test_interp_shrinking_samples_the_grid_without_averaging():
    # Shrinking by 2 keeps every other sample of the corner-aligned grid.
    features = np.random.default_rng(5).normal(size=(1, 9, 7, 1)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(upsampling.CaffeInterp(shrink_factor=2)(features)),
        features[:, ::2, ::2],
    )


def test_interp_follows_dynamic_sizes_and_round_trips():
    features, reference = keras.Input((None, None, 3)), keras.Input((None, None, 1))
    model = keras.Model(
        [features, reference],
        [upsampling.CaffeInterp(4, 3)(features), upsampling.CaffeInterp()([features, reference])],
    )
    by_factors, to_reference = model([np.zeros((1, 9, 5, 3)), np.zeros((1, 11, 13, 1))])
    assert tuple(by_factors.shape) == (1, 7, 4, 3) and tuple(to_reference.shape) == (1, 11, 13, 3)
    restored = keras.layers.deserialize(
        keras.layers.serialize(upsampling.CaffeInterp(4, 3, name="data"))
    )
    assert (restored.shrink_factor, restored.zoom_factor, restored.name) == (4, 3, "data")


def test_interp_refuses_bad_factors_and_factors_with_a_reference():
    with pytest.raises(ValueError, match="shrink_factor must be a positive integer, received 0"):
        upsampling.CaffeInterp(shrink_factor=0)
    with pytest.raises(ValueError, match=r"zoom_factor must be a positive integer, received 1.5"):
        upsampling.CaffeInterp(zoom_factor=1.5)
    with pytest.raises(ValueError, match="reference or by factors, not both"):
        upsampling.CaffeInterp(2)([np.zeros((1, 5, 5, 1)), np.zeros((1, 9, 9, 1))])


def test_imresize_reproduces_matlabs_published_bicubic_example():
    # MATLAB Answers 1628 (2011): imresize(A, size(A)*2, 'bicubic') of this 4×4 matrix, the
    # rows MATLAB printed, rounded to 4 decimals; its borders repeat the edge samples.
    matrix = np.array([[3, 1, 2, 6], [1, 5, 2, 7], [1, 3, 6, 2], [4, 1, 9, 2]], "float32")
    printed = np.array(
        [
            [3.3109, 2.6187, 1.1206, 0.7166, 1.4067, 2.8883, 5.1615, 6.2060],
            [2.6454, 2.4435, 2.0052, 1.7138, 1.5692, 2.8062, 5.4248, 6.6307],
            [1.2008, 2.0609, 3.9181, 3.8763, 1.9355, 2.6382, 5.9844, 7.5302],
            [0.4985, 1.6796, 4.2357, 4.6921, 3.0489, 3.2618, 5.3307, 6.2876],
            [0.5384, 1.2996, 2.9579, 4.1612, 4.9094, 4.6769, 3.4639, 2.9028],
            [1.5500, 1.6768, 1.9697, 3.5367, 6.3776, 6.1378, 2.8173, 1.2798],
            [3.5334, 2.8110, 1.2710, 2.8185, 7.4537, 7.6444, 3.3907, 1.4186],
            [4.4466, 3.3344, 0.9529, 2.4891, 7.9430, 8.3334, 3.6605, 1.4930],
        ]
    )
    resized = upsampling.ImresizeToReference()([matrix[None, :, :, None], np.zeros((1, 8, 8, 1))])
    np.testing.assert_allclose(resized[0, :, :, 0], printed, atol=6e-5)


@pytest.mark.parametrize(
    ("size_in", "size_out", "common_scale", "border"),
    [
        ((13, 17), (25, 33), False, "replicate"),
        ((13, 17), (25, 33), True, "replicate"),
        ((7, 5), (29, 18), False, "symmetric"),
        ((2, 3), (9, 4), True, "symmetric"),
        ((31, 40), (12, 9), False, "replicate"),  # shrinking: the antialiasing kernel
        ((9, 11), (4, 3), False, "symmetric"),
    ],
)
def test_imresize_equals_matlabs_contributions(size_in, size_out, common_scale, border):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(2, *size_in, 3)).astype("float32")
    ratios = [out / n for out, n in zip(size_out, size_in, strict=True)]
    scale = [max(ratios)] * 2 if common_scale else ratios
    if common_scale:  # imresize(x, s) is ceil(s · n) long; my_resize keeps its first samples
        full = [int(np.ceil(s * n)) for s, n in zip(scale, size_in, strict=True)]
        expected = matlab_imresize(features, full, scale, border=border)
        expected = expected[:, : size_out[0], : size_out[1]]
    else:
        expected = matlab_imresize(features, size_out, scale, border=border)
    layer = upsampling.ImresizeToReference(common_scale=common_scale, border=border)
    resized = layer([features, np.zeros((1, *size_out, 1))])
    np.testing.assert_allclose(resized, expected, rtol=1e-5, atol=1e-5)


def test_imresize_without_antialiasing_interpolates_when_shrinking():
    features = np.random.default_rng(4).normal(size=(1, 12, 10, 2)).astype("float32")
    expected = matlab_imresize(features, (5, 4), (5 / 12, 4 / 10), antialiasing=False)
    resized = upsampling.ImresizeToReference(antialias=False)([features, np.zeros((1, 5, 4, 1))])
    np.testing.assert_allclose(resized, expected, rtol=1e-5, atol=1e-5)


def resized_at_traced_sizes(layer, sizes, seed):
    """Runs `layer` (a resize to a reference) in a model traced for any size, on random features
    of two channels for each (input size, output size) of `sizes`; yields the features, the
    output size and the resized features."""
    features_in = keras.Input((None, None, 2))
    reference_in = keras.Input((None, None, 1))
    model = keras.Model([features_in, reference_in], layer([features_in, reference_in]))
    rng = np.random.default_rng(seed)
    for size_in, size_out in sizes:
        features = rng.normal(size=(1, *size_in, 2)).astype("float32")
        yield features, size_out, model.predict([features, np.zeros((1, *size_out, 1))], verbose=0)


def test_imresize_follows_traced_dynamic_sizes_and_round_trips():
    layer = upsampling.ImresizeToReference(common_scale=True, border="symmetric", name="fusion")
    restored = upsampling.ImresizeToReference.from_config(layer.get_config())
    assert (restored.common_scale, restored.border, restored.antialias) == (True, "symmetric", True)
    sizes = (((5, 6), (11, 13)), ((4, 4), (15, 14)))
    for features, size_out, resized in resized_at_traced_sizes(restored, sizes, seed=5):
        size_in = features.shape[1:3]
        scale = max(o / n for o, n in zip(size_out, size_in, strict=True))
        full = [int(np.ceil(scale * n)) for n in size_in]
        expected = matlab_imresize(features, full, (scale, scale), border="symmetric")
        np.testing.assert_allclose(
            resized, expected[:, : size_out[0], : size_out[1]], rtol=1e-5, atol=1e-5
        )


def test_imresize_differs_from_keras_bicubic_only_at_the_borders():
    # Keras' bicubic (TF's scale_and_translate) uses the same kernel and sample positions but
    # renormalises the taps inside the image instead of repeating the edge: the interiors agree.
    features = np.random.default_rng(6).normal(size=(1, 10, 10, 1)).astype("float32")
    ours = upsampling.ImresizeToReference()([features, np.zeros((1, 20, 20, 1))]).numpy()
    theirs = keras.ops.image.resize(features, (20, 20), interpolation="bicubic").numpy()
    np.testing.assert_allclose(ours[:, 4:-4, 4:-4], theirs[:, 4:-4, 4:-4], atol=1e-5)
    assert np.abs(ours[:, :2] - theirs[:, :2]).max() > 1e-3


def matlab_bilinear(x, size, antialias=True):
    """`imresize(x, size, 'bilinear')` of NHWC `x` in float64, written from MATLAB's documented
    algorithm: output pixel x (from 1) maps to u = x / s + 0.5 (1 − 1 / s); each input pixel j
    weighs the triangle 1 − |u − j|, or when shrinking with antialiasing s (1 − s |u − j|);
    the weights are normalised, and pixels past the border are the edge pixel."""
    x = np.asarray(x, np.float64)
    for axis, size_out in ((1, size[0]), (2, size[1])):
        size_in = x.shape[axis]
        scale = size_out / size_in
        shrink = min(scale, 1.0) if antialias else 1.0
        matrix = np.zeros((size_out, size_in))
        for out in range(1, size_out + 1):
            u = out / scale + 0.5 * (1 - 1 / scale)
            taps = np.arange(np.floor(u - 1 / shrink) - 1, np.ceil(u + 1 / shrink) + 2)
            weights = shrink * np.maximum(0.0, 1 - shrink * np.abs(u - taps))
            for tap, weight in zip(taps, weights / weights.sum(), strict=True):
                matrix[out - 1, int(min(max(tap, 1), size_in)) - 1] += weight
        x = np.moveaxis(np.tensordot(matrix, np.moveaxis(x, axis, 0), axes=1), 0, axis)
    return x


@pytest.mark.parametrize(
    ("size_in", "size_out", "antialias"),
    [
        ((13, 17), (25, 33), True),  # enlarging
        ((7, 5), (29, 18), True),
        ((31, 40), (12, 9), True),  # shrinking: the widened triangle
        ((9, 11), (4, 3), True),
        ((9, 11), (4, 3), False),
        ((15, 8), (6, 21), True),  # one axis of each
    ],
)
def test_bilinear_imresize_equals_matlabs_algorithm(size_in, size_out, antialias):
    features = np.random.default_rng(7).normal(size=(2, *size_in, 3)).astype("float32")
    layer = upsampling.ImresizeToReference(method="bilinear", antialias=antialias)
    resized = layer([features, np.zeros((1, *size_out, 1))])
    expected = matlab_bilinear(features, size_out, antialias)
    np.testing.assert_allclose(resized, expected, rtol=1e-5, atol=1e-5)


def test_bilinear_imresize_by_hand():
    # 4 → 2 (s = 1/2): u = 1.5 and 3.5 (from 1), the triangle widened to 1/2 (1 − |d| / 2):
    # output 1 weighs pixels 0, 1, 2, 3 (from 1; 0 is pixel 1 again) by 1/8, 3/8, 3/8, 1/8.
    ramp = np.array([0.0, 8.0, 16.0, 24.0], "float32").reshape(1, 4, 1, 1)
    layer = upsampling.ImresizeToReference(method="bilinear")
    resized = layer([ramp, np.zeros((1, 2, 1, 1))])[0, :, 0, 0]
    # (0 + 3 · 0 + 3 · 8 + 16) / 8 = 5; (8 + 3 · 16 + 3 · 24 + 24) / 8 = 19.
    np.testing.assert_allclose(resized, [5.0, 19.0], atol=1e-6)


def test_bilinear_imresize_follows_traced_dynamic_sizes_and_round_trips():
    layer = upsampling.ImresizeToReference(method="bilinear", name="resize")
    restored = upsampling.ImresizeToReference.from_config(layer.get_config())
    assert (restored.method, restored.border, restored.name) == ("bilinear", "replicate", "resize")
    sizes = (((5, 6), (11, 3)), ((17, 4), (6, 9)))
    for features, size_out, resized in resized_at_traced_sizes(restored, sizes, seed=8):
        expected = matlab_bilinear(features, size_out)
        np.testing.assert_allclose(resized, expected, rtol=1e-5, atol=1e-5)


def test_imresize_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        upsampling.ImresizeToReference(method="lanczos3")


def test_imresize_refuses_an_unknown_border():
    with pytest.raises(ValueError, match="border must be one of"):
        upsampling.ImresizeToReference(border="reflect")
