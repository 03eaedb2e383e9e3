"""Two workers dispatching at once, each in its own connection and transaction: a
person's frequency cap holds across them (PostgreSQL; SQLite has one writer)."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from journey_support import NOON, Recorder, person
from siyu import channels
from siyu.profiles import ContactCard
from siyu.store import Store
from siyu.tenants import create_tenant

SMS = {"zh-CN": {"template": "SMS_1", "params": {}}}


class Meeting(Recorder):
    """Addresses a message only once both workers got that far (or after a short wait):
    without a per-person lock both pass the cap check before either records its send."""

    def __init__(self) -> None:
        super().__init__()
        self.both = threading.Barrier(2, timeout=3)

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        # Broken: the other worker is waiting for our person's lock, so go on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            self.both.wait()
        return super().address(card, content)


@pytest.mark.postgres
def test_two_workers_keep_one_persons_cap(postgres_store: Store) -> None:
    with postgres_store.session() as session:
        tenant = create_tenant(session=session, name=f"cap_{secrets.token_hex(5)}")
        session.commit()
        oneid = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
        policy = channels.TouchPolicy(
            caps=[channels.Cap(channel="sms", limit=1, per=timedelta(days=7))]
        )
        channels.set_policy(session=session, tenant=tenant, policy=policy)
        channels.enqueue_messages(
            session=session,
            tenant=tenant,
            messages=[
                channels.NewMessage(
                    key=f"{tenant.id}-m{i}",
                    oneid=oneid,
                    channel="sms",
                    category="marketing",
                    content=SMS,
                    not_before=NOON,
                )  # fmt: skip
                for i in range(2)
            ],
        )
        session.commit()
    recorder = Meeting()
    adapters = channels.Adapters({"sms": recorder})

    def worker(name: str) -> int:
        with postgres_store.session() as session:
            report = channels.dispatch(
                session=session, adapters=adapters, worker=name, now=NOON, limit=1
            )
            session.commit()
            return report.claimed

    with ThreadPoolExecutor(2) as pool:
        claimed: Sequence[int] = list(pool.map(worker, ["w1", "w2"]))
    assert sum(claimed) == 2  # each worker took one of the two messages
    assert len(recorder.sent) == 1
    with postgres_store.session() as session:
        found = channels.messages_by_key(
            session=session, tenant=tenant, keys=[f"{tenant.id}-m{i}" for i in range(2)]
        )
    assert sorted(m.status for m in found.values()) == ["sent", "suppressed"]
