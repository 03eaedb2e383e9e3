"""Bulk inserts: one statement for many rows, with the driver doing the per-row work."""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column, String, Table, bindparam, insert, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from siyu.store.base import Base, table


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run a batch without Python's cyclic garbage collector, then turn it back on.

    A batch allocates hundreds of thousands of short-lived dicts and tuples; each 700
    allocations start a young-generation collection and every few of those a full one
    over every object the process holds, ~30 % of a journey pass's CPU. What the batch
    leaves behind is freed by reference counting, or by the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_heap() -> None:
    """Collect garbage once, then exempt every object alive now from later collections.

    For a long-running process after start-up (a worker): the ~400,000 objects of the
    imported modules live as long as it does, yet every full collection walked them all
    again (measured: ~6 % of a journey run's CPU). Objects made later are collected as usual.
    """
    gc.collect()
    gc.freeze()


def insert_many(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_conflicts: bool = False,
    bound: Collection[str] = (),
) -> int | None:
    """INSERT `rows` (all with the same keys) into the model's table; with
    `ignore_conflicts`, rows that would break a unique constraint are skipped; `bound`:
    keys whose values `bind_values` converted already (SQLite).
    Returns how many rows went in where the driver says so (SQLite), else None.

    On SQLite the rows go straight to the driver's `executemany`: SQLAlchemy's generic
    per-row parameter handling costs more than SQLite's insert itself. The values are
    converted by the same column-type processors SQLAlchemy would apply, and Python-side
    column defaults are filled in, so the stored rows are identical. PostgreSQL keeps
    SQLAlchemy's batched `insertmanyvalues`, which is already fast there.
    """
    if not rows:
        return 0
    target = table(model)
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        statement = insert(target)
        if ignore_conflicts and dialect.name == "postgresql":
            statement = postgresql.insert(target).on_conflict_do_nothing()
        session.execute(statement, rows)
        return None
    keys = list(rows[0])
    defaults = _defaults(target, keys)
    columns = [target.c[key] for key in [*keys, *defaults]]
    processors = _column_processors(target, dialect)
    fixed = list(defaults.values())
    pick = itemgetter(*keys)
    active = [
        (i, _remembering(processors[column.key]))
        for i, column in enumerate(columns)
        if column.key in processors and column.key not in bound
    ]
    converted: list[tuple[Any, ...]] = []
    for row in rows:
        picked = pick(row)
        values = [*(picked if len(keys) > 1 else (picked,)), *fixed]
        for i, process in active:
            values[i] = process(values[i])
        converted.append(tuple(values))
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(column.name) for column in columns)
    marks = ", ".join("?" for _ in columns)
    verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
    sql = f"{verb} INTO {quote(target.name)} ({names}) VALUES ({marks})"
    # sqlite3's executemany counts the rows it changed: ignored ones are not counted.
    return int(session.connection().exec_driver_sql(sql, converted).rowcount)


def bind_values(model: type[Base], values: dict[str, Any], dialect: Dialect) -> None:
    """Convert `values` (column key → Python value) in place as the columns' types would
    when binding them on `dialect`, so another process can insert them (`bound=`)."""
    for key, process in _column_processors(table(model), dialect).items():
        if key in values:  # None too: a JSON column stores it as 'null', as insert_many does
            values[key] = process(values[key])


class AsBound(TypeDecorator[Any]):
    """A parameter type that hands its value to the driver unchanged: for values
    `bind_values` converted already (a bare `bindparam` would take the column's type)."""

    impl = String
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


# Per dialect object (its JSON serializer is part of what a processor does), per table.
_PROCESSORS: WeakKeyDictionary[Dialect, dict[str, dict[str, Callable[[Any], Any]]]] = (
    WeakKeyDictionary()
)


def _column_processors(target: Table, dialect: Dialect) -> dict[str, Callable[[Any], Any]]:
    """Column key → the bind processor SQLAlchemy applies on `dialect` (columns with one)."""
    tables = _PROCESSORS.setdefault(dialect, {})
    found = tables.get(target.name)
    if found is None:
        found = tables[target.name] = {
            column.key: process
            for column in target.columns
            if (process := _processor(column, dialect)) is not None
        }
    return found


def _remembering(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A converter that reuses its last result when given the very same object again:
    a batch often binds one `now` (or one template) to every row."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return convert


def _defaults(target: Table, keys: Sequence[str]) -> dict[str, Any]:
    """Values of Python-side defaults for the columns the rows leave out (one per batch)."""
    values: dict[str, Any] = {}
    for column in target.columns:
        default = column.default
        if column.key in keys or default is None or column.autoincrement is True:
            continue
        if default.is_scalar:
            values[column.key] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            values[column.key] = default.arg(None)  # type: ignore[attr-defined]
    return values


def update_many(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    key: str = "id",
    where: Mapping[str, Any] | None = None,
) -> None:
    """UPDATE rows (all with the same keys) matched by `key`, one statement for all;
    `where` adds conditions every row must also meet (e.g. still holding a lease).

    Like `insert_many`, SQLite gets the driver's `executemany` with the columns' own
    conversions; PostgreSQL gets SQLAlchemy's executemany.
    """
    if not rows:
        return
    target = table(model)
    dialect = session.get_bind().dialect
    names = [name for name in rows[0] if name != key]
    extra = dict(where or {})
    if dialect.name != "sqlite":
        statement = (
            update(target)
            .where(target.c[key] == bindparam("_key"))
            .where(*(target.c[name] == value for name, value in extra.items()))
            .values({name: bindparam(name) for name in names})
        )
        session.execute(statement, [{**row, "_key": row[key]} for row in rows])
        return
    columns = [target.c[name] for name in [*names, key]]
    processors = _column_processors(target, dialect)
    active = [
        (i, _remembering(processors[column.key]))
        for i, column in enumerate(columns)
        if column.key in processors
    ]
    fixed = [
        process(value) if (process := processors.get(name)) is not None else value
        for name, value in extra.items()
    ]
    pick = itemgetter(*names, key)
    converted: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(pick(row))
        for i, process in active:
            values[i] = process(values[i])
        converted.append((*values, *fixed))
    quote = dialect.identifier_preparer.quote
    assignments = ", ".join(f"{quote(name)} = ?" for name in names)
    conditions = "".join(f" AND {quote(target.c[name].name)} = ?" for name in extra)
    sql = f"UPDATE {quote(target.name)} SET {assignments} WHERE {quote(key)} = ?{conditions}"
    session.connection().exec_driver_sql(sql, converted)


def _processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The bind processor SQLAlchemy itself applies: the dialect's own implementation of
    the column type (SQLite's DATETIME writes its fixed storage format; the generic type
    would leave the value to the driver, which formats times differently)."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)
