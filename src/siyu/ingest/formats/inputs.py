"""Platform export files as ingest inputs: which file is which, the item-file join, and
rows streamed through the mapping engine into canonical records."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from siyu.ingest.formats.engine import JoinedItem, Mapper
from siyu.ingest.formats.spec import FormatSpec, ItemFile, builtin_formats
from siyu.ingest.formats.tables import Row, Table, TableError, open_table
from siyu.ingest.formats.values import CellError
from siyu.ingest.readers import Input, RawRecord

AUTO = "auto"


class FormatError(ValueError):
    """Files that do not fit the format asked for; the message says which and why."""


@dataclass(frozen=True)
class Plan:
    """The files of one import by role: the main export and any item files to join."""

    spec: FormatSpec
    main: list[Path]
    item_files: list[Path]


def plan_inputs(paths: Sequence[Path], *, spec: FormatSpec | None, name: str | None) -> Plan:
    """Check every file against the format (a built-in `name`, `auto`, or a mapping spec)
    and sort them into main and item files, before anything is imported."""
    if spec is None:
        spec = _choose(paths, name or AUTO)
    main: list[Path] = []
    items: list[Path] = []
    for path in paths:
        header = _header(path, spec.detect)
        if all(column in header for column in spec.detect):
            main.append(path)
        elif spec.item_file and all(
            c in _header(path, spec.item_file.detect) for c in spec.item_file.detect
        ):
            items.append(path)
        else:
            missing = [c for c in spec.detect if c not in header]
            raise FormatError(
                f"{path.name} is not a {spec.name} export: no column {', '.join(missing)}"
            )
    if not main:
        raise FormatError(f"no {spec.name} order file among {', '.join(p.name for p in paths)}")
    return Plan(spec, main, items)


def _choose(paths: Sequence[Path], name: str) -> FormatSpec:
    formats = builtin_formats()
    if name != AUTO:
        if name not in formats:
            raise FormatError(f"unknown format {name!r}; known: {', '.join(formats)}, auto")
        return formats[name]
    header = _header(paths[0], None)
    fitting = [s for s in formats.values() if all(c in header for c in s.detect)]
    if not fitting:
        raise FormatError(f"{paths[0].name}: no built-in format has these columns")
    return max(fitting, key=lambda s: len(s.detect))


def _header(path: Path, want: list[str] | None) -> list[str]:
    try:
        table = open_table(path, want=want)
    except (OSError, TableError) as error:
        raise FormatError(str(error)) from None
    table.close()
    return table.header


def open_format_inputs(plan: Plan, *, params: Mapping[str, str] | None = None) -> Iterator[Input]:
    """The main files as inputs of canonical records; item files are joined in."""
    mapper = Mapper(plan.spec, params)
    with tempfile.TemporaryDirectory(prefix="siyu-join-") as folder:
        index = None
        if plan.spec.item_file is not None:
            index = _ItemIndex(Path(folder) / "items.sqlite")
            for path in plan.item_files:
                index.load(
                    open_table(path, want=plan.spec.item_file.detect), plan.spec.item_file, mapper
                )
        try:
            for path in plan.main:
                table = open_table(path, want=plan.spec.detect)
                records = _records(table, mapper, index)
                yield Input(path, records, table.probe, table.probe.size)
        finally:
            if index is not None:
                index.close()


def _records(table: Table, mapper: Mapper, index: _ItemIndex | None) -> Iterator[RawRecord]:
    spec, file = mapper.spec, str(table.path)
    if spec.kind == "customer":
        for row in table.rows:
            record = mapper.customer_record(row.values, file, row.line)
            if record is not None:
                yield record
        return
    for group in _groups(table.rows, spec.group_by):
        rows = [(row.line, row.values) for row in group]
        joined = index.get(mapper.order_key(group[0].values)) if index is not None else []
        yield from mapper.order_records(rows, file, joined)


def _groups(rows: Iterator[Row], column: str | None) -> Iterator[list[Row]]:
    """Adjacent rows with the same value in `column` (an order's lines); else one per row."""
    if column is None:
        for row in rows:
            yield [row]
        return
    group: list[Row] = []
    for row in rows:
        if group and (
            row.values.get(column) != group[0].values.get(column) or not row.values.get(column)
        ):
            yield group
            group = []
        group.append(row)
    if group:
        yield group


class _ItemIndex:
    """Order lines of the item files, kept on disk by order key so memory stays flat."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE items (key TEXT, item BLOB, errors BLOB, place TEXT)")

    def load(self, table: Table, item_file: ItemFile, mapper: Mapper) -> None:
        batch: list[tuple[str, bytes, bytes | None, str]] = []
        for row in table.rows:
            mapped = mapper.read_fields(item_file.items, row.values)
            errors = (
                orjson.dumps([[p, e.column, e.text, e.reason] for p, e in mapped.errors])
                if mapped.errors
                else None
            )
            place = f"{table.path.name} line {row.line}"
            batch.append(
                (row.values.get(item_file.key, ""), orjson.dumps(mapped.data), errors, place)
            )
            if len(batch) >= 5000:
                self._insert(batch)
                batch = []
        self._insert(batch)
        self.db.execute("CREATE INDEX IF NOT EXISTS items_key ON items (key)")
        self.db.commit()

    def _insert(self, batch: list[tuple[str, bytes, bytes | None, str]]) -> None:
        self.db.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", batch)

    def get(self, key: str) -> list[JoinedItem]:
        if not key:
            return []
        found: list[JoinedItem] = []
        for item, errors, place in self.db.execute(
            "SELECT item, errors, place FROM items WHERE key = ? ORDER BY rowid", (key,)
        ):
            problems = [
                (path, CellError(column, text, reason))
                for path, column, text, reason in (orjson.loads(errors) if errors else [])
            ]
            found.append(JoinedItem(orjson.loads(item), problems, place))
        return found

    def close(self) -> None:
        self.db.close()
