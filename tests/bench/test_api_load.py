"""`siyu bench events`: a real server, concurrent clients, every event stored once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from siyu.bench.api_load import run_events_load
from siyu.records.models import Event
from siyu.store import open_store


def test_every_posted_event_is_stored_once(tmp_path: Path) -> None:
    result = run_events_load(persons=20, events=120, concurrency=8, work_dir=tmp_path)
    assert result["events"] == 120 and result["events_per_second"] > 0
    assert 0 < result["median_ms"] <= result["p99_ms"]
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        with store.session() as session:
            stored = session.scalar(
                select(func.count()).select_from(Event).where(Event.event_id.like("e%"))
            )
            warm = session.scalar(
                select(func.count()).select_from(Event).where(Event.event_id.like("warm%"))
            )
    finally:
        store.dispose()
    assert (stored, warm) == (120, 50)
