"""`Store.read_session`: on SQLite a read-only session begins deferred, so it reads while
another session holds the write lock (API keys are checked this way)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from siyu.store import open_store
from siyu.tenants.models import Tenant


def test_a_read_session_reads_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'read.db'}")
    try:
        with store.session() as writer:
            writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is taken
            with store.read_session() as reader:
                assert reader.scalar(select(func.count()).select_from(Tenant)) == 1
            writer.rollback()
    finally:
        store.dispose()
