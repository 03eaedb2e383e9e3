"""Portable "insert unless already there" (ON CONFLICT DO NOTHING on SQLite and
PostgreSQL), built once per table and dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_BUILT: dict[tuple[str, str], Executable] = {}


def insert_once(session: Session, table: Table, values: dict[str, Any], unique: list[str]) -> bool:
    """Insert a row unless one with the same `unique` columns exists; True when inserted.

    RETURNING tells whether a row went in (rowcount is not reliable for this on every
    driver: psycopg reports -1)."""
    dialect = session.get_bind().dialect.name
    statement = _BUILT.get((table.name, dialect))
    if statement is None:
        build = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = _BUILT[(table.name, dialect)] = (
            build(table)
            .on_conflict_do_nothing(index_elements=unique)
            .returning(*table.primary_key.columns)
        )
    return session.execute(statement, values).first() is not None
