"""`siyu bench events`: a real server, concurrent clients, every event stored once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from siyu.bench.api_load import run_events_load
from siyu.records.models import Event
from siyu.store import open_store


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_every_posted_event_is_stored_once(tmp_path: Path, writer: str) -> None:
    result = run_events_load(
        persons=20, events=120, concurrency=8, writer=writer, database_url=None, work_dir=tmp_path
    )
    assert result["events"] == 120 and result["events_per_second"] > 0
    # a writing process of its own did the importing, or none was started
    assert (result["writer_cpu_seconds"] > 0) == (writer == "process")
    assert 0 < result["median_ms"] <= result["p99_ms"]
    run = result["run"]
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        with store.session() as session:
            stored = session.scalar(
                select(func.count()).select_from(Event).where(Event.event_id.like(f"{run}-e%"))
            )
            warm = session.scalar(
                select(func.count()).select_from(Event).where(Event.event_id.like(f"{run}-warm%"))
            )
    finally:
        store.dispose()
    assert (stored, warm) == (120, 50)
