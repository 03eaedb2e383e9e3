"""The demo brand end to end: generate canonical files, import them, issue an API key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from siyu import ingest, profiles, tenants, traits, users
from siyu.demo.generator import DemoFiles, generate_demo
from siyu.demo.people import guides_of_store
from siyu.tenants import TenantContext


@dataclass(frozen=True)
class DemoResult:
    files: DemoFiles
    report: ingest.IngestReport
    api_key: str
    sample: list[profiles.PersonSummary]
    seconds: float
    console_users: list[tuple[str, str, str]]  # (username, role, password) to sign in with


def run_demo(
    *,
    session: Session,
    tenant: TenantContext,
    out_dir: Path,
    persons: int,
    seed: int,
    engine_dir: Path | None = None,
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
    console_users = _console_users(session, tenant)
    session.commit()
    if engine_dir is not None:
        # The console's overview reads traits: compute them once so it opens with numbers.
        on_step("computing traits (lifecycle stages, RFM) in the engine")
        traits.run_compute(session=session, tenant=tenant, engine_dir=engine_dir, full=True)
    sample = _sample(session, tenant)
    return DemoResult(files, report, key.key, sample, time.perf_counter() - started, console_users)


def _console_users(session: Session, tenant: TenantContext) -> list[tuple[str, str, str]]:
    """An admin, an operator and one guide (导购) with fresh passwords, printed once."""
    wanted = [
        ("admin", "admin", None, "管理员"),
        ("operator", "operator", None, "会员运营"),
        ("guide", "guide", guides_of_store(0)[0], "导购"),
    ]
    existing = {user.username for user in users.list_users(session=session, tenant=tenant)}
    created = []
    for username, role, staff_id, name in wanted:
        password = secrets.token_urlsafe(9)
        if username in existing:
            users.update_user(session=session, tenant=tenant, username=username, password=password)
        else:
            users.create_user(
                session=session,
                tenant=tenant,
                username=username,
                password=password,
                role=role,
                display_name=name,
                staff_id=staff_id,
            )
        created.append((username, role, password))
    return created


def _sample(session: Session, tenant: TenantContext) -> list[profiles.PersonSummary]:
    """A few people seen on the most channels: the interesting ones to open."""
    found: dict[str, profiles.PersonSummary] = {}
    for query in ("王", "李", "张", "刘", "陈"):
        for person in profiles.search_persons(session=session, tenant=tenant, query=query):
            found.setdefault(person.oneid, person)
    ranked = sorted(found.values(), key=lambda person: -len(person.sources))
    return ranked[:5]
