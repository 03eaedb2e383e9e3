"""Batch traits over the demo brand: a full run, then an incremental run after new orders."""

from __future__ import annotations

import resource
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from siyu import ingest, traits
from siyu.bench.ingest import machine
from siyu.demo.generator import DEFAULT_NOW, generate_demo
from siyu.store import open_store
from siyu.tenants import get_tenant


def run_compute_bench(
    *, persons: int, engine: str, work_dir: Path | None, database_url: str | None
) -> dict[str, Any]:
    """Import `persons` demo persons, time `siyu compute --full`, then an incremental run."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-compute-"))
    base.mkdir(parents=True, exist_ok=True)
    files = generate_demo(out_dir=base / "data", persons=persons, events_per_person=0)
    url = database_url or f"sqlite:///{base / 'bench.db'}"
    store = open_store(url)
    as_of: date = DEFAULT_NOW.date()
    with store.session() as session:
        tenant = get_tenant(session=session, name="default")
        started = time.perf_counter()
        ingest.ingest_files(
            session=session, tenant=tenant, paths=[files.customers, files.orders, files.refunds]
        )
        imported = time.perf_counter() - started
        run = partial(
            traits.run_compute,
            session=session,
            tenant=tenant,
            engine_dir=base / "engine",
            engine=engine,
            as_of=as_of,
            # The benchmark imports just before each run: no overlap, or it would recompute
            # everyone imported in the last minutes (what the default overlap is for).
            overlap=timedelta(0),
        )
        full = run(full=True)
        # A second import of 1% more persons' orders makes the incremental run's work.
        extra = generate_demo(
            out_dir=base / "extra", persons=max(1, persons // 100), seed=99, events_per_person=0
        )
        ingest.ingest_files(session=session, tenant=tenant, paths=[extra.customers, extra.orders])
        incremental = run()
    store.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "benchmark": "compute",
        "engine": engine,
        "store": url.split(":")[0],
        "persons_generated": persons,
        "orders": files.counts.get("order", 0),
        "import_seconds": round(imported, 2),
        "full_persons": full.persons,
        "full_seconds": full.seconds,
        "full_export_seconds": full.export_seconds,
        "full_engine_seconds": full.engine_seconds,
        "full_write_seconds": full.write_seconds,
        "incremental_recomputed": incremental.recomputed,
        "incremental_written": incremental.written,
        "incremental_seconds": incremental.seconds,
        "incremental_engine_seconds": incremental.engine_seconds,
        "peak_rss_mb": round(peak / 2**20),
        "machine": machine(),
    }
