"""What a weight file holds, as every reader gives it: layers by name, their arrays on demand.

A reader (`keras_fcn.weights.formats.caffe`, ...) turns a file into `{name: StoredLayer}` and
does nothing else: no model, no renaming, no layout change. A stored layer knows its type in the
file's own terms and the shapes of its arrays without holding them, so that a whole file can be
checked against a model before any array is read, and then loaded one layer at a time.
"""

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class StoredLayer:
    """One layer of a weight file, as stored.

    Args:
        name: the layer's name in the file.
        type: its type in the file's terms (Caffe's `"Convolution"`, `"BatchNorm"`, ...).
        shapes: the shape of each of its arrays, in the file's layout.
        right_aligned: for each array, whether its shape compares to an expected one aligned
            to the right, leading ones dropped (Caffe's legacy 4-D blob shapes: a bias stored
            `(1, 1, 1, N)` is `(N,)`).
        read: reads the arrays (float32 or the file's own dtype), in the file's layout.

    Example:

    >>> layer = StoredLayer.in_memory("fc", "InnerProduct", [np.ones((2, 3)), np.zeros(2)])
    >>> layer.shapes, [array.shape for array in layer.read()]
    (((2, 3), (2,)), [(2, 3), (2,)])
    """

    name: str
    type: str
    shapes: tuple[tuple[int, ...], ...]
    right_aligned: tuple[bool, ...]
    read: Callable[[], list[np.ndarray]] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def in_memory(cls, name: str, type: str, arrays: Sequence[np.ndarray]) -> "StoredLayer":
        """A stored layer of arrays already in memory."""
        arrays = [np.asarray(array) for array in arrays]
        return cls(
            name,
            type,
            tuple(array.shape for array in arrays),
            (False,) * len(arrays),
            lambda: list(arrays),
        )

    def fits(self, index: int, expected: tuple[int, ...]) -> bool:
        """Whether array `index` has the expected shape (aligned right where it is legacy)."""
        stored = tuple(self.shapes[index])
        if not self.right_aligned[index]:
            return stored == tuple(expected)
        padding = len(stored) - len(expected)
        return padding >= 0 and stored == (1,) * padding + tuple(expected)
