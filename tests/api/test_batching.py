"""Group commit (`siyu.api.batching`): records submitted while the writer is busy share one
transaction, each request gets its own record's result, and a batch that fails as a whole
is retried record by record so only the bad record's request fails; a revoked key writes
nothing; a full queue turns records away."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from siyu import identity, ingest, online, tenants
from siyu.api.batching import RecordBatcher, RevokedKeyError, WriterBusyError
from siyu.runtime import Runtime
from support import event

from .conftest import customers_and_grant

ORIGIN = "api:/events"


class Gate:
    """Wraps `online.accept_records`: records each call's batch size and can hold the
    first call until the test has queued more work behind it."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.poison: str | None = None

    def accept(self, **kwargs: Any) -> Any:
        items = kwargs["items"]
        self.sizes.append(len(items))
        self.entered.set()
        self.release.wait(timeout=30)
        if self.poison is not None and any(i.get("event_id") == self.poison for i in items):
            raise RuntimeError(f"cannot take {self.poison}")
        return _accept(**kwargs)


_accept = online.accept_records


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    found = Gate()
    monkeypatch.setattr("siyu.api.writers.online.accept_records", found.accept)
    return found


@pytest.fixture
def grant(api_runtime: Runtime) -> tenants.KeyGrant:
    """Twenty customers to post events for, and the grant of an admin key."""
    return customers_and_grant(api_runtime)


@pytest.fixture
def batcher(api_runtime: Runtime) -> Iterator[RecordBatcher]:
    """A batcher writing in its own thread (so that `Gate` can look inside the write)."""
    found = RecordBatcher(api_runtime, writer="thread")
    yield found
    found.close()


def _submit_all(
    batcher: RecordBatcher, gate: Gate, grant: tenants.KeyGrant, items: list[dict[str, Any]]
) -> list[Future[ingest.RecordResult]]:
    """Submit the first item, hold the writer on it, queue the rest, then let it go."""
    first = batcher.submit(grant=grant, item=items[0], origin=ORIGIN)
    assert gate.entered.wait(timeout=30)
    rest = [batcher.submit(grant=grant, item=item, origin=ORIGIN) for item in items[1:]]
    deadline = time.monotonic() + 30
    while batcher.waiting() < len(rest) and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.release.set()
    return [first, *rest]


def test_records_queued_behind_a_busy_writer_share_one_transaction(
    api_runtime: Runtime, batcher: RecordBatcher, gate: Gate, grant: tenants.KeyGrant
) -> None:
    items = [event("shop", f"e{i}", customer_id=f"c{i}") for i in range(10)]
    futures = _submit_all(batcher, gate, grant, items)
    results = [f.result(timeout=30) for f in futures]
    assert gate.sizes == [1, 9]
    assert [r.record_id for r in results] == [f"e{i}" for i in range(10)]
    assert {(r.status, r.outcome, r.index) for r in results} == {("accepted", "new", 0)}
    with api_runtime.session() as session:
        tenant = api_runtime.tenant(session)
        linked = identity.oneids_of_records(
            session=session,
            tenant=tenant,
            kind="customer",
            refs=[("shop", f"c{i}") for i in range(10)],
        )
    assert [r.oneid for r in results] == [linked[("shop", f"c{i}")] for i in range(10)]


def test_a_batch_that_fails_is_retried_record_by_record(
    api_runtime: Runtime, batcher: RecordBatcher, gate: Gate, grant: tenants.KeyGrant
) -> None:
    gate.poison = "e3"
    items = [event("shop", f"e{i}", customer_id=f"c{i}") for i in range(6)]
    futures = _submit_all(batcher, gate, grant, items)
    with pytest.raises(RuntimeError, match="cannot take e3"):
        futures[3].result(timeout=30)
    others = [f.result(timeout=30) for i, f in enumerate(futures) if i != 3]
    assert [r.record_id for r in others] == ["e0", "e1", "e2", "e4", "e5"]
    assert {r.status for r in others} == {"accepted"}
    # the whole batch of five failed once, then each of them ran alone
    assert gate.sizes == [1, 5, 1, 1, 1, 1, 1]


def test_a_rejected_record_is_quarantined_without_failing_the_others(
    api_runtime: Runtime, batcher: RecordBatcher, gate: Gate, grant: tenants.KeyGrant
) -> None:
    items = [event("shop", f"e{i}", customer_id=f"c{i}") for i in range(4)]
    items[2]["occurred_at"] = "not a time"
    futures = _submit_all(batcher, gate, grant, items)
    results = [f.result(timeout=30) for f in futures]
    assert gate.sizes == [1, 3]
    assert [r.status for r in results] == ["accepted", "accepted", "quarantined", "accepted"]
    assert results[2].field == "occurred_at" and results[2].quarantine_id is not None


def test_closing_writes_what_was_submitted(batcher: RecordBatcher, grant: tenants.KeyGrant) -> None:
    queued = batcher.submit(grant=grant, item=event("shop", "e1", customer_id="c1"), origin=ORIGIN)
    batcher.close()
    assert queued.done() and queued.result().status == "accepted"
    again = batcher.submit(grant=grant, item=event("shop", "e1", customer_id="c1"), origin=ORIGIN)
    # a closed batcher starts its writer again when used
    assert again.result(timeout=30).outcome == "unchanged"


def test_a_revoked_key_writes_nothing(
    api_runtime: Runtime, batcher: RecordBatcher, grant: tenants.KeyGrant
) -> None:
    with api_runtime.session() as session:
        assert tenants.revoke_api_key(
            session=session, tenant_id=grant.tenant_id, key_id=grant.key_id
        )
        session.commit()
    queued = batcher.submit(grant=grant, item=event("shop", "e1", customer_id="c1"), origin=ORIGIN)
    with pytest.raises(RevokedKeyError):
        queued.result(timeout=30)
    with api_runtime.session() as session:
        tenant = api_runtime.tenant(session)
        stored = identity.oneids_of_records(
            session=session, tenant=tenant, kind="event", refs=[("shop", "e1")]
        )
    assert stored == {}


def test_a_full_queue_turns_records_away_and_keeps_the_rest(
    api_runtime: Runtime, gate: Gate, grant: tenants.KeyGrant
) -> None:
    batcher = RecordBatcher(api_runtime, writer="thread", max_waiting=3)
    try:
        items = [event("shop", f"e{i}", customer_id=f"c{i}") for i in range(5)]
        first = batcher.submit(grant=grant, item=items[0], origin=ORIGIN)
        assert gate.entered.wait(timeout=30)  # the writer holds e0; e1..e3 wait
        waiting = [batcher.submit(grant=grant, item=i, origin=ORIGIN) for i in items[1:4]]
        with pytest.raises(WriterBusyError):
            batcher.submit(grant=grant, item=items[4], origin=ORIGIN)
        gate.release.set()
        done = [f.result(timeout=30) for f in [first, *waiting]]
        assert [r.record_id for r in done] == ["e0", "e1", "e2", "e3"]
        assert gate.sizes == [1, 3]
        # room again once the writer caught up
        assert batcher.submit(grant=grant, item=items[4], origin=ORIGIN).result(timeout=30)
    finally:
        batcher.close()
