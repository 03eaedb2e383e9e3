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


def clean_cell(value: Any) -> str:
    """A cell as text with export guards removed; empty string for no value."""
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


def _is_header(cells: list[str], want: list[str] | None) -> bool:
    if not any(cells):
        return False
    return not want or all(column in cells for column in want)


def _open_csv(path: Path, want: list[str] | None) -> Table:
    handle = path.open("rb")
    stream: IO[bytes] = (
        gzip.GzipFile(fileobj=handle) if path.suffix == ".gz" else handle  # type: ignore[assignment]
    )
    buffered = io.BufferedReader(stream, buffer_size=_SAMPLE)  # type: ignore[type-var]
    try:
        encoding = detect_encoding(buffered.peek(_SAMPLE)[:_SAMPLE])
    except TableError as error:
        handle.close()
        raise TableError(f"{path.name}: {error}") from None
    text = io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline="")
    delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    reader = csv.reader(text, delimiter=delimiter)
    header: list[str] | None = None
    for cells in reader:
        if _is_header(clean_header(cells), want) or reader.line_num > _HEADER_SEARCH:
            header = clean_header(cells)
            break
    if header is None or not any(header):
        handle.close()
        raise TableError(f"{path.name}: no header row")
    probe = Probe(handle, path.stat().st_size)
    rows = _csv_rows(reader, header, handle, probe)
    return Table(path, header, rows, probe, encoding, handle.close)


def _csv_rows(reader: Any, header: list[str], handle: IO[bytes], probe: Probe) -> Iterator[Row]:
    try:
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            yield Row(start, _row_values(header, cells))
    finally:
        probe.done = True
        handle.close()


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
    rows = sheet.iter_rows(values_only=True)
    header: list[str] | None = None
    number = 0
    for number, cells in enumerate(rows, start=1):  # noqa: B007 (number is used below)
        names = clean_header(list(cells))
        if _is_header(names, want) or number >= _HEADER_SEARCH:
            header = names
            break
    if header is None or not any(header):
        book.close()
        raise TableError(f"{path.name}: no header row")
    probe = Probe(None, path.stat().st_size)
    data = _xlsx_rows(rows, header, number, book, probe)
    return Table(path, header, data, probe, "xlsx", book.close)


def _xlsx_rows(
    rows: Iterator[tuple[Any, ...]], header: list[str], after: int, book: Any, probe: Probe
) -> Iterator[Row]:
    try:
        for number, cells in enumerate(rows, start=after + 1):
            if all(cell is None or str(cell).strip() == "" for cell in cells):
                continue
            yield Row(number, _row_values(header, list(cells)))
    finally:
        probe.done = True
        book.close()
