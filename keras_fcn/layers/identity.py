"""Identity initialisation of the Dilation context module (Yu & Koltun, section 3)."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="keras_fcn")
class GroupedIdentity(keras.initializers.Initializer):
    """Initializes a convolution kernel so that the layer passes its input through.

    The input and output channels are split into `num_groups` consecutive groups of equal size;
    the centre tap from every input channel of group `g` to every output channel of group `g`
    is `num_groups / output channels`, and every other weight is Gaussian noise of standard
    deviation `stddev` (zero by default). With as many channels as groups, this is the identity
    kernel (`1` from map `a` to map `a` at the centre); from `c_i` to `c_{i+1}` channels, input
    `a` feeds output `b` with `C / c_{i+1}` when `⌊aC / c_i⌋ = ⌊bC / c_{i+1}⌋`. With biases at
    zero, a stack of such layers with ReLUs in between returns `max(x, 0)` of its input, for
    any widths: the context module starts as the identity on the front-end's (positive)
    scores, and training only has to learn the context.

    Reference: Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR
    2016, section 3 (equations 4 and 5); `fyu/caffe-dilation`, `include/caffe/filler.hpp`
    (`IdentityFiller`: `num_groups`, `std`).

    Args:
        num_groups: the number of groups, the number of classes `C` in the context module; it
            must divide both the input and the output channels.
        stddev: standard deviation of the noise on the other weights (the paper's large
            module uses noise well below `C / c_{i+1}`).
        seed: seed of the noise.

    Example:

    >>> kernel = GroupedIdentity(num_groups=2)((3, 3, 2, 4))
    >>> kernel[1, 1].numpy().tolist()  # input map a feeds outputs 2a and 2a + 1 by 2 / 4
    [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    """

    def __init__(self, num_groups: int, stddev: float = 0.0, seed: int | None = None):
        if num_groups < 1 or stddev < 0:
            raise ValueError(
                f"GroupedIdentity needs num_groups >= 1 and stddev >= 0; received "
                f"num_groups={num_groups}, stddev={stddev}."
            )
        self.num_groups, self.stddev, self.seed = int(num_groups), float(stddev), seed

    def __call__(self, shape, dtype=None):
        if len(shape) != 4 or shape[2] % self.num_groups or shape[3] % self.num_groups:
            raise ValueError(
                f"GroupedIdentity({self.num_groups}) initializes Conv2D kernels (kh, kw, in, out) "
                f"whose input and output channels are multiples of {self.num_groups}; received "
                f"{tuple(shape)}."
            )
        height, width, inputs, outputs = shape
        kernel = np.zeros(shape, "float32")
        if self.stddev:
            noise = keras.initializers.RandomNormal(stddev=self.stddev, seed=self.seed)(shape)
            kernel = keras.ops.convert_to_numpy(noise).astype("float32")
        input_groups = np.arange(inputs) // (inputs // self.num_groups)
        output_groups = np.arange(outputs) // (outputs // self.num_groups)
        centre = kernel[height // 2, width // 2]
        centre[input_groups[:, None] == output_groups[None, :]] = self.num_groups / outputs
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")

    def get_config(self) -> dict:
        return {"num_groups": self.num_groups, "stddev": self.stddev, "seed": self.seed}
