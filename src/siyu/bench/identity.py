"""OneID batch rebuild: the component step, guard replay and naming over a synthetic link
graph of N records (Parquet, generated in a child process so it does not count towards peak
memory), then the full rebuild with store write-back on a demo-sized store.

`rebuild_seconds` is the whole engine work of a rebuild (components + replay + naming, what
the ≤ 15 s target covers); reading the store into the snapshot and writing the changes back
are not in it (the demo rebuild reports those)."""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from siyu import identity, ingest
from siyu.bench.identity_graph import write_link_graph
from siyu.bench.ingest import machine
from siyu.demo.generator import generate_demo
from siyu.engine import Snapshot, open_engine
from siyu.identity.batch import default_method, name_partition, partition
from siyu.identity.oneid import new_oneid
from siyu.store import open_store
from siyu.tenants import IdentityRules, get_tenant, update_settings


def run_identity_bench(
    *,
    records: int,
    engine: str,
    method: str | None,
    demo_persons: int,
    work_dir: Path | None,
    spark_master: str = "local[2]",
) -> dict[str, Any]:
    """Time the rebuild's engine work at `records` records, then a demo store's full rebuild."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-identity-"))
    base.mkdir(parents=True, exist_ok=True)
    method = method or default_method(engine)
    graph = base / f"graph-{records}"
    started = time.perf_counter()
    shape = _in_child(graph, records)
    generated = time.perf_counter() - started
    result: dict[str, Any] = {
        "benchmark": "identity",
        "engine": engine,
        "method": method,
        **shape,
        "generate_seconds": round(generated, 2),
        **_components(graph, engine, method, spark_master),
    }
    if demo_persons > 0:
        result.update(_demo_rebuild(base, demo_persons, engine, method, spark_master))
    result["machine"] = machine()
    return result


def _in_child(graph: Path, records: int) -> dict[str, Any]:
    """Generate the graph in a child process: its memory is not this process's peak."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        shape: dict[str, Any] = pool.apply(_generate, (graph, records))
    return shape


def _generate(graph: Path, records: int) -> dict[str, Any]:
    return write_link_graph(graph, records=records)


def _components(graph: Path, engine: str, method: str, spark_master: str) -> dict[str, Any]:
    runner = open_engine(
        engine, snapshot=Snapshot(root=graph, zone="UTC"), spark_master=spark_master
    )
    try:
        cpu, wall = _cpu(), time.perf_counter()
        found = partition(runner, rules=IdentityRules(), constraints=[], method=method)
        step_cpu, step_wall = _cpu() - cpu, time.perf_counter() - wall
        naming = name_partition(runner, found, new_oneid=new_oneid)
        total_cpu, total_wall = _cpu() - cpu, time.perf_counter() - wall
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    finally:
        runner.close()
    c = found.components
    return {
        "components_seconds": round(found.seconds["components"], 2),
        "replay_seconds": round(found.seconds["replay"], 2),
        "components_and_replay_seconds": round(step_wall, 2),
        "components_and_replay_cpu_seconds": round(step_cpu, 2),
        "naming_seconds": round(total_wall - step_wall, 2),
        "rebuild_seconds": round(total_wall, 2),
        "rebuild_cpu_seconds": round(total_cpu, 2),
        "peak_rss_mb": round(peak / 2**20),  # of the whole rebuild, naming included
        "strong_components": c.strong_components,
        "full_components": c.full_components,
        "replayed_components": c.replay_components,
        "replayed_records": c.replay_records,
        "blocked": len(found.replayed.blocked),
        "persons": naming.persons,
        "naming_changed_persons": naming.persons - naming.unchanged,
    }


def _demo_rebuild(
    base: Path, persons: int, engine: str, method: str, spark_master: str
) -> dict[str, Any]:
    """A demo store's full rebuild (nothing to change), then one after a stricter guard
    (two customer records per person at most: multi-channel persons split)."""
    files = generate_demo(out_dir=base / "demo", persons=persons, seed=5)
    store = open_store(f"sqlite:///{base / f'demo-{os.getpid()}.db'}")
    try:
        with store.session() as session:
            tenant = get_tenant(session=session, name="default")
            ingest.ingest_files(
                session=session,
                tenant=tenant,
                paths=[files.customers, files.orders, files.refunds, files.events],
            )
            options: dict[str, Any] = {
                "engine_dir": base / "engine",
                "engine": engine,
                "method": method,
                "spark_master": spark_master,
            }
            same = identity.rebuild_identity(session=session, tenant=tenant, **options)
            stricter = tenant.settings.model_copy(
                update={"identity": IdentityRules(max_customer_records=2)}
            )
            update_settings(session=session, tenant_id=tenant.id, settings=stricter)
            session.commit()
            tenant = get_tenant(session=session, name="default")
            changed = identity.rebuild_identity(session=session, tenant=tenant, **options)
    finally:
        store.dispose()
    return {
        "demo_records": same.records,
        "demo_persons": same.persons,
        "demo_rebuild_seconds": same.seconds,
        "demo_rebuild_export_seconds": same.export_seconds,
        "demo_rebuild_write_seconds": same.write_seconds,
        "demo_stricter_rebuild_seconds": changed.seconds,
        "demo_stricter_write_seconds": changed.write_seconds,
        "demo_stricter_replayed_records": changed.replayed_records,
        "demo_stricter_created": changed.created,
        "demo_stricter_moved_records": changed.moved_records,
    }


def _cpu() -> float:
    # With the replay's forked workers (reaped, so counted in the children's times).
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
