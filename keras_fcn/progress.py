"""Progress of long work (evaluation, prediction over many files, conversion, calibration).

In a terminal, `Progress` draws Keras' own progress bar (`keras.utils.Progbar`, with its ETA).
Elsewhere (a log file, a pipe, a notebook's captured output) it writes one line each time
another tenth of the work is done, with the time spent and the time left: Keras' bar there
either redraws itself with carriage returns or writes a line every update, which fills a log
with thousands of lines; that is the Keras gap this module fills.
"""

import math
import sys
import time
from typing import TextIO

_CLEAR_LINE = "\r\x1b[K"
"""Back to the start of the terminal's line, and erase it (ANSI)."""


def _duration(seconds: float) -> str:
    """`"42s"`, `"3m05s"` or `"1h02m"`."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Counts finished steps of a known total and shows them, with the time left.

    Args:
        total: the number of steps; `None` when unknown (then no percentage or ETA).
        label: what is being done, e.g. `"evaluate"`; it starts each line.
        unit: the steps' name, plural, e.g. `"images"`.
        stream: where to write; `None` for `sys.stdout`.
        terminal: draw a bar (Keras' `Progbar`); `None` to draw one when `stream` is a terminal.
        every: without a terminal, a line at each `every` of the total (default a tenth), or,
            for an unknown total, each `1 / every` steps.

    Example:

    >>> progress = Progress(4, "evaluate", unit="images", stream=sys.stdout, terminal=False)
    >>> for _ in range(4):
    ...     progress.add()
    evaluate: 1/4 images (25%), 0s spent, about 0s left
    evaluate: 2/4 images (50%), 0s spent, about 0s left
    evaluate: 3/4 images (75%), 0s spent, about 0s left
    evaluate: 4/4 images (100%) in 0s
    """

    def __init__(
        self,
        total: int | None,
        label: str,
        *,
        unit: str = "steps",
        stream: TextIO | None = None,
        terminal: bool | None = None,
        every: float = 0.1,
    ):
        self.total = total
        self.label = label
        self.unit = unit
        self.stream = sys.stdout if stream is None else stream
        if terminal is None:
            terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = 0
        self._every = every
        self._started = time.monotonic()
        self._shown = 0  # lines written so far, without a terminal
        self._bar = None
        if terminal:
            import keras

            # interval=0: redraw at every step, so that the bar comes back after a `note`.
            self._bar = keras.utils.Progbar(total, unit_name=unit.rstrip("s"), interval=0)

    def add(self, steps: int = 1) -> None:
        """Counts `steps` more finished steps and shows them."""
        self.done += steps
        if self._bar is not None:
            self._bar.update(self.done)
            return
        if self.total:
            line = math.floor(self.done / self.total / self._every + 1e-9)
            if line <= self._shown and self.done < self.total:
                return
            self._shown = line
        elif self.done % max(1, round(1 / self._every)):
            return
        self.stream.write(self._line() + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        """Writes a line of its own (e.g. a file's result) without breaking the bar."""
        if self._bar is None:
            self.stream.write(message + "\n")
        else:
            self.stream.write(_CLEAR_LINE + message + "\n")
            self._bar.update(self.done)
        self.stream.flush()

    def _line(self) -> str:
        spent = time.monotonic() - self._started
        if not self.total:
            return f"{self.label}: {self.done} {self.unit}, {_duration(spent)} spent"
        share = f"{self.done}/{self.total} {self.unit} ({100 * self.done // self.total}%)"
        if self.done >= self.total:
            return f"{self.label}: {share} in {_duration(spent)}"
        left = spent / self.done * (self.total - self.done)
        return f"{self.label}: {share}, {_duration(spent)} spent, about {_duration(left)} left"
