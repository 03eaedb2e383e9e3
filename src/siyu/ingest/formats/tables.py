"""Spreadsheet-like files as a header and streamed rows: CSV (any of the encodings Chinese
platforms export in, optionally .gz) and XLSX (read-only, so memory stays flat).

Export quirks are undone here, once for every format: Excel guards that keep long numbers as
text (`="123"`, a leading tab or apostrophe), surrounding spaces in headers and cells.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import chain
from pathlib import Path
from typing import IO, Any

# A sample this large decides the encoding: enough to meet the first Chinese text in any export.
_SAMPLE = 1 << 20
_HEADER_SEARCH = 10  # exports may put a title line or two above the header


class TableError(ValueError):
    """A file that cannot be read as a table (wrong type, no header, unknown encoding)."""


@dataclass(frozen=True)
class Row:
    """One data row: its line (CSV) or sheet row number (XLSX) and its cleaned cells."""

    line: int
    values: dict[str, str]


class Probe:
    """How far into the file the reader is (compressed bytes for .gz)."""

    def __init__(self, handle: IO[bytes] | None, size: int) -> None:
        self.handle = handle
        self.size = size
        self.done = False

    @property
    def position(self) -> int:
        if self.done or self.handle is None or self.handle.closed:
            return self.size if self.done or self.handle is not None else 0
        return self.handle.tell()


@dataclass
class Table:
    """A file opened as a table; `rows` streams the data rows once."""

    path: Path
    header: list[str]
    rows: Iterator[Row]
    probe: Probe
    encoding: str
    close: Callable[[], None]


_GUARD_START = frozenset("=\t' \u3000")
_SPACE_END = frozenset("\t \u3000")


def clean_cell(value: Any) -> str:
    """A cell as text with export guards removed; empty string for no value."""
    if type(value) is str and (
        not value or (value[0] not in _GUARD_START and value[-1] not in _SPACE_END)
    ):
        return value  # the common case, checked first: most cells need nothing
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        # repr is the shortest text that round-trips: 199.9 stays "199.9", never 199.8999...
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip().strip("\t").strip()
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1].strip()
    elif text.startswith("'"):
        text = text[1:].strip()
    return text


def clean_header(names: list[Any]) -> list[str]:
    return [clean_cell(name).lstrip("\ufeff").strip() for name in names]


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) if the sample decodes as such, else GB18030 (⊃ GBK)."""
    try:
        # incremental: a sample cut inside a multi-byte character is still UTF-8
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError as error:
        raise TableError(f"not UTF-8, GBK or GB18030 text: {error}") from None
    return "gb18030"


def open_table(path: Path, *, want: list[str] | None = None) -> Table:
    """Open a CSV(.gz) or XLSX file; the header is the first row holding all `want` columns
    (or the first non-empty row)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".xlsx"):
        return _open_xlsx(path, want)
    if name.endswith((".csv", ".txt", ".tsv")):
        return _open_csv(path, want)
    raise TableError(f"{path.name}: expected a .csv, .csv.gz or .xlsx file")


def _split_header(
    rows: Iterator[tuple[int, list[Any]]], want: list[str] | None, name: str
) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header (the first row with all `want` columns among the first few, else the first
    non-empty row) and the rows after it."""
    seen: list[tuple[int, list[Any]]] = []
    for line, cells in rows:
        seen.append((line, cells))
        names = clean_header(cells)
        if any(names) and want and all(column in names for column in want):
            return names, rows
        if len(seen) >= _HEADER_SEARCH:
            break
    for index, (_line, cells) in enumerate(seen):
        if any(clean_header(cells)):
            return clean_header(cells), chain(seen[index + 1 :], rows)
    raise TableError(f"{name}: no header row")


def _open_csv(path: Path, want: list[str] | None) -> Table:
    handle = path.open("rb")
    stream: IO[bytes] = (
        gzip.GzipFile(fileobj=handle) if path.suffix == ".gz" else handle  # type: ignore[assignment]
    )
    buffered = io.BufferedReader(stream, buffer_size=_SAMPLE)  # type: ignore[type-var]
    try:
        encoding = detect_encoding(buffered.peek(_SAMPLE)[:_SAMPLE])
        text = io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline="")
        delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
        header, rows = _split_header(
            _csv_lines(csv.reader(text, delimiter=delimiter)), want, path.name
        )
    except (TableError, csv.Error, OSError) as error:
        handle.close()
        raise TableError(f"{path.name}: {error}") from None
    probe = Probe(handle, path.stat().st_size)
    data = _rows(rows, header, handle.close, probe)
    return Table(path, header, data, probe, encoding, handle.close)


def _csv_lines(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on (a quoted cell may span lines)."""
    line = 0
    for cells in reader:
        start, line = line + 1, reader.line_num
        yield start, cells


def _rows(
    rows: Iterator[tuple[int, list[Any]]],
    header: list[str],
    close: Callable[[], None],
    probe: Probe,
) -> Iterator[Row]:
    try:
        for line, cells in rows:
            if all(cell is None or str(cell).strip() == "" for cell in cells):
                continue
            yield Row(line, _row_values(header, cells))
    finally:
        probe.done = True
        close()


def _row_values(header: list[str], cells: list[Any]) -> dict[str, str]:
    values = {name: clean_cell(cell) for name, cell in zip(header, cells, strict=False) if name}
    if len(cells) > len(header):
        extra = [clean_cell(c) for c in cells[len(header) :] if clean_cell(c)]
        if extra:
            values["(extra)"] = "|".join(extra)
    return values


def _open_xlsx(path: Path, want: list[str] | None) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # zip/XML errors: say which file, not a traceback
        raise TableError(f"{path.name}: not a readable .xlsx file ({error})") from None
    sheet = book.worksheets[0]
    numbered = enumerate((list(r) for r in sheet.iter_rows(values_only=True)), start=1)
    try:
        header, rows = _split_header(numbered, want, path.name)
    except TableError:
        book.close()
        raise
    probe = Probe(None, path.stat().st_size)
    return Table(path, header, _rows(rows, header, book.close, probe), probe, "xlsx", book.close)
