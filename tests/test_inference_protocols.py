"""Test-time protocols: flips, sliding windows, scales, merges and the papers' named settings.

Expected values come from the model called by hand on the crops, mirrors and resized images a
protocol should use, merged with numpy formulas written here; the grids and sizes are worked
by hand in comments.
"""

import dataclasses
import pathlib

import keras
import numpy as np
import pytest

from keras_fcn import inference

pytestmark = pytest.mark.backends

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
CLASSES = 3


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def run(model, images):
    """The model on a batch of numpy images, as numpy logits."""
    return keras.ops.convert_to_numpy(model(np.asarray(images, "float32"), training=False))


def resize(array, size):
    """`(H, W, C)` to `size`, bilinear, antialiased when shrinking (the protocols' resampling)."""
    shrinks = size[0] < array.shape[0] or size[1] < array.shape[1]
    resized = keras.ops.image.resize(array[None], size, antialias=shrinks)
    return keras.ops.convert_to_numpy(resized)[0]


@pytest.fixture(scope="module")
def pointwise_model():
    """A 1×1 convolution: the logits of a pixel depend on that pixel only."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(CLASSES, 1, bias_initializer="ones")]
    )


@pytest.fixture(scope="module")
def context_model():
    """Two 3×3 convolutions ("same" padding): the logits of a pixel see its 5×5 neighbourhood,
    and the zero padding at the image's border."""
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(CLASSES, 3, padding="same", bias_initializer="random_normal"),
        ]
    )


def image_of(height, width, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (height, width, 3)).astype("float32")


# --- flip -------------------------------------------------------------------------------------


@pytest.mark.parametrize("merge", ["probabilities", "logits", "max"])
def test_flip_merges_the_image_and_its_mirror_mirrored_back(context_model, merge):
    image = image_of(9, 14)
    logits = run(context_model, image[None])[0]
    mirrored = run(context_model, image[None, :, ::-1])[0, :, ::-1]
    expected = {
        # DeepLab v3: the mean of the two passes' probabilities.
        "probabilities": (softmax(logits) + softmax(mirrored)) / 2,
        # PSPNet: the softmax of the summed logits.
        "logits": softmax(logits + mirrored),
        # DeepLab v2 MSC's max, over the two passes.
        "max": softmax(np.maximum(logits, mirrored)),
    }[merge]
    predictor = inference.ProtocolPredictor(
        context_model, inference.Protocol(flip=True, merge=merge)
    )
    np.testing.assert_allclose(predictor(image[None])[0], expected, atol=1e-6)


# --- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "window, stride",
    [((4, 4), None), ((5, 7), (2, 3)), ((13, 17), (1, 1)), ((3, 20), (3, 5)), ((16, 16), None)],
)
def test_any_window_gives_the_single_pass_of_a_pointwise_model(pointwise_model, window, stride):
    image = image_of(13, 17)
    single = inference.ProtocolPredictor(pointwise_model)(image[None])
    protocol = inference.Protocol(window=window, stride=stride, pad_value=(1, 2, 3))
    windowed = inference.ProtocolPredictor(pointwise_model, protocol, batch_size=3)(image[None])
    # Equal up to rounding: PyTorch's convolution rounds differently for other input shapes, and
    # logits of pixels in [0, 255] in the hundreds round at about 1e-5 in float32, which the
    # softmax passes on to probabilities near 1/2.
    np.testing.assert_allclose(windowed, single, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(single[0], softmax(run(pointwise_model, image[None])[0]), atol=1e-6)


@pytest.mark.parametrize("stride", [None, (1, 1), (11, 12)])
def test_a_window_covering_the_image_once_gives_the_single_pass_of_a_net_with_context(
    context_model, stride
):
    image = image_of(11, 12)
    single = inference.ProtocolPredictor(context_model)(image[None])
    windowed = inference.ProtocolPredictor(
        context_model, inference.Protocol(window=(11, 12), stride=stride)
    )
    np.testing.assert_array_equal(windowed(image[None]), single)


def test_overlapping_windows_are_averaged_by_count_up_to_the_borders(context_model):
    # 10×13, windows of 6×6 every 4: rows ⌈(10 − 6)/4⌉ + 1 = 2 windows at 0 and 4; columns
    # ⌈(13 − 6)/4⌉ + 1 = 3 windows at 0, 4 and 8 → 7 (moved back to end at the border).
    image = image_of(10, 13, seed=2)
    total, counts = np.zeros((10, 13, CLASSES)), np.zeros((10, 13, 1))
    for row in (0, 4):
        for column in (0, 4, 7):
            crop = image[row : row + 6, column : column + 6]
            total[row : row + 6, column : column + 6] += run(context_model, crop[None])[0]
            counts[row : row + 6, column : column + 6] += 1
    # Column 12 lies in the last window only, columns 4–5 and 7–9 in two, rows 4–5 in two.
    assert counts[0, 12, 0] == 1 and counts[0, 5, 0] == 2 and counts[5, 8, 0] == 4
    protocol = inference.Protocol(window=6, stride=4, merge="probabilities")
    probabilities = inference.ProtocolPredictor(context_model, protocol, batch_size=4)(image[None])[
        0
    ]
    np.testing.assert_allclose(probabilities, softmax(total / counts), atol=1e-6)


def test_pspnet_windows_average_probabilities_with_their_mirrors(context_model):
    # 7×12 with windows of 7×8 every 4 columns: columns at 0 and 4; PSPNet scores each window
    # as the softmax of its logits plus its mirror image's, then averages probabilities.
    image = image_of(7, 12, seed=3)
    total, counts = np.zeros((7, 12, CLASSES)), np.zeros((7, 12, 1))
    for column in (0, 4):
        crop = image[:, column : column + 8]
        logits = run(context_model, crop[None])[0]
        mirrored = run(context_model, crop[None, :, ::-1])[0, :, ::-1]
        total[:, column : column + 8] += softmax(logits + mirrored)
        counts[:, column : column + 8] += 1
    protocol = inference.Protocol(flip=True, window=(7, 8), stride=4, merge="logits")
    probabilities = inference.ProtocolPredictor(context_model, protocol)(image[None])[0]
    np.testing.assert_allclose(probabilities, total / counts, atol=1e-6)


@pytest.mark.parametrize("size", [(5, 7), (5, 11)])
def test_an_image_smaller_than_the_window_is_padded_with_pad_value_and_cropped_back(
    context_model, size
):
    # 5×7: one window over the image padded to 8×8. 5×11: rows padded to 8; columns of 11 take
    # ⌈(11 − 8)/6⌉ + 1 = 2 windows, at 0 and 3.
    height, width = size
    image = image_of(height, width, seed=4)
    pad_value = np.array([10.0, 200.0, 30.0], "float32")
    padded = np.empty((8, max(width, 8), 3), "float32")
    padded[...] = pad_value
    padded[:height, :width] = image
    columns = [0] if width <= 8 else [0, 3]
    total, counts = np.zeros((8, padded.shape[1], CLASSES)), np.zeros((8, padded.shape[1], 1))
    for column in columns:
        total[:, column : column + 8] += run(context_model, padded[None, :, column : column + 8])[0]
        counts[:, column : column + 8] += 1
    expected = softmax((total / counts)[:height, :width])
    protocol = inference.Protocol(window=8, stride=6, pad_value=pad_value)
    probabilities = inference.ProtocolPredictor(context_model, protocol)(image[None])[0]
    assert probabilities.shape == (height, width, CLASSES)
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)


def test_windows_run_in_batches_of_batch_size(pointwise_model, capsys):
    calls = []
    predictor = inference.ProtocolPredictor(
        pointwise_model, inference.Protocol(window=4, stride=4), batch_size=4
    )
    logits = predictor._logits
    predictor._logits = lambda windows: calls.append(windows.shape) or logits(windows)
    predictor(image_of(8, 12)[None])  # 2 × 3 windows of 4×4: a batch of 4, then of 2
    assert calls == [(4, 4, 4, 3), (2, 4, 4, 3)]

    calls.clear()
    fused = inference.Protocol(flip=True, window=4, stride=4, merge="logits")
    predictor = inference.ProtocolPredictor(pointwise_model, fused, batch_size=4, verbose=1)
    predictor._logits = lambda windows: calls.append(windows.shape) or logits(windows)
    predictor(image_of(8, 12)[None])  # 2 windows and their 2 mirrors per call
    assert calls == [(4, 4, 4, 3)] * 3
    assert "3/3" in capsys.readouterr().out  # the progress bar counts the model calls


# --- scales and merges ------------------------------------------------------------------------


@pytest.mark.parametrize("merge", ["probabilities", "logits", "max"])
@pytest.mark.parametrize("base_size", [None, 20])
def test_scales_come_back_to_odd_image_sizes(pointwise_model, merge, base_size):
    # A uniform image stays uniform at every scale, so every pass scores every pixel as the
    # single pass does, whatever the merge.
    image = np.full((17, 23, 3), (40.0, 90.0, 200.0), "float32")
    protocol = inference.Protocol(
        scales=(0.5, 0.75, 1.5), flip=True, merge=merge, base_size=base_size
    )
    probabilities = inference.ProtocolPredictor(pointwise_model, protocol)(image[None])
    single = softmax(run(pointwise_model, image[None]))
    assert probabilities.shape == (1, 17, 23, CLASSES)
    np.testing.assert_allclose(probabilities, single, atol=1e-5)


def scale_logits(model, image, scale, mirrored=False):
    """The model's logits at a scale, back at the image's size (optionally on the mirror)."""
    size = inference.scaled_size(image.shape[:2], scale)
    scaled = resize(image, size)
    scaled = scaled[:, ::-1] if mirrored else scaled
    logits = run(model, scaled[None])[0]
    return resize(logits[:, ::-1] if mirrored else logits, image.shape[:2])


def test_merge_modes_follow_their_formulas(context_model):
    image = image_of(15, 21, seed=5)
    scales = (1.0, 0.6, 1.4)
    passes = [
        scale_logits(context_model, image, scale, mirrored)
        for scale in scales
        for mirrored in (False, True)
    ]
    expected = {
        "probabilities": np.mean([softmax(logits) for logits in passes], axis=0),
        "max": softmax(np.max(passes, axis=0)),
    }
    for merge, values in expected.items():
        protocol = inference.Protocol(scales=scales, flip=True, merge=merge)
        probabilities = inference.ProtocolPredictor(context_model, protocol)(image[None])[0]
        np.testing.assert_allclose(probabilities, values, atol=2e-5, err_msg=merge)

    # PSPNet: per scale the softmax of the logits plus the mirror's, at the scaled size, then
    # resized back; the scales' probabilities averaged.
    pspnet = []
    for scale in scales:
        scaled = resize(image, inference.scaled_size(image.shape[:2], scale))
        logits = run(context_model, scaled[None])[0]
        mirrored = run(context_model, scaled[None, :, ::-1])[0, :, ::-1]
        pspnet.append(resize(softmax(logits + mirrored), image.shape[:2]))
    protocol = inference.Protocol(scales=scales, flip=True, merge="logits")
    probabilities = inference.ProtocolPredictor(context_model, protocol)(image[None])[0]
    np.testing.assert_allclose(probabilities, np.mean(pspnet, axis=0), atol=2e-5)


def test_scaled_sizes_follow_pspnet_with_a_base_size():
    # Cityscapes at 1.75 of 2048: long side 3584 + 1 = 3585, short round(3585/2048·1024) = 1793.
    assert inference.scaled_size((1024, 2048), 1.75, base_size=2048) == (1793, 3585)
    # A portrait VOC image, 500×333 at 0.5 of 512: long 257, short round(257/500·333) = 171.
    assert inference.scaled_size((500, 333), 0.5, base_size=512) == (257, 171)
    # Without a base size: each side times the scale, half up (16.5 → 17, 11.5 → 12).
    assert inference.scaled_size((33, 23), 0.5) == (17, 12)
    assert inference.scaled_size((3, 3), 0.1) == (1, 1)


def test_window_starts_cover_the_axis_and_end_at_its_border():
    assert inference.window_starts(473, 473, 316) == [0]
    # Cityscapes' 1024 rows at scale 1, windows of 713 every 476: ⌈311/476⌉ + 1 = 2, at 0, 311.
    assert inference.window_starts(1024, 713, 476) == [0, 311]
    assert inference.window_starts(10, 3, 3) == [0, 3, 6, 7]
    with pytest.raises(ValueError, match="smaller than the window"):
        inference.window_starts(5, 6, 4)


# --- named protocols --------------------------------------------------------------------------


def test_named_protocols_resolve_to_the_documented_settings():
    mean = (123.68, 116.779, 103.939)
    six = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
    pspnet = inference.get_protocol("pspnet-ms")
    assert (pspnet.scales, pspnet.flip, pspnet.window, pspnet.window_stride) == (
        six,
        True,
        (473, 473),
        (316, 316),  # ⌈473 · 2/3⌉ = ⌈315.3⌉
    )
    assert (pspnet.pad_value, pspnet.base_size, pspnet.merge) == (mean, 512, "logits")
    assert (
        inference.get_protocol("pspnet-ss").scales == (1.0,)
        and inference.get_protocol("pspnet-ss").flip
    )
    cityscapes = inference.get_protocol("pspnet-cityscapes-ms")
    assert (cityscapes.window, cityscapes.window_stride, cityscapes.base_size) == (
        (713, 713),
        (476, 476),  # ⌈713 · 2/3⌉ = ⌈475.3⌉
        2048,
    )
    deeplab_v3 = inference.get_protocol("deeplab-v3-ms")
    assert (deeplab_v3.scales, deeplab_v3.flip, deeplab_v3.window, deeplab_v3.merge) == (
        six,
        True,
        None,
        "probabilities",
    )
    msc = inference.get_protocol("deeplab-v2-msc")
    assert (msc.scales, msc.flip, msc.merge, msc.crf) == ((1.0, 0.75, 0.5), False, "max", None)
    assert inference.get_protocol("deeplab-v2-msc-crf").crf == "deeplab-v2-voc"
    single = inference.get_protocol("single-scale")
    assert (single.scales, single.flip, single.window, single.crf) == ((1.0,), False, None, None)
    assert all(protocol.source for protocol in inference.PROTOCOLS.values())


def test_the_readme_lists_every_protocol():
    readme = README.read_text()
    section = readme[readme.index("## Reproducing a paper's number") :]
    for name in inference.PROTOCOLS:
        assert f"`{name}`" in section, name


def test_a_protocol_changes_one_setting_with_dataclasses_replace():
    protocol = dataclasses.replace(
        inference.get_protocol("pspnet-ms"), name="custom", scales=[1, 1.5]
    )
    assert protocol.scales == (1.0, 1.5) and protocol.window == (473, 473)
    assert protocol.describe().startswith("custom: scales 1, 1.5 (long side 512·scale + 1), flip")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"window": 8, "stride": 9}, "larger than the window"),
        ({"stride": 4}, "needs a window"),
        ({"merge": "mean"}, "merge must be one of"),
        ({"scales": (1.0, 0)}, "scales must be positive"),
        ({"pad_value": (1, 2)}, "one per RGB channel"),
        ({"crf": "deeplab-v4"}, "crf must be None or one of"),
        ({"window": (8, 0)}, "window must be a positive integer"),
    ],
)
def test_bad_settings_are_refused_with_what_was_received(settings, message):
    with pytest.raises(ValueError, match=message):
        inference.Protocol(**settings)


def test_an_unknown_protocol_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="pspnet-ms"):
        inference.get_protocol("pspnet")


# --- PSPNet's evaluation code, step by step -------------------------------------------------


def matlab_imresize(array, size, uint8=False):
    """MATLAB's `imresize(array, size, 'bilinear')`, from `imresize.m`, in double: output pixel x
    (from 1) reads u = x / scale + 0.5 (1 − 1 / scale); a triangle kernel widened by 1 / scale
    when shrinking (antialiasing) over the P = ⌈width⌉ + 2 pixels from ⌊u − width / 2⌋; weights
    normalised by their sum; indices past the border clamped to it (`contributions`, 2013); the
    axis of the smaller scale first, rows on a tie (`dimensionOrder`); each output the sum of its
    taps in order; a uint8 image rounded half away from zero after each axis (`imresizemex`
    keeps the input's class)."""

    def contributions(size_in, size_out):
        scale = size_out / size_in
        shrink = min(scale, 1.0)
        width = 2.0 / shrink
        u = np.arange(1, size_out + 1) / scale + 0.5 * (1 - 1 / scale)
        taps = np.floor(u - width / 2)[:, None] + np.arange(int(np.ceil(width)) + 2)[None]
        weights = shrink * np.clip(1 - np.abs(shrink * (u[:, None] - taps)), 0, None)
        total = np.zeros(size_out)
        for column in weights.T:
            total += column
        return np.clip(taps, 1, size_in).astype(int) - 1, weights / total[:, None]

    array = np.asarray(array, np.float64)
    scales = [size[0] / array.shape[0], size[1] / array.shape[1]]
    for axis in np.argsort(scales, kind="stable"):
        indices, weights = contributions(array.shape[axis], size[axis])
        shape = [1, 1, 1]
        shape[axis] = -1
        resized = 0.0
        for tap in range(indices.shape[1]):
            resized = resized + weights[:, tap].reshape(shape) * np.take(
                array, indices[:, tap], axis=axis
            )
        array = np.clip(np.floor(resized + 0.5), 0, 255) if uint8 else resized
    return array


def pspnet_evaluation(model, image, scales, base_size, crop, mean):
    """hszhao/PSPNet `eval_sub.m` (scales, long side base_size · scale + 1, MATLAB's round),
    `scale_process.m` (one padded pass, or windows of `crop` every ⌈2/3 · crop⌉ over the image
    padded with the mean at the bottom and right, averaged by count, cropped, resized back,
    normalised) and `caffe_process.m` (softmax of the logits plus the mirror's mirrored back),
    0-based; `pre_img.m`'s mean subtraction and BGR are the model's own."""
    rows, cols = image.shape[:2]

    def window_probabilities(window):
        padded = np.empty((crop, crop, 3))
        padded[...] = mean  # pre_img.m: padarray(..., mean, 'post')
        padded[: window.shape[0], : window.shape[1]] = window
        logits = run(model, padded[None])[0] + run(model, padded[None, :, ::-1])[0, :, ::-1]
        return softmax(logits.astype(np.float64))

    total = np.zeros((rows, cols, CLASSES))
    for scale in scales:
        long_side = base_size * scale + 1
        # round(long_size / single(ori_rows) * ori_cols): single precision.
        if rows > cols:
            short = np.float32(long_side) / np.float32(rows) * np.float32(cols)
            new_rows, new_cols = int(long_side), int(np.floor(short + np.float32(0.5)))
        else:
            short = np.float32(long_side) / np.float32(cols) * np.float32(rows)
            new_rows, new_cols = int(np.floor(short + np.float32(0.5))), int(long_side)
        scaled = matlab_imresize(image, (new_rows, new_cols), uint8=True)
        if max(new_rows, new_cols) <= crop:
            score = window_probabilities(scaled)[:new_rows, :new_cols]
        else:
            stride = int(np.ceil(crop * 2 / 3))
            pad_rows, pad_cols = max(new_rows, crop), max(new_cols, crop)
            padded = np.empty((pad_rows, pad_cols, 3))
            padded[...] = mean
            padded[:new_rows, :new_cols] = scaled
            sums, counts = (
                np.zeros((pad_rows, pad_cols, CLASSES)),
                np.zeros((pad_rows, pad_cols, 1)),
            )
            for grid_y in range(int(np.ceil((pad_rows - crop) / stride)) + 1):
                for grid_x in range(int(np.ceil((pad_cols - crop) / stride)) + 1):
                    end_y = min(grid_y * stride + crop, pad_rows)
                    end_x = min(grid_x * stride + crop, pad_cols)
                    window = (slice(end_y - crop, end_y), slice(end_x - crop, end_x))
                    sums[window] += window_probabilities(padded[window])
                    counts[window] += 1
            score = (sums / counts)[:new_rows, :new_cols]
        resized = matlab_imresize(score, (rows, cols))
        total += resized / resized.sum(axis=-1, keepdims=True)
    return total / len(scales)


def test_the_pspnet_protocol_computes_pspnets_evaluation_code(context_model):
    # A 30×41 uint8 image at base size 40: scale 1 keeps it (long side 41), 0.5 gives 15×21
    # (one window, padded), 0.75 21×31 and 1.25 38×51 (windows of 24 every 16, padded rows).
    mean = (123.68, 116.779, 103.939)
    image = np.round(image_of(30, 41, seed=9))
    scales = (0.5, 0.75, 1.0, 1.25)
    protocol = dataclasses.replace(
        inference.get_protocol("pspnet-ms"), scales=scales, window=(24, 24), base_size=40
    )
    assert protocol.window_stride == (16, 16) and protocol.pad_value == mean
    assert protocol.resize == "imresize"
    predictor = inference.ProtocolPredictor(context_model, protocol)
    windows = []
    logits = predictor._logits
    predictor._logits = lambda batch: windows.append(batch) or logits(batch)
    actual = predictor(image[None])[0]
    expected = pspnet_evaluation(context_model, image, scales, 40, 24, mean)
    np.testing.assert_allclose(actual, expected, atol=2e-6)
    # The model sees the scaled images rounded to uint8, as MATLAB's imresize returns them.
    pixels = np.concatenate([batch.ravel() for batch in windows])
    pixels = pixels[~np.isin(pixels, np.float32(mean))]
    np.testing.assert_array_equal(pixels, np.round(pixels))
    # Keras' antialiased bilinear resize in float is not PSPNet's evaluation.
    keras_resize = dataclasses.replace(protocol, resize="bilinear")
    different = inference.ProtocolPredictor(context_model, keras_resize)(image[None])[0]
    assert np.abs(different - expected).max() > 1e-3
