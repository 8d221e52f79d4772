import keras
import numpy as np
import pytest

from keras_fcn.layers.identity import GroupedIdentity


def context_stack(widths, dilations, num_classes):
    """3×3 convolutions of `widths` × C channels with ReLUs, then a 1×1 back to C, all
    identity-initialised: the context module's layout (Yu & Koltun, table 1)."""
    layers = [
        keras.layers.Conv2D(
            width * num_classes,
            3,
            padding="same",
            dilation_rate=dilation,
            activation="relu",
            kernel_initializer=GroupedIdentity(num_classes),
        )
        for width, dilation in zip(widths, dilations, strict=True)
    ]
    layers.append(
        keras.layers.Conv2D(num_classes, 1, kernel_initializer=GroupedIdentity(num_classes))
    )
    return keras.Sequential(layers)


@pytest.mark.parametrize(
    "widths", [(1, 1, 1, 1, 1, 1, 1), (2, 2, 4, 8, 16, 32, 32)], ids=["basic", "large"]
)
def test_identity_initialised_stack_returns_the_positive_part_of_its_input(widths):
    scores = np.random.default_rng(0).normal(size=(1, 24, 20, 3)).astype("float32")
    stack = context_stack(widths, (1, 1, 2, 4, 8, 16, 1), num_classes=3)
    output = keras.ops.convert_to_numpy(stack(scores))
    np.testing.assert_allclose(output, np.maximum(scores, 0), rtol=1e-6, atol=1e-6)


def test_kernel_by_hand_from_2c_to_4c():
    # C = 2 groups; inputs 0–1 are group 0, 2–3 group 1; outputs 0–1 group 0, 2–3 group 1.
    # Value C / c_out = 2 / 4 at the centre within a group, 0 elsewhere.
    kernel = keras.ops.convert_to_numpy(GroupedIdentity(2)((3, 3, 4, 4)))
    expected_centre = np.array(
        [[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5]]
    )
    np.testing.assert_array_equal(kernel[1, 1], expected_centre)
    kernel[1, 1] = 0
    assert not kernel.any()


def test_noise_leaves_the_identity_taps_and_fills_the_rest():
    kernel = keras.ops.convert_to_numpy(GroupedIdentity(4, stddev=0.01, seed=3)((3, 3, 8, 16)))
    groups_in, groups_out = np.arange(8) // 2, np.arange(16) // 4
    same = groups_in[:, None] == groups_out[None, :]
    np.testing.assert_array_equal(kernel[1, 1][same], 4 / 16)
    others = np.concatenate([kernel[1, 1][~same], kernel[0].ravel(), kernel[2].ravel()])
    assert np.std(others) == pytest.approx(0.01, rel=0.15)


@pytest.mark.parametrize("shape", [(3, 3, 6, 8), (3, 3, 8, 6), (3, 4)])
def test_channels_that_are_not_multiples_of_the_groups_are_rejected(shape):
    with pytest.raises(ValueError, match="multiples of 4"):
        GroupedIdentity(4)(shape)


def test_config_round_trip():
    initializer = GroupedIdentity(21, stddev=0.001, seed=5)
    restored = keras.initializers.deserialize(keras.initializers.serialize(initializer))
    assert isinstance(restored, GroupedIdentity)
    assert restored.get_config() == {"num_groups": 21, "stddev": 0.001, "seed": 5}
