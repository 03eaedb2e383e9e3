"""Concurrent redemptions and order replays on one member, each in its own connection and
transaction (threads and separate processes), on SQLite and PostgreSQL: no point is spent
twice, no order earns twice, and the ledger stays sound."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from loyalty_support import T0, make_program, paid, person
from siyu import loyalty
from siyu.store import Store
from siyu.tenants import TenantContext, create_tenant, get_tenant

SEED = 1000


def _seeded(store: Store, **settings: object) -> tuple[str, str]:
    """A committed tenant with a program and a member holding SEED points."""
    name = f"conc_{secrets.token_hex(5)}"
    with store.session() as session:
        tenant = create_tenant(session=session, name=name)
        session.commit()
        make_program(session, tenant, pending_days=0, expiry={"kind": "never"}, **settings)
        oneid = person(session, tenant, "c1")
        loyalty.enrol_member(session=session, tenant=tenant, program="main", oneid=oneid, now=T0)
        loyalty.adjust_points(
            session=session, tenant=tenant, program="main", oneid=oneid, points=SEED,
            reason="seed", actor="test", key="seed", now=T0,
        )  # fmt: skip
        session.commit()
    return name, oneid


def _in_own_transaction(store: Store, name: str, work: Callable[..., object]) -> object:
    with store.session() as session:
        tenant = get_tenant(session=session, name=name)
        try:
            result = work(session, tenant)
        except loyalty.InsufficientPointsError:
            session.rollback()
            return None
        session.commit()
        return result


def _check(store: Store, name: str, oneid: str, spent: int) -> None:
    with store.session() as session:
        tenant = get_tenant(session=session, name=name)
        view = loyalty.get_member(session=session, tenant=tenant, program="main", oneid=oneid)
        assert view.balance.spendable == SEED - spent >= 0
        assert (
            loyalty.verify_member(session=session, tenant=tenant, program="main", oneid=oneid) == []
        )
        history = loyalty.member_history(
            session=session, tenant=tenant, program="main", oneid=oneid, limit=10_000
        )
        assert -sum(e.points for e in history if e.kind == "spend") == spent


def test_concurrent_redemptions_in_threads_never_overspend(store: Store) -> None:
    name, oneid = _seeded(store)
    # 8 workers x 20 redemptions of 15 points = 2,400 asked of 1,000; every worker also
    # retries the same 5 shared keys, which must each be spent once.
    keys = [[f"w{w}-{i}" for i in range(20)] + [f"shared-{i}" for i in range(5)] for w in range(8)]
    start = threading.Barrier(8)

    def worker(mine: list[str]) -> list[tuple[str, bool]]:
        start.wait()
        done = []
        for key in mine:

            def redeem(session: object, tenant: TenantContext, key: str = key) -> object:
                return loyalty.redeem_points(
                    session=session, tenant=tenant, program="main",  # type: ignore[arg-type]
                    oneid=oneid, points=15, key=key, now=T0,
                )  # fmt: skip

            result = _in_own_transaction(store, name, redeem)
            if isinstance(result, loyalty.OpResult):
                done.append((key, result.replayed))
        return done

    with ThreadPoolExecutor(8) as pool:
        results = [r for rs in pool.map(worker, keys) for r in rs]
    fresh = [key for key, replayed in results if not replayed]
    assert len(fresh) == len(set(fresh))  # no key spent twice
    assert len(fresh) * 15 <= SEED
    assert len(fresh) == SEED // 15  # everything spendable was spent, nothing more
    _check(store, name, oneid, spent=len(fresh) * 15)


def test_a_replayed_order_earns_once_under_concurrency_and_enrols_once(store: Store) -> None:
    name = f"conc_{secrets.token_hex(5)}"
    with store.session() as session:
        tenant = create_tenant(session=session, name=name)
        session.commit()
        make_program(session, tenant, pending_days=0, auto_enrol_on_paid_order=True)
        oneid = person(session, tenant, "c1")
        session.commit()
    order = paid("o1", "100.00")
    start = threading.Barrier(6)

    def apply(_: int) -> object:
        start.wait()
        return _in_own_transaction(
            store, name,
            lambda s, t: loyalty.apply_order(session=s, tenant=t, order=order, oneid=oneid, now=T0),
        )  # fmt: skip

    with ThreadPoolExecutor(6) as pool:
        outcomes = [o[0] for o in pool.map(apply, range(6))]  # type: ignore[index]
    assert sum(o.enrolled for o in outcomes) == 1
    assert sum(o.earned for o in outcomes if not o.replayed) == 100
    with store.session() as session:
        tenant = get_tenant(session=session, name=name)
        view = loyalty.get_member(
            session=session, tenant=tenant, program="main", oneid=oneid, now=T0
        )
        assert view.balance.available == 100


_PROCESS = """
import json, sys
from siyu import loyalty
from siyu.store import open_store
from siyu.tenants import get_tenant
url, name, oneid, prefix = sys.argv[1:5]
store = open_store(url, migrate=False)
done = []
for i in range(25):
    for key in (f"{prefix}-{i}", f"shared-{i % 5}"):
        with store.session() as session:
            tenant = get_tenant(session=session, name=name)
            try:
                result = loyalty.redeem_points(
                    session=session, tenant=tenant, program="main", oneid=oneid,
                    points=13, key=key,
                )
            except loyalty.InsufficientPointsError:
                continue
            session.commit()
            done.append([key, result.replayed])
print(json.dumps(done))
"""


def test_concurrent_redemptions_in_processes_never_overspend(store: Store) -> None:
    name, oneid = _seeded(store)
    url = store.engine.url.render_as_string(hide_password=False)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, url, name, oneid, f"p{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.extend(json.loads(out))
    fresh = [key for key, replayed in results if not replayed]
    assert len(fresh) == len(set(fresh))
    # 4 x 25 own + 5 shared keys x 13 points asked of 1,000: all spendable is spent once
    assert len(fresh) == SEED // 13
    _check(store, name, oneid, spent=len(fresh) * 13)
