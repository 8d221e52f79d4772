"""What the benchmark scripts print: markdown tables, rows as they are measured, the header.

Every script starts with `print_header` (a title, the machine it runs on, the smoke-run note) and
prints its results as GitHub markdown tables, often a row at a time (`print_headers`, then
`print_row` as each row is measured), so that a long run shows its progress.
"""

from collections.abc import Mapping, Sequence
from typing import TextIO

from benchmarks import smoke

MODEL_RUN_HEADERS = ["model", "geometry", "input", "batch", "mode"]
"""The columns that say which run a row of a model benchmark times, in the order tables show."""


def markdown_row(cells: Sequence) -> str:
    """One row of a GitHub markdown table; cells are printed as they come (preformat floats)."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Formats rows as a GitHub markdown table; floats are printed as they come (preformat)."""
    lines = [markdown_row(headers), "|" + "---|" * len(headers)]
    lines += [markdown_row(row) for row in rows]
    return "\n".join(lines)


def print_headers(headers: Sequence[str]) -> None:
    """Prints the first two lines of a table whose rows `print_row` prints as they come."""
    print(markdown_table(headers, []), flush=True)


def print_row(cells: Sequence, file: TextIO | None = None) -> None:
    """Prints one row of a table at once (`flush`), on stdout or `file`."""
    print(markdown_row(cells), file=file, flush=True)


def print_header(
    title: str, machine: Mapping[str, str], smoke_run: bool = False, description: str = ""
) -> None:
    """Prints a markdown title, the machine table, for a `--smoke` run the note saying so, and
    what the rows measure.

    Args:
        title: the run's title, printed as a `##` heading.
        machine: field -> value, as `benchmarks.machine.machine_info` returns them.
        smoke_run: whether the run is a `--smoke` run (`benchmarks.smoke.NOTE` follows).
        description: a paragraph on how the rows are measured, its lines joined with spaces.
    """
    print(f"## {title}\n")
    print(markdown_table(["machine", ""], list(machine.items())))
    print(flush=True)
    if smoke_run:
        print(smoke.NOTE)
    if description:
        print(" ".join(description.split()) + "\n", flush=True)
