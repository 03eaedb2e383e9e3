"""Derived facts: kept once per snapshot (DuckDB's own file, Parquet on Spark) and seen by
later engines over the same snapshot; scratch results read back."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from siyu.engine import NATIVE_FILE, Snapshot, open_engine, write_fact

SCHEMA = pa.schema([("person", pa.int64()), ("amount", pa.int64())])


def test_materialise_and_scratch(engine_name: str, tmp_path: Path) -> None:
    snapshot = Snapshot(root=tmp_path / "snap", zone="Asia/Shanghai")
    write_fact(snapshot, "base", SCHEMA, [{"person": [1, 2, 2, 3], "amount": [5, 1, 2, 7]}])
    first = open_engine(engine_name, snapshot=snapshot)
    try:
        base = first.fact("base")
        assert not first.has_fact("totals")
        totals = first.materialise(
            "totals", base.group_by("person").aggregate(total=base.amount.sum())
        )
        assert first.has_fact("totals")
        big = first.scratch(totals.filter(totals.total > 3))
        assert sorted(first.to_arrow(big).column("person").to_pylist()) == [1, 3]
    finally:
        first.close()
    # DuckDB keeps derived facts in its own file; Spark as Parquet like every fact.
    assert (snapshot.root / NATIVE_FILE).exists() == (engine_name == "duckdb")
    assert snapshot.path("totals").exists() == (engine_name == "spark")
    later = open_engine(engine_name, snapshot=snapshot)
    try:
        assert later.has_fact("totals") and not later.has_fact("nope")
        rows = later.to_arrow(later.fact("totals")).to_pylist()
        assert sorted((r["person"], r["total"]) for r in rows) == [(1, 5), (2, 3), (3, 7)]
    finally:
        later.close()
