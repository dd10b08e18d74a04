"""Reference data read from a CSV file, the whole file or nothing.

The format every such loader shares (the population registry, the schools): UTF-8, a byte order
mark allowed, a header row naming exactly the expected columns, one record a row, blank lines
skipped, spaces around values ignored. A loader reads the rows with `rows`, records each
problem as `line N: column: what is wrong` in one list, and refuses the file with
`CsvFileError` if that list is not empty, so the person fixing the file sees every problem at
once. Problems name lines and columns, never the values in them (they may be personal).
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

PROBLEMS_SHOWN = 20  # in the message; `problems` keeps them all


class CsvFileError(ValueError):
    """A CSV file that was refused: every problem with its line number."""

    def __init__(self, path: str | Path, problems: list[str]):
        shown = problems[:PROBLEMS_SHOWN]
        if len(problems) > PROBLEMS_SHOWN:
            shown.append(f"and {len(problems) - PROBLEMS_SHOWN} more")
        super().__init__(f"{path}: " + "; ".join(shown))
        self.problems = problems


def rows(source: str | Path | TextIO, columns: tuple[str, ...],
         problems: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row of the file (a path, or text already read: `io.StringIO(text, newline="")`)
    as (its line number, column -> value stripped of spaces). A row with another number of
    fields is added to `problems` and skipped; a header other than `columns` refuses the file
    at once (CsvFileError)."""
    with _opened(source) as file:
        reader = csv.reader(file)
        header = [column.strip() for column in next(reader, [])]
        if header:  # text sent as it was read keeps its byte order mark
            header[0] = header[0].removeprefix("\ufeff")
        if header != list(columns):
            raise CsvFileError(name_of(source),
                               [f"line 1: the columns must be {','.join(columns)}"])
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(columns):
                problems.append(f"line {reader.line_num}: {len(row)} fields, "
                                f"{len(columns)} expected")
                continue
            yield reader.line_num, {column: value.strip()
                                    for column, value in zip(columns, row, strict=True)}


def name_of(source: str | Path | TextIO) -> str:
    """What a refusal calls the file: its path, or `text` for text already read."""
    return str(source) if isinstance(source, str | Path) else "text"


@contextlib.contextmanager
def _opened(source: str | Path | TextIO) -> Iterator[TextIO]:
    if isinstance(source, str | Path):
        with open(source, encoding="utf-8-sig", newline="") as file:
            yield file
    else:
        yield source
