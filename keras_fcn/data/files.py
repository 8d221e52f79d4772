"""The files of one split: (image, mask) path pairs, and the problems found while listing them.

File-based sources (`voc`, `sbd`, `folder`) first list their split as a `FilePairs`, then decode
it. Listing never raises for a bad file: it records a `DataProblem`, so that `check_dataset` can
report every problem at once while a source refuses to build a dataset from a listing that has
any.
"""

import dataclasses
import os

import numpy as np


@dataclasses.dataclass(frozen=True)
class DataProblem:
    """One problem with one file of a dataset.

    Args:
        path: the file (or directory, or split list) at fault.
        message: what is wrong with it, and where possible how to fix it.

    Example:

    >>> str(DataProblem("VOC2012/SegmentationClass/2007_000032.png", "file is missing"))
    'VOC2012/SegmentationClass/2007_000032.png: file is missing'
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclasses.dataclass(frozen=True)
class FilePairs:
    """The image and mask files of one split, in order, with the problems found listing them.

    Args:
        source: what was listed (a split list or a directory), named in errors.
        image_paths: one image file per example.
        label_paths: the mask of each example: a PNG, or an SBD `.mat` file.
        colours: `None` to read palette PNG masks through the palette stored in each file, or a
            `(K, 3)` uint8 array (e.g. the VOC palette) that maps the colours of palette and RGB
            masks back to class indices.
        problems: missing or unpaired files found while listing.

    Example:

    >>> pairs = FilePairs("masks/", ("a.jpg",), ("a.png",))
    >>> len(pairs)
    1
    """

    source: str
    image_paths: tuple[str, ...]
    label_paths: tuple[str, ...]
    colours: np.ndarray | None = None
    problems: tuple[DataProblem, ...] = ()

    def __len__(self) -> int:
        return len(self.image_paths)


def missing_file_problems(paths: list[str]) -> list[DataProblem]:
    """Returns a `DataProblem` for each of `paths` that is not an existing file.

    Args:
        paths: files that a split list names.

    Returns:
        The problems, in the order of `paths`.

    Example:

    >>> missing_file_problems(["/no/such/file.png"])[0].message
    'file is missing'
    """
    return [DataProblem(path, "file is missing") for path in paths if not os.path.isfile(path)]


def summarize_problems(
    problems: list[DataProblem] | tuple[DataProblem, ...], limit: int = 10
) -> str:
    """Formats problems one per line, at most `limit` of them, saying how many were left out.

    Args:
        problems: the problems to list.
        limit: how many to write out in full.

    Returns:
        A multi-line string.

    Example:

    >>> print(summarize_problems([DataProblem("a.png", "file is missing")]))
      a.png: file is missing
    """
    lines = [f"  {problem}" for problem in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)
