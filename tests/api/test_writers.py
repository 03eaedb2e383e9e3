"""The writing process (`siyu.api.writers`): real, on SQLite and PostgreSQL; it answers
quarantines, and a new one takes over when it dies."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from siyu import identity
from siyu.api.batching import RecordBatcher, WriterLostError
from siyu.runtime import Runtime, open_runtime
from support import event

from .conftest import customers_and_grant

ORIGIN = "api:/events"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def writer_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime over a store another process can write to: a SQLite file, or a PostgreSQL
    schema of the test's own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'writer.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    runtime = open_runtime(database_url=url)
    yield runtime
    runtime.store.dispose()


def test_a_writing_process_writes_and_is_replaced_when_it_dies(
    writer_runtime: Runtime,
) -> None:
    grant = customers_and_grant(writer_runtime)
    batcher = RecordBatcher(writer_runtime, writer="process")
    try:
        first = batcher.submit(
            grant=grant, item=event("shop", "e1", customer_id="c1"), origin=ORIGIN
        )
        assert first.result(timeout=120).status == "accepted"
        bad = event("shop", "e2", customer_id="c2") | {"occurred_at": "not a time"}
        rejected = batcher.submit(grant=grant, item=bad, origin=ORIGIN).result(timeout=60)
        assert (rejected.status, rejected.field) == ("quarantined", "occurred_at")
        (writer,) = [p for p in multiprocessing.active_children() if p.name == "siyu-record-writer"]
        writer.kill()
        writer.join(timeout=30)
        lost = batcher.submit(
            grant=grant, item=event("shop", "e3", customer_id="c3"), origin=ORIGIN
        )
        with pytest.raises(WriterLostError):
            lost.result(timeout=60)
        again = batcher.submit(
            grant=grant, item=event("shop", "e3", customer_id="c3"), origin=ORIGIN
        )
        assert again.result(timeout=120).status == "accepted"
    finally:
        batcher.close()
    with writer_runtime.session() as session:
        tenant = writer_runtime.tenant(session)
        stored = identity.oneids_of_records(
            session=session, tenant=tenant, kind="event", refs=[("shop", "e1"), ("shop", "e3")]
        )
    assert set(stored) == {("shop", "e1"), ("shop", "e3")}
