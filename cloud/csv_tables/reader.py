"""One CSV table: the file opened in its encoding, the header checked, rows with their line numbers,
and every problem as ``file:line: column: problem (fix)``, raised together as one ConfigError.

A problem does not stop the reading: the rows after it are checked too, so one run lists what is
wrong across the file (the first ``MAX_PROBLEMS`` lines, then a count), and the command line
prints them without a traceback. Only a file that cannot be read as a table at all (missing,
unknown encoding, no header, required columns missing) is refused at once.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pydantic import BaseModel

from watertel.cloud.csv_tables.cells import CellError
from watertel.cloud.csv_tables.encoding import GB18030, sniff
from watertel.config import validate
from watertel.errors import ConfigError

log = logging.getLogger(__name__)
MAX_PROBLEMS = 20  # a broken export yields one line per row; the first ones say enough
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Problems:
    """The problems of one file as ``file:line: column: problem (fix)`` lines."""

    def __init__(self, path: Path) -> None:
        self.path, self.lines, self.count = path, [], 0

    def add(self, line: int, column: str, problem: str) -> None:
        self.count += 1
        if len(self.lines) < MAX_PROBLEMS:
            self.lines.append(f"{self.path}:{line}: {column}: {problem}")

    def raise_if_any(self) -> None:
        """Raise the problems so far as one ConfigError (the CLI prints one line each, exit 1)."""
        if self.count:
            more = [f"{self.path}: … and {self.count - len(self.lines)} more"] if self.count > len(self.lines) else []
            raise ConfigError(self.path, self.lines + more)


class Row(dict[str, str]):
    """One data row: its cells by column (stripped; "" for a column the file lacks) and the line it
    starts on. A dict, so reading a cell costs no more than with ``csv.DictReader``."""

    __slots__ = ("line", "problems", "bad")

    def __init__(self, line: int, cells: Iterable[tuple[str, str]], problems: Problems) -> None:
        super().__init__(cells)
        self.line, self.problems, self.bad = line, problems, False

    def __missing__(self, column: str) -> str:
        return ""

    def problem(self, column: str, problem: str) -> None:
        """Record a problem of this row (``problem (fix)``); the row is then ``bad``."""
        self.bad = True
        self.problems.add(self.line, column, problem)

    def parse(self, column: str, parser: Callable[..., T], *args: Any, required: bool = False) -> T | None:
        """``parser(cell, *args)``, or None for an empty cell (unless ``required``: then the parser
        judges the empty cell too, with its own fix) or a bad one (recorded)."""
        text = self[column]
        if not text and not required:
            return None
        try:
            return parser(text, *args)
        except CellError as err:
            self.problem(column, str(err))
            return None

    def model(self, model: type[M], data: dict[str, Any], columns: Mapping[str, str] | None = None) -> M | None:
        """``model`` validated from this row's values, or None with each problem recorded under its
        column (``columns``: field name → column where they differ; a check across fields: ``(row)``)."""
        try:  # the config loader's validate: its messages carry the value and the fix, as in YAML files
            return validate(self.problems.path, data, None, model)
        except ConfigError as err:  # lines "file: key: problem (fix)" (no YAML node, so no line)
            prefix = f"{self.problems.path}: "
            for text in err.problems:
                key, _, problem = text.removeprefix(prefix).partition(": ")
                field = key.split(".")[0]
                self.problem("(row)" if field == "(top level)" else (columns or {}).get(field, field), problem)
            return None


class CsvTable:
    """An open CSV file whose header has been checked; iterate for its rows. Use as a context manager."""

    def __init__(self, path: Path, required: tuple[str, ...], known: tuple[str, ...] | None = None) -> None:
        self.path = Path(path)
        self.encoding = sniff(self.path)
        self.problems = Problems(self.path)
        self._handle = open(self.path, newline="", encoding=self.encoding)
        self._reader = csv.reader(self._handle)
        try:
            self.columns = self._header(required, known)
        except BaseException:
            self._handle.close()
            raise
        if self.encoding == GB18030:
            log.warning("%s: not UTF-8, read as GB18030 (GBK, as Excel on Chinese Windows saves CSV);"
                        " check that names read right", self.path)

    def _header(self, required: tuple[str, ...], known: tuple[str, ...] | None) -> list[str]:
        columns = next(self._reader, None)
        fix = f"write a header line naming the columns, at least: {','.join(required)}"
        if columns is None:
            raise ConfigError(self.path, [f"{self.path}:1: (header): the file is empty ({fix})"])
        columns = [c.strip().lstrip("\ufeff") for c in columns]
        names = [c for c in columns if c]
        if not names:
            raise ConfigError(self.path, [f"{self.path}:1: (header): the first line names no column ({fix})"])
        problems = [f"{self.path}:1: {c}: column given twice (keep one)" for i, c in enumerate(names) if c in names[:i]]
        if known is not None:
            problems += [f"{self.path}:1: {c}: unknown column (the columns are: {', '.join(known)})"
                         for c in names if c not in known]
        problems += [f"{self.path}:1: {c}: required column is missing (the header needs at least"
                     f" {','.join(required)})" for c in required if c not in names]
        if problems:
            raise ConfigError(self.path, problems)
        return columns

    def __iter__(self) -> Iterator[Row]:
        """The rows with data, each with the line it starts on (a quoted cell may span lines);
        blank rows are skipped, extra non-empty cells after the last column are a problem."""
        width, end = len(self.columns), self._reader.line_num
        try:
            for cells in self._reader:
                line, end = end + 1, self._reader.line_num
                values = list(map(str.strip, cells))
                if not any(values):
                    continue
                row = Row(line, zip(self.columns, values), self.problems)
                if len(values) > width and any(values[width:]):
                    extra = [v for v in values[width:] if v]
                    row.problem("(extra cells)", f"{len(values) - width} more cells than the header's {width} columns"
                                                 f" ({', '.join(map(repr, extra[:3]))}) (quote cells that contain commas)")
                yield row
        except csv.Error as err:  # raised by the reader only, never by the code the row was yielded to
            self.problems.add(end + 1, "(row)", f"not readable as CSV ({err}) (check the quotes from this line on)")
            self.problems.raise_if_any()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> CsvTable:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def open_table(path: Path, required: tuple[str, ...], known: tuple[str, ...] | None = None) -> CsvTable:
    """Open a CSV table and check its header.

    Args:
        path: the file (UTF-8 with or without BOM, or GB18030/GBK: see ``encoding.py``).
        required: columns the header must have.
        known: every column the table may have (others are refused), or None to ignore other columns.

    Raises:
        ConfigError: the file cannot be read, is in neither encoding, is empty, or its header lacks a
            required column (or names an unknown or repeated one): one ``file:1: column: problem (fix)``
            line each.
    """
    return CsvTable(path, required, known)
