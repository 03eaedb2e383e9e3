"""Batch rebuild of OneID: recompute every person in the columnar engine, write back changes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.orm import Session

from siyu import engine as eng
from siyu.identity import state
from siyu.identity.batch import default_method, name_partition, partition
from siyu.identity.batch.facts import StagedLinks, rebuild_facts
from siyu.identity.batch.naming import diff_store
from siyu.identity.batch.writeback import write_naming
from siyu.identity.models import IdentityRebuild
from siyu.identity.oneid import new_oneid
from siyu.identity.schemas import RebuildReport
from siyu.store.base import utcnow
from siyu.tenants import TenantContext


def rebuild_identity(
    *,
    session: Session,
    tenant: TenantContext,
    engine_dir: Path,
    engine: str = "duckdb",
    method: str | None = None,
    spark_master: str = "local[2]",
    spark_conf: Mapping[str, str] | None = None,
    dry_run: bool = False,
    staged: StagedLinks | None = None,
) -> RebuildReport:
    """Recompute every person from all links and write the differences to the store
    (`staged`: the pending links a bulk import kept as facts, see `open_staging`)."""
    started = utcnow()
    clock = time.perf_counter()
    method = method or default_method(engine)
    # The run holds the identity write lock throughout: records resolved online meanwhile
    # would be missing from the snapshot and then overwritten by its result.
    state.lock_tenant(session, tenant.id)
    rules = tenant.settings.identity
    constraints = state.all_constraints(session, tenant.id)
    approved = state.approved_seqs(session, tenant.id)
    snapshot = eng.export_snapshot(
        session=session,
        tenant=tenant,
        engine_dir=engine_dir,
        extra=rebuild_facts(session=session, tenant=tenant, staged=staged),
        facts=(),
        private=True,
    )
    exported = time.perf_counter()
    try:
        runner = eng.open_engine(
            engine, snapshot=snapshot, spark_master=spark_master, spark_conf=spark_conf
        )
        try:
            result = partition(
                runner, rules=rules, constraints=constraints, method=method, pinned=approved
            )
            named = time.perf_counter()
            naming = name_partition(runner, result, new_oneid=new_oneid)
            diff_store(runner, result.groups, naming, rules=rules, blocked=result.replayed.blocked)
            computed = time.perf_counter()
        finally:
            runner.close()
    finally:
        eng.discard_snapshot(snapshot)
    run: IdentityRebuild | None = None
    if not dry_run:
        run = IdentityRebuild(tenant_id=tenant.id, engine=engine, method=method, started_at=started)
        session.add(run)
        session.flush()
        write_naming(session, tenant_id=tenant.id, naming=naming, run_id=run.id, now=started)
    finished = time.perf_counter()
    components = result.components
    moved = naming.link_moves.num_rows if naming.link_moves is not None else 0
    report = RebuildReport(
        run_id=run.id if run else None,
        engine=engine,
        method=method,
        dry_run=dry_run,
        records=components.records,
        persons=naming.persons,
        strong_components=components.strong_components,
        full_components=components.full_components,
        replayed_components=components.replay_components,
        replayed_records=components.replay_records,
        created=len(naming.fresh),
        merged=len(naming.retired),
        split=naming.split,
        unchanged=naming.unchanged,
        moved_records=moved,
        blocked=len(naming.blocked),
        seconds=round(finished - clock, 3),
        export_seconds=round(exported - clock, 3),
        components_seconds=round(result.seconds["components"], 3),
        replay_seconds=round(result.seconds["replay"], 3),
        naming_seconds=round(computed - named, 3),
        write_seconds=round(finished - computed, 3),
    )
    if run is not None:
        for name in ("records", "persons", "created", "merged", "split", "unchanged"):
            setattr(run, name, getattr(report, name))
        run.moved_records, run.blocked = report.moved_records, report.blocked
        run.replayed_records, run.seconds = report.replayed_records, report.seconds
        run.finished_at = utcnow()
        session.commit()
    return report
