"""Hot-path statements: a Core statement compiled once per dialect and run on the session's
own DB-API connection, inside its transaction.

SQLAlchemy spends ~50-150 µs setting up each execution; the driver needs ~5 µs. For the few
statements run per loyalty operation that difference decides the throughput. Statements
are still written with SQLAlchemy Core (portable, typed); compiling and type conversion use
SQLAlchemy's public API (`compile`, `construct_params`, `bind_processor`,
`result_processor`), so values are stored exactly as the ORM stores them.

Unlike `session.execute`, these statements do not autoflush pending ORM objects: flush
first when a statement must see objects added to the session.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None
_DRIVER = "siyu.store.fast.driver"


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter order for positional paramstyles
    defaults: dict[str, Any]  # values written into the statement (status == "active")
    processors: list[tuple[str, Callable[[Any], Any]]]  # type conversions of parameters
    results: list[Processor]
    row: Callable[..., Any]  # a named tuple of the selected columns


def _driver(session: Session) -> tuple[Any, Dialect]:
    """The DB-API connection of the session's current transaction, begun if needed.

    Asking the session for its connection on every statement costs more than the
    statement; the answer is kept for as long as the same transaction is active."""
    transaction = session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and cached[0] is transaction and transaction.is_active:
        return cached[1], cached[2]
    connection = session.connection()  # begins the transaction (BEGIN IMMEDIATE)
    driver = connection.connection.driver_connection
    session.info[_DRIVER] = (session.get_transaction(), driver, connection.dialect)
    return driver, connection.dialect


class Fast:
    """One statement; `rows`, `one`, `scalar`, `run` and `many` execute it."""

    def __init__(self, statement: ClauseElement, *, keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.keys = list(keys) if keys is not None else None  # INSERT columns given
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.keys)
            assert isinstance(compiled, SQLCompiler)
            # IN lists are rendered per execution; spell them out with OR instead.
            assert "POSTCOMPILE" not in compiled.string, "no IN (...) in fast statements"
            columns = getattr(self.statement, "selected_columns", None) or []
            processors = {
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for name, bind in compiled.binds.items()
            }
            found = self._by_dialect[dialect.name] = _Compiled(
                sql=compiled.string,
                positional=tuple(compiled.positiontup) if compiled.positiontup else None,
                defaults={
                    name: bind.effective_value
                    for name, bind in compiled.binds.items()
                    if not bind.required
                },
                processors=[(n, p) for n, p in processors.items() if p is not None],
                results=[
                    c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
                ],
                row=namedtuple("Row", [str(c.key) for c in columns] or ["value"], rename=True),
            )
        return found

    def _params(self, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        params = {**compiled.defaults, **values}
        for name, processor in compiled.processors:
            value = params.get(name)
            if value is not None:
                params[name] = processor(value)
        if compiled.positional is not None:
            return tuple(params[name] for name in compiled.positional)
        return params

    def _cursor(self, session: Session) -> tuple[Any, _Compiled]:
        driver, dialect = _driver(session)
        return driver.cursor(), self._compiled(dialect)

    def rows(self, session: Session, values: Mapping[str, Any] | None = None) -> list[Any]:
        """All result rows (named tuples), converted to Python values by the columns' types."""
        cursor, compiled = self._cursor(session)
        try:
            cursor.execute(compiled.sql, self._params(compiled, values or {}))
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        processors, make = compiled.results, compiled.row
        if not any(processors):
            return [make(*row) for row in fetched]
        return [
            make(*(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)))
            for row in fetched
        ]

    def one(self, session: Session, values: Mapping[str, Any] | None = None) -> Any:
        """The first row (a named tuple), or None."""
        found = self.rows(session, values)
        return found[0] if found else None

    def scalar(self, session: Session, values: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        row = self.one(session, values)
        return None if row is None else row[0]

    def run(self, session: Session, values: Mapping[str, Any]) -> None:
        """Execute a statement that returns no rows (INSERT / UPDATE without RETURNING)."""
        cursor, compiled = self._cursor(session)
        try:
            cursor.execute(compiled.sql, self._params(compiled, values))
        finally:
            cursor.close()

    def many(self, session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (bulk INSERT / UPDATE)."""
        cursor, compiled = self._cursor(session)
        try:
            cursor.executemany(compiled.sql, [self._params(compiled, row) for row in rows])
        finally:
            cursor.close()
