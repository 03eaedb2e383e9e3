"""`siyu bench audiences`: count a 4-condition audience (one behavioural) over N persons.

Synthetic facts go straight into a rules snapshot (no store); the per-person tables are
derived once (as every refresh/preview snapshot does), then the count is timed: a warm-up
run, then the median of several runs, each compiling the rule afresh.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from siyu import engine as eng
from siyu import rules
from siyu.bench.ingest import machine
from siyu.bench.synthetic_facts import as_of, default_now, write_facts
from siyu.tenants import TenantSettings

TARGET_SECONDS = 1.0
# The benchmark's audience: three profile conditions and one behavioural condition.
FOUR_CONDITIONS: dict[str, Any] = {
    "all": [
        {"trait": "lifecycle_stage", "op": "in", "value": ["active", "silent"]},
        {"trait": "net_spend", "op": ">=", "value": 300},
        {"attribute": "gender", "value": "f"},
        {"bought": {"category": "护肤"}, "within_days": 90, "min": 2},
    ]
}
# Also measured: OR / NOT over tags, identifiers and events (left-joined flags, not semi-joins).
MIXED: dict[str, Any] = {
    "all": [
        {"any": [{"tag": "VIP"}, {"trait": "rfm_m", "op": ">=", "value": 4}]},
        {"not": {"has_identifier": "wechat_unionid"}},
        {
            "any": [
                {"event": "message_clicked", "within_days": 7},
                {"attribute": "city", "value": "上海"},
            ]
        },
        {"bought": {"category": "护肤"}, "within_days": 90, "min": 2},
    ]
}


def run_audiences_bench(
    *,
    persons: int,
    runs: int,
    engine: str,
    work_dir: Path | None,
    reuse: bool = False,
    seed: int = 7,
) -> dict[str, Any]:
    """Generate, derive, then time the counts; returns the figures."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-audiences-"))
    root = base / "snapshot"
    snapshot = eng.Snapshot(root=root, zone="Asia/Shanghai")
    now = default_now()
    clock = time.perf_counter()
    marker = base / f"generated-{persons}-{seed}.json"
    if reuse and marker.exists():  # the same facts as last time: generation is not the point
        rows = orjson.loads(marker.read_bytes())
        generated = None
    else:
        shutil.rmtree(root, ignore_errors=True)
        rows = write_facts(snapshot, persons=persons, seed=seed, now=now)
        generated = round(time.perf_counter() - clock, 2)
        marker.write_bytes(orjson.dumps(rows))
    runner = eng.open_engine(engine, snapshot=snapshot)
    try:
        clock = time.perf_counter()
        rules.derive_facts(runner, settings=TenantSettings())
        derived = time.perf_counter() - clock
        facts = rules.RuleFacts(runner)
        day = as_of(now)
        four = _timed(facts, FOUR_CONDITIONS, day, runs)
        mixed = _timed(facts, MIXED, day, runs)
    finally:
        runner.close()
    if work_dir is None:
        shutil.rmtree(base, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "benchmark": "audiences",
        "engine": engine,
        "persons": persons,
        "orders": rows["orders"],
        "order_lines": rows["order_items"],
        "events": rows["events"],
        "generate_seconds": generated,
        "derive_seconds": round(derived, 2),
        "count_matches": four["count"],
        "count_seconds_median": four["median"],
        "count_seconds_runs": four["runs"],
        "target_seconds": TARGET_SECONDS,
        "meets_target": four["median"] <= TARGET_SECONDS,
        "mixed_count_matches": mixed["count"],
        "mixed_seconds_median": mixed["median"],
        "peak_rss_mb": round(peak / 2**20),
        # Other work on the machine slows every figure; this says how busy it was.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "machine": machine(),
    }


def _timed(facts: rules.RuleFacts, data: dict[str, Any], day: Any, runs: int) -> dict[str, Any]:
    rule = rules.parse_rule(data)
    count = facts.engine.count(rules.matching(rule, facts, as_of=day))  # warm-up
    seconds = []
    for _ in range(runs):
        clock = time.perf_counter()
        found = facts.engine.count(rules.matching(rule, facts, as_of=day))
        seconds.append(round(time.perf_counter() - clock, 4))
        assert found == count
    return {"count": count, "median": round(statistics.median(seconds), 4), "runs": seconds}
