"""Bulk import with identity resolution: 1M orders + 300K customer records by default."""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil

from siyu import ingest
from siyu.demo.generator import DemoFiles, generate_demo
from siyu.store import open_store
from siyu.tenants import get_tenant

_SELF = resource.RUSAGE_SELF


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _demo_files(folder: Path, persons: int, orders_per_person: float) -> DemoFiles:
    """The demo files, generated once per kept work dir (they are deterministic)."""
    done = folder / "counts.json"
    if done.exists():
        counts = orjson.loads(done.read_bytes())
        names = ("customers", "orders", "refunds", "events")
        paths = {name: folder / f"{name}.jsonl" for name in names}
        return DemoFiles(**paths, truth=folder / "truth.csv", counts=counts)
    files = generate_demo(
        out_dir=folder, persons=persons, orders_per_person=orders_per_person, events_per_person=0
    )
    done.write_bytes(orjson.dumps(files.counts))
    return files


def run_ingest_bench(
    *,
    persons: int,
    orders_per_person: float,
    database_url: str | None,
    work_dir: Path | None,
    batch_size: int | None,
    bulk: bool | None = None,
) -> dict[str, Any]:
    """Generate the demo brand at scale, then time importing its customers and orders."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files = _demo_files(base / f"data-{persons}-{orders_per_person}", persons, orders_per_person)
    generated = time.perf_counter() - started
    database = base / "bench.db"
    database.unlink(missing_ok=True)  # a kept work dir: import into an empty store again
    url = database_url or f"sqlite:///{database}"
    store = open_store(url)
    rss_before = psutil.Process().memory_info().rss
    with store.session() as session:
        tenant = get_tenant(session=session, name="default")
        started = time.perf_counter()
        cpu_before = resource.getrusage(_SELF)
        report = ingest.ingest_files(
            session=session,
            tenant=tenant,
            paths=[files.customers, files.orders],
            batch_size=batch_size,
            bulk=bulk,
        )
        seconds = time.perf_counter() - started
    store.dispose()
    own, workers = (resource.getrusage(who) for who in (_SELF, resource.RUSAGE_CHILDREN))
    peak = own.ru_maxrss * 1024
    records = report.accepted + report.quarantined
    return {
        "benchmark": "ingest",
        "store": url.split(":")[0],
        "customer_records": files.counts.get("customer", 0),
        "orders": files.counts.get("order", 0),
        "records": records,
        "accepted": report.accepted,
        "quarantined": report.quarantined,
        "persons": report.new_persons,
        "merges": report.merges,
        "mode": report.mode,
        "batch_size": batch_size or ingest.batch_size_for(bulk=report.mode == "bulk"),
        "seconds": round(seconds, 2),
        "identity_seconds": report.identity_seconds,
        # CPU time does not depend on what else runs on a shared machine: with the worker,
        # a quiet 2-core machine needs about max(main, worker) + the rebuild.
        "cpu_seconds_main": round(
            own.ru_utime + own.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime, 1
        ),
        "cpu_seconds_worker": round(workers.ru_utime + workers.ru_stime, 1),
        "peak_rss_worker_mb": round(workers.ru_maxrss / 1024),
        "records_per_second": round(records / seconds),
        "peak_rss_mb": round(peak / 2**20),
        "rss_before_import_mb": round(rss_before / 2**20),
        "generate_seconds": round(generated, 2),
        "target": "1M orders + 300K customer records in <= 30 s",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }
