"""Reference data read from a CSV file, the whole file or nothing.

The format every such loader shares (the population registry, the schools): UTF-8, a byte order
mark allowed, a header row naming exactly the expected columns, one record a row, blank lines
skipped, spaces around values ignored. A loader reads the rows with `rows`, records each
problem as `line N: column: what is wrong` in one list, and refuses the file with
`CsvFileError` if that list is not empty, so the person fixing the file sees every problem at
once. Problems name lines and columns, never the values in them (they may be personal).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

PROBLEMS_SHOWN = 20  # in the message; `problems` keeps them all


class CsvFileError(ValueError):
    """A CSV file that was refused: every problem with its line number."""

    def __init__(self, path: str | Path, problems: list[str]):
        shown = problems[:PROBLEMS_SHOWN]
        if len(problems) > PROBLEMS_SHOWN:
            shown.append(f"and {len(problems) - PROBLEMS_SHOWN} more")
        super().__init__(f"{path}: " + "; ".join(shown))
        self.problems = problems


def rows(path: str | Path, columns: tuple[str, ...],
         problems: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row of the file as (its line number, column -> value stripped of spaces). A row
    with another number of fields is added to `problems` and skipped; a header other than
    `columns` refuses the file at once (CsvFileError)."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header = [column.strip() for column in next(reader, [])]
        if header != list(columns):
            raise CsvFileError(path, [f"line 1: the columns must be {','.join(columns)}"])
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(columns):
                problems.append(f"line {reader.line_num}: {len(row)} fields, "
                                f"{len(columns)} expected")
                continue
            yield reader.line_num, {column: value.strip()
                                    for column, value in zip(columns, row, strict=True)}
