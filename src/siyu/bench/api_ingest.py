"""`siyu bench api`: the online path through the REST API, in process (FastAPI TestClient).

Customers are created first (one batch of 1,000 per request), then events are posted one per
request to `POST /api/v1/events` and orders in batches to `POST /api/v1/records`, each
request one transaction through `siyu.online.accept_records`. With `--audiences` the tenant
has online audiences (an event rule, a purchase rule, an attribute rule), so the cost of
keeping membership online shows as the difference between two runs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from siyu import audiences
from siyu.api import create_app
from siyu.bench.ingest import machine
from siyu.runtime import open_runtime
from siyu.tenants import create_api_key

# Online audiences the benchmark can give the tenant (first N are used).
AUDIENCES: list[tuple[str, dict[str, Any]]] = [
    ("clicked-7d", {"event": "message_clicked", "within_days": 7}),
    ("bought-2x", {"bought": {}, "min": 2}),
    ("shanghai", {"attribute": "city", "value": "上海"}),
]


def run_api_bench(
    *,
    persons: int,
    events: int,
    orders: int,
    batch: int,
    with_audiences: int,
    database_url: str | None,
    work_dir: Path | None,
) -> dict[str, Any]:
    """Time single-event and batched-order requests through the REST API."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-api-"))
    base.mkdir(parents=True, exist_ok=True)
    runtime = open_runtime(database_url=database_url or f"sqlite:///{base / 'api.db'}")
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        key = create_api_key(session=session, tenant_id=tenant.id, name="bench", role="admin").key
        for name, rule in AUDIENCES[:with_audiences]:
            audiences.create_audience(
                session=session,
                tenant=tenant,
                audience=audiences.AudienceIn(name=name, rule=rule),
                by="bench",
            )
        session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    result: dict[str, Any] = {
        "benchmark": "api",
        "persons": persons,
        "audiences": with_audiences,
    }
    with TestClient(create_app(runtime)) as client:
        for start in range(0, persons, 1000):
            chunk = [customer_record(i) for i in range(start, min(persons, start + 1000))]
            _post(client, "/api/v1/records", {"records": chunk}, headers)
        latencies = []
        started = time.perf_counter()
        for i in range(events):
            tick = time.perf_counter()
            _post(client, "/api/v1/events", _event(i, persons), headers)
            latencies.append(time.perf_counter() - tick)
        seconds = time.perf_counter() - started
        result["events"] = events
        result["events_per_second"] = round(events / seconds, 1)
        result["event_median_ms"] = round(statistics.median(latencies) * 1000, 2)
        result["event_p99_ms"] = round(p99(latencies) * 1000, 2)
        started = time.perf_counter()
        for start in range(0, orders, batch):
            chunk = [_order(i, persons) for i in range(start, min(orders, start + batch))]
            _post(client, "/api/v1/records", {"records": chunk}, headers)
        seconds = time.perf_counter() - started
        result["orders"] = orders
        result["order_batch"] = batch
        result["orders_per_second"] = round(orders / seconds, 1)
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        result["members"] = {
            a.name: a.size for a in audiences.list_audiences(session=session, tenant=tenant)
        }
    runtime.store.dispose()
    result["machine"] = machine()
    return result


def _post(client: TestClient, path: str, body: Any, headers: dict[str, str]) -> None:
    response = client.post(path, json=body, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")


def p99(values: list[float]) -> float:
    """The 99th percentile of `values` (the nearest rank at or below it)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def customer_record(i: int) -> dict[str, Any]:
    """Customer `c<i>` of the API benchmarks: a mini-program member with a phone."""
    return {
        "kind": "customer",
        "source": "miniapp",
        "external_id": f"c{i}",
        "identifiers": {"phone": f"139{i:08d}"},
        "city": "上海" if i % 3 == 0 else "杭州",
    }


def _event(i: int, persons: int) -> dict[str, Any]:
    return {
        "kind": "event",
        "source": "miniapp",
        "event_id": f"e{i}",
        "customer_ref": {"external_id": f"c{i % persons}"},
        "type": "message_clicked" if i % 2 else "page_view",
        "occurred_at": _now_text(),
    }


def _order(i: int, persons: int) -> dict[str, Any]:
    return {
        "kind": "order",
        "source": "miniapp",
        "order_id": f"o{i}",
        "customer_ref": {"external_id": f"c{(i * 7) % persons}"},
        "status": "paid",
        "created_at": _now_text(),
        "total_amount": "99.00",
        "paid_amount": "99.00",
    }


def _now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
