"""A convolution's formula in numpy, and the checks that a layer computing a stride-1
convolution another way (`keras_fcn.layers.DilatedConv2D`, `TapSumConv2D`) gives it and
`keras.layers.Conv2D`'s values, at any size in one graph."""

import keras
import numpy as np


def dilated_convolution(x: np.ndarray, kernel: np.ndarray, rates, padding: str) -> np.ndarray:
    """The formula in float64: `y[b, i, j] = Σ x[b, i + a·r_h − p_h, j + c·r_w − p_w] · k[a, c]`
    over the taps `(a, c)` inside the map, with "same"'s padding `p = (span − 1) // 2`, span
    `(k − 1)·r + 1` (TensorFlow's and Keras' split: the smaller half before), or none."""
    (kernel_height, kernel_width), (row_rate, column_rate) = kernel.shape[:2], rates
    spans = ((kernel_height - 1) * row_rate + 1, (kernel_width - 1) * column_rate + 1)
    batch, height, width, _ = x.shape
    if padding == "same":
        out_height, out_width = height, width
        top, left = ((span - 1) // 2 for span in spans)
    else:
        out_height, out_width = height - spans[0] + 1, width - spans[1] + 1
        top, left = 0, 0
    y = np.zeros((batch, out_height, out_width, kernel.shape[-1]))
    for i in range(out_height):
        for j in range(out_width):
            for a in range(kernel_height):
                for c in range(kernel_width):
                    row, column = i + a * row_rate - top, j + c * column_rate - left
                    if 0 <= row < height and 0 <= column < width:
                        y[:, i, j] += x[:, row, column] @ kernel[a, c]
    return y


CASES = [
    # kernel, rates, padding, map: the rates of DeepLab's ASPP on maps narrower than them
    # (every tap but the centre in the padding), a rate between, and asymmetric ones.
    (3, 36, "same", (9, 11)),
    (3, 24, "same", (9, 11)),
    (3, 6, "same", (9, 11)),
    (3, 12, "same", (1, 1)),
    ((3, 5), (2, 3), "same", (7, 5)),
    (3, 2, "valid", (9, 11)),
    ((2, 3), (3, 2), "valid", (7, 8)),
]


def assert_computes_the_formula_and_conv2d(layer_class, kernel_size, rates, padding, size):
    """`layer_class` against the formula (float64) and `Conv2D`, with the same kernel and bias,
    on two random maps of `size` with 5 channels."""
    options = {"padding": padding, "dilation_rate": rates}
    layer = layer_class(6, kernel_size, **options)
    reference = keras.layers.Conv2D(6, kernel_size, **options)
    for built in (layer, reference):
        built.build((None, None, None, 5))
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=layer.kernel.shape), rng.normal(size=6)
    layer.set_weights([kernel, bias])
    reference.set_weights([kernel, bias])
    x = rng.normal(size=(2, *size, 5))
    expected = dilated_convolution(x, kernel, layer.dilation_rate, padding) + bias
    actual = keras.ops.convert_to_numpy(layer(x.astype("float32")))
    keras_conv = keras.ops.convert_to_numpy(reference(x.astype("float32")))
    assert actual.shape == expected.shape == keras_conv.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(actual, keras_conv, rtol=1e-5, atol=1e-5)


def assert_one_graph_for_every_size(layer_class, rate: int, sizes) -> None:
    """`layer_class` and `Conv2D` (3×3 at `rate`, "same", ReLU) in one `tf.function` traced for
    unknown sizes, equal on a batch of each of `sizes` (TensorFlow only)."""
    import tensorflow as tf

    options = {"padding": "same", "dilation_rate": rate, "activation": "relu"}
    layer, reference = layer_class(6, 3, **options), keras.layers.Conv2D(6, 3, **options)
    for built in (layer, reference):
        built.build((None, None, None, 5))
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])
    reference.set_weights(layer.get_weights())

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 5])])
    def both(x):  # one graph for every size: the shapes are unknown when it is traced
        return layer(x), reference(x)

    for batch, size in enumerate(sizes, start=1):
        x = tf.constant(rng.normal(size=(batch, *size, 5)).astype("float32"))
        ours, theirs = both(x)
        assert ours.shape == (batch, *size, 6)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    assert len(both._list_all_concrete_functions()) == 1
