"""Streaming readers for canonical files: JSON Lines and CSV, plain or gzipped.

Readers never fail on a bad line: they hand it on with its error, so the importer can
quarantine it and go on. Memory stays flat however large the file.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

NESTED_CSV_FIELDS = ("items", "properties", "attributes", "consent", "ship_to", "coupon_codes")


@dataclass(frozen=True)
class RawRecord:
    """One line of input: its position, the record as a dict (or why it has none)."""

    file: str
    line: int
    raw: str
    data: dict[str, Any] | None
    error: str | None = None
    field: str | None = None
    # Platform formats: canonical field path -> the platform column it came from, so that
    # a rejection names the column the operator sees in the export.
    columns: Mapping[str, str] | None = None


class Position(Protocol):
    """How far a reader is into its file, in bytes."""

    @property
    def position(self) -> int: ...


@dataclass(frozen=True)
class Input:
    """One input file as records, with a probe of the reader's position."""

    path: Path
    records: Iterator[RawRecord]
    progress: Position
    size: int


class FileProgress:
    """Bytes of the underlying file consumed so far (compressed bytes for .gz)."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self.handle = handle
        self.size = size

    @property
    def position(self) -> int:
        # The reader closes the file when it is used up: then all of it was read.
        return self.size if self.handle.closed else self.handle.tell()


def open_records(
    path: Path, *, kind: str | None = None, source: str | None = None
) -> tuple[Iterator[RawRecord], FileProgress, int]:
    """Records of a file, a progress probe and the file's size in bytes."""
    handle = path.open("rb")
    size = path.stat().st_size
    progress = FileProgress(handle, size)
    stream: IO[bytes] = (
        gzip.GzipFile(fileobj=handle) if path.suffix == ".gz" else handle  # type: ignore[assignment]
    )
    name = path.name.removesuffix(".gz")
    if name.endswith(".csv"):
        records = _csv_records(stream, str(path), kind=kind, source=source)
    else:
        records = _jsonl_records(stream, str(path), kind=kind, source=source)
    return _closing(records, handle), progress, size


def open_inputs(
    paths: Sequence[Path], *, kind: str | None = None, source: str | None = None
) -> Iterator[Input]:
    """Canonical files, one input each."""
    for path in paths:
        records, progress, size = open_records(path, kind=kind, source=source)
        yield Input(path, records, progress, size)


def _closing(records: Iterator[RawRecord], handle: IO[bytes]) -> Iterator[RawRecord]:
    try:
        yield from records
    finally:
        handle.close()


def _defaults(data: dict[str, Any], kind: str | None, source: str | None) -> dict[str, Any]:
    if kind and not data.get("kind"):
        data["kind"] = kind
    if source and not data.get("source"):
        data["source"] = source
    return data


def _jsonl_records(
    stream: IO[bytes], file: str, *, kind: str | None, source: str | None
) -> Iterator[RawRecord]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        text = line.decode("utf-8", errors="replace").rstrip("\r\n").lstrip("\ufeff")
        try:
            data = orjson.loads(line.lstrip(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError as error:
            yield RawRecord(file, number, text, None, f"not valid JSON: {error}", "(line)")
            continue
        if not isinstance(data, dict):
            yield RawRecord(file, number, text, None, "a record must be a JSON object", "(line)")
            continue
        yield RawRecord(file, number, text, _defaults(data, kind, source))


def csv_row_to_record(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row in canonical column layout as a canonical record dict.

    `id:<type>` columns become identifiers (of the customer, or of `customer_ref` for
    orders and events); `customer_external_id` becomes `customer_ref.external_id`.
    Nested fields stay JSON text: validation parses them and names the field if broken.
    """
    record: dict[str, Any] = {}
    identifiers: dict[str, str] = {}
    for column, value in row.items():
        if column is None or value is None or value == "":
            continue
        if column.startswith("id:"):
            identifiers[column[3:]] = value
        else:
            record[column] = value
    ref: dict[str, Any] = {}
    if "customer_external_id" in record:
        ref["external_id"] = record.pop("customer_external_id")
    if record.get("kind") in ("order", "event"):
        if identifiers:
            ref["identifiers"] = identifiers
        if ref and "customer_ref" not in record:
            record["customer_ref"] = ref
    elif identifiers:
        record["identifiers"] = identifiers
    return record


def _csv_records(
    stream: IO[bytes], file: str, *, kind: str | None, source: str | None
) -> Iterator[RawRecord]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.DictReader(text)
    line = 1
    for row in reader:
        start, line = line + 1, reader.line_num
        raw = orjson.dumps({k: v for k, v in row.items() if k is not None}).decode()
        if None in row:
            yield RawRecord(file, start, raw, None, "more values than header columns", "(line)")
            continue
        data = dict(row)
        if kind and not data.get("kind"):
            data["kind"] = kind
        record = _defaults(csv_row_to_record(data), kind, source)
        # Kept in canonical JSON form, so a quarantined row can be fixed and re-imported.
        yield RawRecord(file, start, orjson.dumps(record).decode(), record)
