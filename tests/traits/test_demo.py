"""Traits of the demo brand on each engine agree with the independent reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from siyu import ingest
from siyu.demo import generate_demo
from siyu.demo.generator import DEFAULT_NOW
from siyu.tenants import TenantContext
from siyu.traits import list_traits, run_compute
from support import identity_map
from traits.reference import expected_traits
from traits.test_compute import COMPARED


def test_demo_brand_traits(
    session: Session, tenant: TenantContext, engine_name: str, tmp_path: Path
) -> None:
    files = generate_demo(out_dir=tmp_path / "data", persons=300, seed=11)
    paths = [files.customers, files.orders, files.refunds, files.events]
    report = ingest.ingest_files(session=session, tenant=tenant, paths=paths)
    assert report.quarantined == 0
    as_of = DEFAULT_NOW.date()
    run = run_compute(
        session=session,
        tenant=tenant,
        engine_dir=tmp_path / "engine",
        engine=engine_name,
        as_of=as_of,
    )
    records: list[dict[str, Any]] = [
        orjson.loads(line) for path in paths for line in path.read_bytes().splitlines()
    ]
    oneid_of = {
        tuple(label.replace(":", "/", 1).split("/", 2)): oneid
        for label, oneid in identity_map(session, tenant).items()
    }
    expected = expected_traits(
        records,
        oneid_of,
        zone=tenant.settings.timezone,
        as_of=as_of,
        rules=tenant.settings.traits,
    )
    stored = {
        t.oneid: {c: getattr(t, c) for c in COMPARED}
        for t in list_traits(session=session, tenant=tenant)
    }
    assert run.persons == len(stored) == len(expected)
    assert stored == {p: {c: row.get(c) for c in COMPARED} for p, row in expected.items()}
    stages = {row["lifecycle_stage"] for row in stored.values()}
    assert stages == {"prospect", "new", "active", "silent", "churned"}  # a varied brand
