"""Group commit (`siyu.api.batching`): records submitted while the writer is busy share one
transaction, each request gets its own record's result, and a batch that fails as a whole
is retried record by record so only the bad record's request fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from siyu import identity, online
from siyu.api.batching import RecordBatcher
from siyu.runtime import Runtime
from support import customer, event

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
    monkeypatch.setattr("siyu.api.batching.online.accept_records", found.accept)
    return found


@pytest.fixture
def batcher(api_runtime: Runtime) -> Iterator[RecordBatcher]:
    with api_runtime.session() as session:
        tenant = api_runtime.tenant(session)
        _accept(
            session=session,
            tenant=tenant,
            items=[customer("shop", f"c{i}", {"phone": f"1390000{i:04d}"}) for i in range(20)],
            origin="test",
        )
    found = RecordBatcher(api_runtime)
    yield found
    found.close()


def _submit_all(
    runtime: Runtime, batcher: RecordBatcher, gate: Gate, items: list[dict[str, Any]]
) -> list[Any]:
    """Submit the first item, hold the writer on it, queue the rest, then let it go."""
    with runtime.session() as session:
        tenant = runtime.tenant(session)
    with ThreadPoolExecutor(len(items)) as pool:
        first = pool.submit(batcher.submit, tenant=tenant, item=items[0], origin=ORIGIN)
        assert gate.entered.wait(timeout=30)
        rest = [
            pool.submit(batcher.submit, tenant=tenant, item=item, origin=ORIGIN)
            for item in items[1:]
        ]
        deadline = time.monotonic() + 30
        while batcher.waiting() < len(rest) and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.release.set()
        return [first, *rest]


def test_records_queued_behind_a_busy_writer_share_one_transaction(
    api_runtime: Runtime, batcher: RecordBatcher, gate: Gate
) -> None:
    items = [event("shop", f"e{i}", customer_id=f"c{i}") for i in range(10)]
    futures = _submit_all(api_runtime, batcher, gate, items)
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
    api_runtime: Runtime, batcher: RecordBatcher, gate: Gate
) -> None:
    gate.poison = "e3"
    items = [event("shop", f"e{i}", customer_id=f"c{i}") for i in range(6)]
    futures = _submit_all(api_runtime, batcher, gate, items)
    with pytest.raises(RuntimeError, match="cannot take e3"):
        futures[3].result(timeout=30)
    others = [f.result(timeout=30) for i, f in enumerate(futures) if i != 3]
    assert [r.record_id for r in others] == ["e0", "e1", "e2", "e4", "e5"]
    assert {r.status for r in others} == {"accepted"}
    # the whole batch of five failed once, then each of them ran alone
    assert gate.sizes == [1, 5, 1, 1, 1, 1, 1]


def test_a_rejected_record_is_quarantined_without_failing_the_others(
    api_runtime: Runtime, batcher: RecordBatcher, gate: Gate
) -> None:
    items = [event("shop", f"e{i}", customer_id=f"c{i}") for i in range(4)]
    items[2]["occurred_at"] = "not a time"
    futures = _submit_all(api_runtime, batcher, gate, items)
    results = [f.result(timeout=30) for f in futures]
    assert gate.sizes == [1, 3]
    assert [r.status for r in results] == ["accepted", "accepted", "quarantined", "accepted"]
    assert results[2].field == "occurred_at" and results[2].quarantine_id is not None


def test_closing_writes_what_was_submitted(api_runtime: Runtime, batcher: RecordBatcher) -> None:
    with api_runtime.session() as session:
        tenant = api_runtime.tenant(session)
    result = batcher.submit(
        tenant=tenant, item=event("shop", "e1", customer_id="c1"), origin=ORIGIN
    )
    batcher.close()
    assert result.status == "accepted"
    again = batcher.submit(tenant=tenant, item=event("shop", "e1", customer_id="c1"), origin=ORIGIN)
    assert again.outcome == "unchanged"  # a closed batcher starts its writer again when used
