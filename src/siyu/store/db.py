"""Opening the store: engine set-up per dialect and automatic migration on first use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Dialect, Engine, create_engine, event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker

from siyu.store.migrate import upgrade_to_head

SQLITE_POOL = 40
READ_ONLY = "siyu_read_only"  # execution option of `Store.read_session`'s connections


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Store:
    """One database: its engine and a session factory bound to it."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """A new session; callers commit or roll back."""
        return self.sessions()

    def read_session(self) -> Session:
        """A new session for reading only: on SQLite it takes no write lock (never write
        through it: a write would have to upgrade its lock and may fail as busy)."""
        return self.sessions(bind=self.engine.execution_options(**{READ_ONLY: True}))

    def dispose(self) -> None:
        self.engine.dispose()


def offline_dialect(name: str) -> Dialect:
    """The dialect `name` configured as the store's engines are (JSON written by orjson),
    for converting column values in a process without a connection (a bulk worker)."""
    if name != "sqlite":
        raise ValueError(f"offline conversion is for SQLite stores only, not {name}")
    return sqlite.dialect(json_serializer=_json_dumps, json_deserializer=orjson.loads)


def create_store_engine(url: str) -> Engine:
    """An engine with the settings siyu relies on for this dialect."""
    if url.startswith("sqlite"):
        # Connections are kept for as many threads as a server runs requests on (40):
        # beyond the pool, each request opened a connection (its PRAGMAs included) and
        # closed it again, which cost more than the request's own queries.
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            pool_size=SQLITE_POOL,
            max_overflow=SQLITE_POOL,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync is durable across process
    # crashes (kill -9), which is the guarantee the brief asks for.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy issue BEGIN (savepoints work)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A large store's indexes no longer fit SQLite's 2 MB default page cache: bulk
        # imports then re-read index pages for every insert. 128 MB per connection.
        cursor.execute("PRAGMA cache_size=-131072")
        cursor.close()

    # Identity resolution reads then writes: taking the write lock up front avoids
    # SQLITE_BUSY on lock upgrade when two writers race. Sessions that only read
    # (`Store.read_session`) begin deferred: in WAL mode they neither wait for the writer
    # nor hold it up.
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Connect to the store at `url`, bringing its schema to the latest migration."""
    engine = create_store_engine(url)
    if migrate:
        upgrade_to_head(engine)
    return Store(engine=engine, sessions=sessionmaker(bind=engine, expire_on_commit=False))


def refresh_statistics(session: Session) -> None:
    """Have PostgreSQL's planner learn the tables as they are now (after a large load).

    Until autovacuum gets to a freshly loaded table, the planner works from its old size
    and may scan what it could look up: measured, an event batch's three lookups took
    7 ms each instead of 0.04. SQLite plans without statistics and is left as it is."""
    if session.get_bind().dialect.name != "postgresql":
        return
    preparer = session.get_bind().dialect.identifier_preparer
    names = session.scalars(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    ).all()
    for name in names:  # the store's schema only, not the whole database
        session.execute(text(f"ANALYZE {preparer.quote(name)}"))
