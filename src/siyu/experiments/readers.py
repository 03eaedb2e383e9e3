"""Streaming a per-unit CSV: one row per randomised unit, its arm and its metric values."""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from siyu.experiments.report import ExperimentError
from siyu.experiments.schemas import MetricKind, MetricSpec


@dataclass(frozen=True)
class UnitRow:
    line: int
    arm: str
    values: tuple[float, ...]  # in the order of the metrics asked for


@dataclass(frozen=True)
class BadRow:
    line: int
    field: str
    reason: str
    raw: str  # the row as received (CSV text)


def read_units(
    path: Path, *, arm_column: str, metrics: Sequence[MetricSpec]
) -> Iterator[UnitRow | BadRow]:
    """Rows of `path` (CSV, optionally .gz) as units, or as bad rows naming field and reason."""
    with _open(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ExperimentError(f"{path}: empty file")
        header = [name.strip() for name in header]
        missing = [c for c in [arm_column, *(m.name for m in metrics)] if c not in header]
        if missing:
            raise ExperimentError(
                f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(header)})"
            )
        arm_at = header.index(arm_column)
        columns = [(m.name, header.index(m.name), m.kind is MetricKind.BINARY) for m in metrics]
        for row in reader:
            if not row:
                continue  # a blank line is no unit
            yield _parse(row, reader.line_num, arm_column, arm_at, columns, len(header))


def _parse(
    row: list[str],
    line: int,
    arm_column: str,
    arm_at: int,
    columns: list[tuple[str, int, bool]],
    width: int,
) -> UnitRow | BadRow:
    if len(row) != width:
        return _bad(row, line, "(row)", f"{len(row)} fields where the header has {width}")
    arm = row[arm_at].strip()
    if not arm:
        return _bad(row, line, arm_column, "empty arm")
    values = []
    for name, at, binary in columns:
        try:
            value = float(row[at])
        except ValueError:
            return _bad(row, line, name, f"not a number: {row[at]!r}")
        if not math.isfinite(value):
            return _bad(row, line, name, f"not a finite number: {row[at]!r}")
        if binary and value not in (0.0, 1.0):
            return _bad(row, line, name, f"a binary metric must be 0 or 1, got {row[at]!r}")
        values.append(value)
    return UnitRow(line=line, arm=arm, values=tuple(values))


def _bad(row: list[str], line: int, field: str, reason: str) -> BadRow:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return BadRow(line=line, field=field, reason=reason, raw=buffer.getvalue())


def _open(path: Path) -> TextIO:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")
