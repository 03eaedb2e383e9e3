"""Trait use cases: batch compute (full or incremental) on an engine, reading traits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu import engine as eng
from siyu import identity, records
from siyu.store.base import utcnow
from siyu.tenants import TenantContext
from siyu.traits import compute, storage
from siyu.traits.models import PersonTraits, TraitRun
from siyu.traits.schemas import ComputeReport, PersonTraitsView

# Records written by a transaction that began before a run but committed after it carry
# an earlier `updated_at` than the run's watermark; looking back this far catches them.
WATERMARK_OVERLAP = timedelta(minutes=10)
_REF_SCHEMA = pa.schema(
    [("kind", pa.string()), ("source", pa.string()), ("record_id", pa.string())]
)
_ONEID_SCHEMA = pa.schema([("oneid", pa.string())])


def run_compute(
    *,
    session: Session,
    tenant: TenantContext,
    engine_dir: Path,
    engine: str = "duckdb",
    full: bool = False,
    as_of: date | None = None,
    spark_master: str = "local[2]",
    overlap: timedelta = WATERMARK_OVERLAP,
) -> ComputeReport:
    """Recompute traits on `engine` and write the changed rows back to the store."""
    started = utcnow()
    clock = time.perf_counter()
    day = as_of or started.astimezone(tenant.zone).date()
    last = _last_run(session, tenant)
    # The first run, or a changed time zone (local days move), must look at everyone.
    incremental = not full and last is not None and last.timezone == tenant.settings.timezone
    snapshot = eng.export_snapshot(
        session=session,
        tenant=tenant,
        engine_dir=engine_dir,
        extra={
            compute.PREVIOUS: eng.ExtraFact(
                compute.TRAITS_SCHEMA, storage.iter_previous(session=session, tenant=tenant)
            )
        },
    )
    changed_refs, changed_oneids = (
        _changes_since(session, tenant, last.watermark - overlap)
        if incremental and last is not None
        else (None, None)
    )
    exported = time.perf_counter()
    runner = eng.open_engine(engine, snapshot=snapshot, spark_master=spark_master)
    try:
        dirty = (
            compute.dirty_persons(runner, records=changed_refs, oneids=changed_oneids)
            if changed_refs is not None and changed_oneids is not None
            else None
        )
        # Materialised once: the diff, the deletions and the counts all read it.
        with compute.compute(
            runner, rules=tenant.settings.traits, as_of=day, dirty=dirty
        ).cache() as traits:
            changed, gone = compute.changes(runner, traits)
            changed_rows = runner.to_arrow(changed)
            gone_ids = runner.to_arrow(gone).column("oneid").to_pylist()
            persons = runner.count(traits)
            recomputed = (
                persons
                if dirty is None
                else runner.count(dirty.semi_join(compute.persons(runner), "oneid"))
            )
    finally:
        runner.close()
    computed = time.perf_counter()
    written = storage.write_changed(
        session=session, tenant=tenant, changed=changed_rows, now=started
    )
    deleted = storage.delete_persons(session=session, tenant=tenant, oneids=gone_ids)
    finished = time.perf_counter()
    run = TraitRun(
        tenant_id=tenant.id,
        engine=engine,
        mode="incremental" if dirty is not None else "full",
        as_of=day,
        timezone=tenant.settings.timezone,
        watermark=started,
        started_at=started,
        finished_at=utcnow(),
        persons=persons,
        recomputed=recomputed,
        written=written,
        deleted=deleted,
        seconds=round(finished - clock, 3),
    )
    session.add(run)
    session.commit()
    return ComputeReport(
        run_id=run.id,
        engine=engine,
        mode="incremental" if dirty is not None else "full",
        as_of=day,
        persons=persons,
        recomputed=recomputed,
        written=written,
        deleted=deleted,
        seconds=run.seconds,
        export_seconds=round(exported - clock, 3),
        engine_seconds=round(computed - exported, 3),
        write_seconds=round(finished - computed, 3),
    )


def _last_run(session: Session, tenant: TenantContext) -> TraitRun | None:
    return session.scalar(
        select(TraitRun)
        .where(TraitRun.tenant_id == tenant.id, TraitRun.finished_at.is_not(None))
        .order_by(TraitRun.id.desc())
        .limit(1)
    )


def _changes_since(
    session: Session, tenant: TenantContext, since: datetime
) -> tuple[pa.Table, pa.Table]:
    """Records changed and persons touched by identity changes since the last run."""
    changed = records.changed_since(session=session, tenant=tenant, since=since)
    refs = [(kind, source, rid) for kind, pairs in changed.items() for source, rid in pairs]
    oneids = identity.persons_changed_since(session=session, tenant=tenant, since=since)
    return (
        pa.Table.from_pylist(
            [{"kind": k, "source": s, "record_id": r} for k, s, r in refs], schema=_REF_SCHEMA
        ),
        pa.Table.from_pylist([{"oneid": o} for o in sorted(oneids)], schema=_ONEID_SCHEMA),
    )


def get_traits(*, session: Session, tenant: TenantContext, oneid: str) -> PersonTraitsView | None:
    """The stored traits of a live OneID (None before any compute or purchase)."""
    row = session.get(PersonTraits, (tenant.id, oneid))
    return None if row is None else PersonTraitsView.model_validate(row)


def traits_of_persons(
    *, session: Session, tenant: TenantContext, oneids: Sequence[str]
) -> dict[str, PersonTraitsView]:
    """The stored traits of many OneIDs (those without a row are left out)."""
    found: dict[str, PersonTraitsView] = {}
    wanted = sorted(set(oneids))
    for start in range(0, len(wanted), 1000):
        rows = session.scalars(
            select(PersonTraits).where(
                PersonTraits.tenant_id == tenant.id,
                PersonTraits.oneid.in_(wanted[start : start + 1000]),
            )
        )
        found.update((row.oneid, PersonTraitsView.model_validate(row)) for row in rows)
    return found


def list_traits(*, session: Session, tenant: TenantContext) -> list[PersonTraitsView]:
    """Every stored person's traits, by OneID."""
    rows = session.scalars(
        select(PersonTraits).where(PersonTraits.tenant_id == tenant.id).order_by(PersonTraits.oneid)
    )
    return [PersonTraitsView.model_validate(row) for row in rows]
