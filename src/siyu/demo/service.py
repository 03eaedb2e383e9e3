"""The demo brand end to end: generate canonical files, import them, issue an API key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from siyu import ingest, profiles, tenants
from siyu.demo.generator import DemoFiles, generate_demo
from siyu.tenants import TenantContext


@dataclass(frozen=True)
class DemoResult:
    files: DemoFiles
    report: ingest.IngestReport
    api_key: str
    sample: list[profiles.PersonSummary]
    seconds: float


def run_demo(
    *,
    session: Session,
    tenant: TenantContext,
    out_dir: Path,
    persons: int,
    seed: int,
    on_step: Callable[[str], None] = lambda _message: None,
) -> DemoResult:
    """Generate the demo brand into `out_dir`, import it and return what to look at."""
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    on_step(f"generating {persons} persons into {out_dir}")
    files = generate_demo(out_dir=out_dir, persons=persons, seed=seed)
    on_step("importing customers, orders, refunds and events")
    report = ingest.ingest_files(
        session=session,
        tenant=tenant,
        paths=[files.customers, files.orders, files.refunds, files.events],
    )
    key = tenants.create_api_key(session=session, tenant_id=tenant.id, name="demo")
    session.commit()
    sample = _sample(session, tenant)
    return DemoResult(files, report, key.key, sample, time.perf_counter() - started)


def _sample(session: Session, tenant: TenantContext) -> list[profiles.PersonSummary]:
    """A few people seen on several channels: the interesting ones to open."""
    found: list[profiles.PersonSummary] = []
    for query in ("王", "李", "张", "刘", "陈"):
        for person in profiles.search_persons(session=session, tenant=tenant, query=query):
            if len(person.sources) >= 3 and person.oneid not in {p.oneid for p in found}:
                found.append(person)
                break
    return found
