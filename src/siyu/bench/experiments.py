"""Experiment import and report: a generated per-unit CSV (or a given one) through the store."""

from __future__ import annotations

import csv
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from siyu import experiments
from siyu.bench.ingest import machine
from siyu.store import open_store
from siyu.tenants import get_tenant

ARMS = {"control": (0.10, 0.010), "A": (0.14, 0.014), "B": (0.12, 0.012)}


def write_units(path: Path, units: int, seed: int = 7) -> None:
    """A Hillstrom-shaped file: arm, visit, conversion, spend for `units` units."""
    rng = random.Random(seed)
    names = list(ARMS)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["segment", "visit", "conversion", "spend"])
        for _ in range(units):
            arm = rng.choice(names)
            visit_rate, conversion_rate = ARMS[arm]
            converted = rng.random() < conversion_rate
            spend = round(rng.gammavariate(2.0, 60.0), 2) if converted else 0
            writer.writerow(
                [arm, int(converted or rng.random() < visit_rate), int(converted), spend]
            )


def run_experiments_bench(
    *, units: int, file: Path | None, control: str, database_url: str | None, work_dir: Path | None
) -> dict[str, Any]:
    """Time importing a per-unit CSV and reporting it; peak memory of the process."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    if file is None:
        file = base / f"units-{units}.csv"
        write_units(file, units)
        control = "control"
    url = database_url or f"sqlite:///{base / 'bench.db'}"
    store = open_store(url)
    rss_before = psutil.Process().memory_info().rss
    with store.session() as session:
        tenant = get_tenant(session=session, name="default")
        started = time.perf_counter()
        imported = experiments.import_csv(
            session=session,
            tenant=tenant,
            path=file,
            name="bench",
            arm_column="segment",
            control=control,
            metrics=experiments.parse_metrics("visit,conversion,spend"),
            replace=True,
        )
        session.commit()
        import_seconds = time.perf_counter() - started
        started = time.perf_counter()
        experiments.experiment_report(
            session=session, tenant=tenant, name="bench", options=experiments.ReportOptions()
        )
        report_seconds = time.perf_counter() - started
    store.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "benchmark": "experiments",
        "store": url.split(":")[0],
        "file": str(file),
        "units": imported.units,
        "metric_values": imported.units * 3,
        "import_seconds": round(import_seconds, 2),
        "units_per_second": round(imported.units / import_seconds),
        "report_seconds": round(report_seconds, 2),
        "peak_rss_mb": round(peak / 2**20),
        "rss_before_import_mb": round(rss_before / 2**20),
        "machine": machine(),
    }
