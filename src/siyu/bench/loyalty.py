"""The loyalty ledger under load: earn and redeem operations per second (one transaction
each, and in import-sized batches), and concurrent redemptions on one member."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu import ingest, loyalty
from siyu.bench.ingest import machine
from siyu.records import OrderIn
from siyu.store import Store, open_store
from siyu.tenants import TenantContext, create_tenant, get_tenant

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SETTINGS = loyalty.ProgramSettings.model_validate(
    {
        "pending_days": 0,
        "earn_rates": [{"points_per_yuan": "1"}, {"points_per_yuan": "2", "categories": ["tea"]}],
        "member_days": [{"multiplier": "2", "weekdays": [3]}],
        "tiers": {
            "tiers": [
                {"code": "base", "name": "Member", "threshold": 0},
                {"code": "gold", "name": "Gold", "threshold": 5000, "points_multiplier": "1.5"},
            ]
        },
    }
)


def _order(number: int, customer: str) -> OrderIn:
    paid = NOW - timedelta(days=30, minutes=number)
    return OrderIn.model_validate(
        {
            "source": "pos",
            "order_id": f"B{number}",
            "customer_ref": {"external_id": customer},
            "status": "paid",
            "created_at": paid,
            "paid_at": paid,
            "total_amount": Decimal(100 + number % 400),
            "paid_amount": Decimal(100 + number % 400),
            "items": [{"sku": "T1", "category": "tea", "amount": str(100 + number % 400)}],
        }
    )


def _members(store: Store, tenant: TenantContext, count: int) -> list[str]:
    """`count` persons through ingest, each enrolled."""
    with store.session() as session:
        customers = [
            {"kind": "customer", "source": "pos", "external_id": f"c{n}",
             "identifiers": {"member_no": f"M{n}"}}
            for n in range(count)
        ]  # fmt: skip
        oneids = []
        for start in range(0, count, ingest.MAX_API_BATCH):
            _, results = ingest.ingest_records(
                session=session, tenant=tenant, origin="bench",
                items=customers[start : start + ingest.MAX_API_BATCH],
            )  # fmt: skip
            oneids += [str(r.oneid) for r in results]
        for oneid in oneids:
            loyalty.enrol_member(
                session=session, tenant=tenant, program="main", oneid=oneid, now=NOW
            )
        session.commit()
    return oneids


def _timed(
    store: Store, tenant: TenantContext, ops: list[Callable[[Session], object]], batch: int
) -> dict[str, Any]:
    """Run `ops`, committing every `batch` of them; ops/s and per-transaction latency."""
    latencies = []
    started = time.perf_counter()
    with store.session() as session:
        for start in range(0, len(ops), batch):
            began = time.perf_counter()
            for op in ops[start : start + batch]:
                op(session)
            session.commit()
            latencies.append(time.perf_counter() - began)
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "ops": len(ops),
        "seconds": round(seconds, 2),
        "ops_per_second": round(len(ops) / seconds),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def _concurrency(store: Store, threads: int, attempts: int) -> dict[str, Any]:
    """Threads redeeming from one member in their own transactions: points spent must
    equal what the member had, with every key spent at most once."""
    name = f"bench_{time.time_ns()}"
    with store.session() as session:
        tenant = create_tenant(session=session, name=name)
        session.commit()
        loyalty.create_program(
            session=session, tenant=tenant, code="main", name="Main", settings=SETTINGS
        )
        session.commit()
    oneid = _members(store, tenant, 1)[0]
    seed = 10_000
    with store.session() as session:
        loyalty.adjust_points(
            session=session, tenant=tenant, program="main", oneid=oneid, points=seed,
            reason="bench seed", actor="bench", key="seed", now=NOW,
        )  # fmt: skip
        session.commit()
    barrier = threading.Barrier(threads)

    def worker(number: int) -> list[str]:
        barrier.wait()
        spent = []
        for attempt in range(attempts):
            key = f"t{number}-{attempt}" if attempt % 4 else f"shared-{attempt}"
            with store.session() as session:
                tenant_ = get_tenant(session=session, name=name)
                try:
                    result = loyalty.redeem_points(
                        session=session, tenant=tenant_, program="main", oneid=oneid,
                        points=37, key=key, now=NOW,
                    )  # fmt: skip
                except loyalty.InsufficientPointsError:
                    continue
                session.commit()
                if not result.replayed:
                    spent.append(key)
        return spent

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        keys = [k for ks in pool.map(worker, range(threads)) for k in ks]
    seconds = time.perf_counter() - started
    with store.session() as session:
        tenant = get_tenant(session=session, name=name)
        left = loyalty.get_member(
            session=session, tenant=tenant, program="main", oneid=oneid, now=NOW
        ).balance.spendable
        sound = not loyalty.verify_member(
            session=session, tenant=tenant, program="main", oneid=oneid
        )
    return {
        "threads": threads,
        "attempts": threads * attempts,
        "redeemed": len(keys),
        "keys_spent_twice": len(keys) - len(set(keys)),
        "points_overspent": max(len(keys) * 37 - seed, 0),
        "balance_matches_ledger": left == seed - len(keys) * 37 and sound,
        "redemptions_per_second": round(threads * attempts / seconds),
    }


def run_loyalty_bench(
    *, operations: int, members: int, batch: int, threads: int, database_url: str | None,
    work_dir: Path | None,
) -> dict[str, Any]:  # fmt: skip
    """Earn and redeem throughput, single-operation and batched, and the concurrency run."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-loyalty-"))
    base.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{base / 'loyalty.db'}"
    store = open_store(url)
    with store.session() as session:
        tenant = create_tenant(session=session, name=f"bench_{time.time_ns()}")
        session.commit()
        loyalty.create_program(
            session=session, tenant=tenant, code="main", name="Main", settings=SETTINGS
        )
        session.commit()
    oneids = _members(store, tenant, members)

    def earn(number: int) -> Callable[[Session], object]:
        oneid = oneids[number % len(oneids)]
        order = _order(number, f"c{number % len(oneids)}")
        return lambda s: loyalty.apply_order(
            session=s, tenant=tenant, order=order, oneid=oneid, now=NOW
        )

    def redeem(number: int) -> Callable[[Session], object]:
        oneid = oneids[number % len(oneids)]
        return lambda s: loyalty.redeem_points(
            session=s, tenant=tenant, program="main", oneid=oneid, points=10,
            key=f"r{number}", now=NOW,
        )  # fmt: skip

    half = operations // 2
    results: dict[str, Any] = {
        "benchmark": "loyalty",
        "store": url.split(":")[0],
        "members": members,
        "earn_single": _timed(store, tenant, [earn(n) for n in range(half)], 1),
        "redeem_single": _timed(store, tenant, [redeem(n) for n in range(half)], 1),
    }
    mixed = [earn(n) if n % 2 else redeem(n) for n in range(half, half + operations)]
    results["mixed_batched"] = _timed(store, tenant, mixed, batch)
    results["batch_size"] = batch
    results["concurrency"] = _concurrency(store, threads, attempts=60)
    store.dispose()
    single = results["earn_single"]["ops"] + results["redeem_single"]["ops"]
    single_seconds = results["earn_single"]["seconds"] + results["redeem_single"]["seconds"]
    results["ops_per_second_one_per_transaction"] = round(single / single_seconds)
    results["ops_per_second_batched"] = results["mixed_batched"]["ops_per_second"]
    results["target"] = ">= 3,000 earn/redeem operations/s embedded; zero double spend"
    # Other work on the machine shows in the means: keep the load next to the figures.
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    results["machine"] = machine()
    return results
