"""Progress without a terminal: a line per tenth, with the time spent and left."""

import io
import re

from keras_fcn.progress import Progress

LINE = re.compile(
    r"^work: (\d+)/(\d+) images \((\d+)%\)(, \d+s spent, about (\d+)s left| in \d+s)$"
)


def test_a_line_per_tenth_with_the_time_left_and_the_last_at_the_end(monkeypatch):
    now = [0.0]  # seconds since the start
    monkeypatch.setattr("keras_fcn.progress.time.monotonic", lambda: now[0])
    stream = io.StringIO()
    progress = Progress(45, "work", unit="images", stream=stream, terminal=False)
    for step in range(1, 46):
        now[0] = float(step)  # one second a step
        progress.add()
    lines = stream.getvalue().splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    done = [int(match.group(1)) for match in matches]
    # The first step at or past each tenth of 45 (4.5, 9, 13.5, ...), the last at the end.
    assert done == [5, 9, 14, 18, 23, 27, 32, 36, 41, 45]
    assert lines[-1] == "work: 45/45 images (100%) in 45s"
    # k steps in k seconds: 45 - k steps, and seconds, left.
    for count, match in zip(done[:-1], matches[:-1], strict=True):
        assert int(match.group(5)) == 45 - count


def test_an_unknown_total_counts_without_a_percentage():
    stream = io.StringIO()
    progress = Progress(None, "work", unit="images", stream=stream, terminal=False, every=0.25)
    for _ in range(9):
        progress.add()
    assert [line.split(",")[0] for line in stream.getvalue().splitlines()] == [
        "work: 4 images",
        "work: 8 images",
    ]


def test_notes_are_lines_of_their_own():
    stream = io.StringIO()
    progress = Progress(2, "work", unit="images", stream=stream, terminal=False)
    progress.note("a.png: done")
    progress.add()
    assert stream.getvalue().splitlines()[0] == "a.png: done"
