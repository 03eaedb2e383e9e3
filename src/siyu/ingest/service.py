"""Import use cases: files and API batches in, bad records to quarantine, never lost."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import and_, or_, select, tuple_, update
from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.ingest import formats
from siyu.ingest.models import ImportRun, QuarantinedRecord
from siyu.ingest.pipeline import (
    JudgedBatch,
    collector_paused,
    judged_batches,
    judged_in_worker,
)
from siyu.ingest.readers import Input, RawRecord, open_inputs, open_records
from siyu.ingest.schemas import ImportRunView, IngestReport, QuarantineEntry, RecordResult
from siyu.ingest.validate import Judged, Rejection, head_of, judge
from siyu.store import refresh_statistics
from siyu.store.base import utcnow
from siyu.tenants import TenantContext

Progress = Callable[[str, int, int], None]  # (file, bytes done, bytes total)
MAX_API_BATCH = 1000


def ingest_files(
    *,
    session: Session,
    tenant: TenantContext,
    paths: Sequence[Path],
    kind: str | None = None,
    source: str | None = None,
    file_format: str | None = None,
    mapping: Path | None = None,
    params: Mapping[str, str] | None = None,
    batch_size: int | None = None,
    on_progress: Progress | None = None,
    bulk: bool | None = None,
    engine_dir: Path | None = None,
    worker: bool | None = None,
    origin: str | None = None,
) -> IngestReport:
    """Import files committing batch by batch: canonical JSONL/CSV (optionally .gz), or a
    platform export (`file_format`, or a `mapping` file) in CSV/XLSX. `origin` names the
    run in the history (default: the paths; an upload names the file sent).

    `bulk` (None: decided by size, see `use_bulk`) stores links pending and resolves them
    all with one batch rebuild at the end instead of record by record; canonical files are
    then read and validated by a worker process (`worker`; None: when there are 2+ cores).
    `batch_size`: records per transaction (None: `batch_size_for` the mode).
    """
    started = time.perf_counter()
    bulk = use_bulk(session=session, tenant=tenant, paths=paths, bulk=bulk)
    batch_size = batch_size or batch_size_for(bulk=bulk)
    canonical = file_format is None and mapping is None
    if worker is None:
        worker = (os.cpu_count() or 1) > 1
    batches: Iterable[JudgedBatch]
    if canonical and bulk and worker:
        batches = judged_in_worker(
            paths,
            kind=kind,
            source=source,
            tenant=tenant,
            batch_size=batch_size,
            store_dialect=session.get_bind().dialect.name,
        )
    else:
        inputs: Iterator[Input]
        if canonical:
            inputs = open_inputs(paths, kind=kind, source=source)
        else:  # checked before the run starts: a wrong file is an error, not a failed run
            spec = formats.load_mapping(mapping) if mapping is not None else None
            plan = formats.plan_inputs(paths, spec=spec, name=file_format)
            inputs = iter(formats.open_format_inputs(plan, params=params))
        batches = judged_batches(inputs, tenant=tenant, batch_size=batch_size)
    run = _start_run(session, tenant, origin or ", ".join(str(p) for p in paths))
    report = IngestReport(
        import_run_id=run.id, files=[str(p) for p in paths], mode="bulk" if bulk else "online"
    )
    with tempfile.TemporaryDirectory(prefix="siyu-bulk-") as scratch:
        staged = (
            identity.open_staging(session=session, tenant=tenant, folder=Path(scratch) / "staged")
            if bulk
            else None
        )
        for batch in batches:
            with collector_paused():
                _apply(session, tenant, batch.items, run.id, report, staged=staged)
            session.commit()  # a crash from here on loses nothing already reported
            if on_progress:
                on_progress(batch.file, batch.position, batch.size)
        if staged is not None:
            staged.close()
            # Nothing new or changed (the same files again): nothing to resolve, and the
            # rebuild would change nothing, so it does not run.
            if staged.count or report.updated:
                _resolve_pending(session, tenant, report, staged, engine_dir or Path(scratch))
                refresh_statistics(session)  # the next online batch plans lookups, not scans
    report.seconds = round(time.perf_counter() - started, 3)
    _finish_run(session, run, report)
    return report


ONLINE_BATCH = 5_000
# Fewer, larger transactions: each commit writes every index page the batch touched, and
# at 20,000 records a page takes several inserts per write (1.3M records: the writing
# process 108.8 → 90.2 s CPU against 5,000). A crash re-imports at most one batch.
BULK_BATCH = 20_000


def batch_size_for(*, bulk: bool) -> int:
    """Records per transaction an import takes by default in its mode."""
    return BULK_BATCH if bulk else ONLINE_BATCH


BULK_MIN_RECORDS = 50_000  # estimated records in the files before bulk mode pays off
BULK_SHARE = 0.1  # ... and at least this share of the records the tenant already has
_BYTES_PER_RECORD = 400  # a canonical order is ~700 bytes of JSON, a customer ~400


class BulkUnavailableError(ValueError):
    """Bulk mode was asked for where it cannot give the online path's result."""


def use_bulk(
    *, session: Session, tenant: TenantContext, paths: Sequence[Path], bulk: bool | None
) -> bool:
    """Whether an import runs in bulk mode: as asked, else when the files are large and
    large next to what the tenant has (the rebuild at the end reads every link), or when
    an earlier bulk import left links pending."""
    if tenant.settings.identity.probabilistic:
        # The rebuild resolves strong identifiers only; arriving customer records are
        # matched probabilistically one batch at a time, which is the online path.
        if bulk:
            raise BulkUnavailableError(
                "bulk mode does not run probabilistic matching; import without --bulk"
            )
        return False
    if bulk is not None:
        return bulk
    if identity.has_pending_links(session=session, tenant=tenant):
        return True
    incoming = sum(p.stat().st_size for p in paths if p.is_file()) // _BYTES_PER_RECORD
    if incoming < BULK_MIN_RECORDS:
        return False
    return incoming >= BULK_SHARE * identity.count_links(session=session, tenant=tenant)


def _resolve_pending(
    session: Session,
    tenant: TenantContext,
    report: IngestReport,
    staged: identity.StagedLinks,
    engine_dir: Path,
) -> None:
    """Resolve every pending link with the batch rebuild (DuckDB + scipy, guard replay)."""
    clock = time.perf_counter()
    rebuilt = identity.rebuild_identity(
        session=session, tenant=tenant, engine_dir=engine_dir, staged=staged
    )
    report.new_persons += rebuilt.created
    report.merges += rebuilt.merged
    report.blocked_merges += rebuilt.blocked
    report.identity_seconds = round(time.perf_counter() - clock, 3)


def ingest_records(
    *, session: Session, tenant: TenantContext, items: Sequence[dict[str, Any]], origin: str
) -> tuple[IngestReport, list[RecordResult]]:
    """Import a batch of canonical records and commit; one result per record, in order."""
    report, results = stage_records(session=session, tenant=tenant, items=items, origin=origin)
    session.commit()
    return report, results


def stage_records(
    *, session: Session, tenant: TenantContext, items: Sequence[dict[str, Any]], origin: str
) -> tuple[IngestReport, list[RecordResult]]:
    """Import a batch of canonical records without committing, so that what reacts to
    them (see `siyu.online`) lands in the same transaction."""
    if len(items) > MAX_API_BATCH:
        raise ValueError(f"at most {MAX_API_BATCH} records per batch, got {len(items)}")
    raws = [
        RawRecord(origin, index, orjson.dumps(item).decode(), dict(item))
        for index, item in enumerate(items, start=1)
    ]
    report = IngestReport()
    results = _process(session, tenant, raws, None, report)
    return report, results


def _process(
    session: Session,
    tenant: TenantContext,
    raws: Sequence[RawRecord],
    run_id: int | None,
    report: IngestReport,
    *,
    staged: identity.StagedLinks | None = None,
) -> list[RecordResult]:
    judged = [judge(raw, tenant=tenant) for raw in raws]
    return _apply(session, tenant, judged, run_id, report, staged=staged)


def _apply(
    session: Session,
    tenant: TenantContext,
    judged: Sequence[Judged],
    run_id: int | None,
    report: IngestReport,
    *,
    staged: identity.StagedLinks | None = None,
) -> list[RecordResult]:
    """Store the accepted records of one batch, resolve (or stage) their identity,
    quarantine the rejected ones."""
    results: list[RecordResult] = []
    accepted: list[tuple[int, Judged]] = []
    rejected: list[tuple[int, RawRecord, Rejection]] = []
    for index, item in enumerate(judged):
        kind, source, record_id = item.head
        results.append(
            RecordResult(
                index=index,
                line=item.line,
                status="accepted",
                kind=kind,
                source=source,
                record_id=record_id,
            )
        )
        if item.rejection is not None and item.raw is not None:
            rejected.append((index, item.raw, item.rejection))
        else:
            accepted.append((index, item))
    outcomes = records.store_prepared(
        session=session, tenant=tenant, records=[a.record for _i, a in accepted if a.record]
    )
    to_resolve: list[tuple[int, identity.RecordIdentity]] = []
    unchanged: list[tuple[int, identity.RecordIdentity]] = []
    for (index, item), outcome in zip(accepted, outcomes, strict=True):
        results[index].outcome = outcome
        if item.identity is not None:
            (unchanged if outcome == "unchanged" else to_resolve).append((index, item.identity))
    resolved = identity.ResolveReport()
    if staged is not None:  # bulk mode: the rebuild at the end resolves them (no OneIDs here)
        identity.stage_links(
            session=session,
            tenant=tenant,
            records=[r for _i, r in to_resolve],
            known={
                (r.kind, r.source, r.record_id)
                for i, r in to_resolve
                if results[i].outcome == "updated"
            },
            staged=staged,
        )
    else:
        resolved = identity.resolve_records(
            session=session, tenant=tenant, records=[r for _i, r in to_resolve]
        )
        for (index, _record), oneid in zip(to_resolve, resolved.oneids, strict=True):
            results[index].oneid = oneid
        if tenant.settings.identity.probabilistic:
            _match_arrivals(session, tenant, to_resolve, results, report)
        # An unchanged record is this version or an OLDER one seen before: it keeps its
        # links (resolving an older version's identifiers again would roll the identity
        # back) and its OneID is read back once this batch is resolved.
        _read_oneids(session, tenant, unchanged, results)
    for (index, _raw, rejection), entry_id in zip(
        rejected, _quarantine(session, tenant, run_id, rejected), strict=True
    ):
        result = results[index]
        result.status, result.field, result.reason = (
            "quarantined",
            rejection.field,
            rejection.reason,
        )
        result.quarantine_id = entry_id
    if accepted:
        _resolve_quarantined(session, tenant, [a.record for _i, a in accepted if a.record])
    report.add(
        results, persons=resolved.new_persons, merges=resolved.merges, blocked=resolved.blocked
    )
    return results


def _match_arrivals(
    session: Session,
    tenant: TenantContext,
    resolved: Sequence[tuple[int, identity.RecordIdentity]],
    results: list[RecordResult],
    report: IngestReport,
) -> None:
    """Score arriving customer records against their blocks (probabilistic matching)."""
    arrived = sorted({(r.source, r.record_id) for _i, r in resolved if r.kind == "customer"})
    if not arrived:
        return
    matched = identity.match_new_records(session=session, tenant=tenant, refs=arrived)
    report.probable_matches += matched.merged
    report.match_reviews += matched.review
    if not matched.merged:
        return
    # A merge moves records resolved earlier in this batch too: read their OneIDs again.
    _read_oneids(session, tenant, resolved, results)


def _read_oneids(
    session: Session,
    tenant: TenantContext,
    records: Sequence[tuple[int, identity.RecordIdentity]],
    results: list[RecordResult],
) -> None:
    """Set the results' OneIDs of these (result index, record) from the store."""
    for kind in sorted({record.kind for _i, record in records}):
        of_kind = [(i, r) for i, r in records if r.kind == kind]
        linked = identity.oneids_of_records(
            session=session,
            tenant=tenant,
            kind=kind,
            refs=[(r.source, r.record_id) for _i, r in of_kind],
        )
        for index, record in of_kind:
            results[index].oneid = linked.get((record.source, record.record_id))


def _fingerprint(raw: str) -> str:
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _quarantine(
    session: Session,
    tenant: TenantContext,
    run_id: int | None,
    rejected: Sequence[tuple[int, RawRecord, Rejection]],
) -> list[int]:
    """Keep rejected records; the same record rejected again is not kept twice."""
    if not rejected:
        return []
    prints = [_fingerprint(raw.raw) for _i, raw, _r in rejected]
    query = select(QuarantinedRecord.fingerprint, QuarantinedRecord.id).where(
        QuarantinedRecord.tenant_id == tenant.id,
        QuarantinedRecord.status == "open",
        QuarantinedRecord.fingerprint.in_(sorted(set(prints))),
    )
    known: dict[str, int] = {row.fingerprint: row.id for row in session.execute(query)}
    ids: list[int] = []
    for (_index, raw, rejection), fingerprint in zip(rejected, prints, strict=True):
        if fingerprint not in known:
            kind, source, record_id = head_of(raw.data)
            entry = QuarantinedRecord(
                tenant_id=tenant.id,
                import_run_id=run_id,
                file=raw.file,
                line=raw.line,
                field=rejection.field[:128],
                reason=rejection.reason,
                raw=raw.raw,
                fingerprint=fingerprint,
                kind=kind,
                source=(source or "")[:32] or None,
                record_id=(record_id or "")[:128] or None,
            )
            session.add(entry)
            session.flush()
            known[fingerprint] = entry.id
        ids.append(known[fingerprint])
    return ids


def _resolve_quarantined(
    session: Session, tenant: TenantContext, accepted: Iterable[records.Prepared]
) -> None:
    """A record accepted later (fixed and re-imported) closes its open quarantine entries."""
    has_open = session.scalar(
        select(QuarantinedRecord.id)
        .where(QuarantinedRecord.tenant_id == tenant.id, QuarantinedRecord.status == "open")
        .limit(1)
    )
    if has_open is None:
        return
    refs = sorted({(r.kind, r.source, r.record_id) for r in accepted})
    for start in range(0, len(refs), 2000):
        part = refs[start : start + 2000]
        session.execute(
            update(QuarantinedRecord)
            .where(
                QuarantinedRecord.tenant_id == tenant.id,
                QuarantinedRecord.status == "open",
                or_(
                    tuple_(
                        QuarantinedRecord.kind,
                        QuarantinedRecord.source,
                        QuarantinedRecord.record_id,
                    ).in_(part),
                    # rejected for lacking a kind (e.g. a CSV imported without --kind)
                    and_(
                        QuarantinedRecord.kind.is_(None),
                        tuple_(QuarantinedRecord.source, QuarantinedRecord.record_id).in_(
                            sorted({(source, rid) for _kind, source, rid in part})
                        ),
                    ),
                ),
            )
            .values(status="resolved", resolved_at=utcnow())
        )


def list_quarantine(
    *, session: Session, tenant: TenantContext, status: str = "open", limit: int = 1000
) -> list[QuarantineEntry]:
    """Quarantined records, oldest first."""
    rows = session.scalars(
        select(QuarantinedRecord)
        .where(QuarantinedRecord.tenant_id == tenant.id, QuarantinedRecord.status == status)
        .order_by(QuarantinedRecord.id)
        .limit(limit)
    )
    return [QuarantineEntry.model_validate(row, from_attributes=True) for row in rows]


def export_quarantine(*, session: Session, tenant: TenantContext, out: Path) -> int:
    """Write open quarantined records as JSONL to fix by hand (each keeps `_quarantine_id`)."""
    count = 0
    with out.open("wb") as handle:
        for entry in list_quarantine(session=session, tenant=tenant, limit=10**9):
            try:
                data = orjson.loads(entry.raw)
            except orjson.JSONDecodeError:
                data = {"_raw": entry.raw}
            if not isinstance(data, dict):
                data = {"_raw": entry.raw}
            data["_quarantine_id"] = entry.id
            data["_quarantine_reason"] = entry.reason
            handle.write(orjson.dumps(data) + b"\n")
            count += 1
    return count


def retry_quarantine(
    *, session: Session, tenant: TenantContext, fixes: Path | None = None
) -> IngestReport:
    """Re-import quarantined records: from a fixed export file, or as stored (e.g. after
    the tenant's rules changed). Entries whose record is now accepted are resolved."""
    run = _start_run(session, tenant, f"quarantine retry {fixes or '(stored)'}")
    report = IngestReport(import_run_id=run.id, files=[str(fixes)] if fixes else [])
    if fixes is not None:
        stream, _probe, _size = open_records(fixes)
        raws: list[RawRecord] = list(stream)
    else:
        raws = [
            RawRecord(entry.file or "", entry.line or 0, entry.raw, _with_id(entry.raw, entry.id))
            for entry in list_quarantine(session=session, tenant=tenant, limit=10**9)
        ]
    _retry(session, tenant, run.id, raws, report)
    _finish_run(session, run, report)
    return report


def get_quarantined(*, session: Session, tenant: TenantContext, entry_id: int) -> QuarantineEntry:
    """One quarantined record (any status); LookupError if the tenant has none so numbered."""
    row = session.scalar(
        select(QuarantinedRecord).where(
            QuarantinedRecord.tenant_id == tenant.id, QuarantinedRecord.id == entry_id
        )
    )
    if row is None:
        raise LookupError(f"no quarantined record #{entry_id}")
    return QuarantineEntry.model_validate(row, from_attributes=True)


def fix_quarantined(
    *, session: Session, tenant: TenantContext, entry_id: int, record: dict[str, Any]
) -> tuple[IngestReport, RecordResult]:
    """Re-import one open quarantined record as edited by hand, and commit: accepted, its
    entry is resolved; still bad, it is quarantined anew (the old entry superseded)."""
    entry = get_quarantined(session=session, tenant=tenant, entry_id=entry_id)
    if entry.status != "open":
        raise LookupError(f"quarantined record #{entry_id} is {entry.status}, not open")
    run = _start_run(session, tenant, f"quarantine fix #{entry_id}")
    report = IngestReport(import_run_id=run.id)
    data = {k: v for k, v in record.items() if not k.startswith("_quarantine_")}
    raw = RawRecord(entry.file or "", entry.line or 0, "", {**data, "_quarantine_id": entry_id})
    results = _retry(session, tenant, run.id, [raw], report)
    _finish_run(session, run, report)
    return report, results[0]


def _retry(
    session: Session,
    tenant: TenantContext,
    run_id: int,
    raws: Sequence[RawRecord],
    report: IngestReport,
) -> list[RecordResult]:
    """Import quarantined records again, committing per batch."""
    found: list[RecordResult] = []
    for start in range(0, len(raws), 5000):
        pairs = [_split_quarantine_id(raw) for raw in raws[start : start + 5000]]
        results = _process(session, tenant, [raw for raw, _q in pairs], run_id, report)
        # A fixed record accepted closes its entry; one still bad is kept as a new entry
        # (its content changed) and the old entry is marked superseded.
        for (_raw, qid), result in zip(pairs, results, strict=True):
            if qid is None or qid == result.quarantine_id:
                continue
            status = "resolved" if result.status == "accepted" else "superseded"
            session.execute(
                update(QuarantinedRecord)
                .where(QuarantinedRecord.tenant_id == tenant.id, QuarantinedRecord.id == qid)
                .values(status=status, resolved_at=utcnow())
            )
        session.commit()
        found.extend(results)
    return found


def list_import_runs(
    *, session: Session, tenant: TenantContext, limit: int = 50
) -> list[ImportRunView]:
    """Import runs (files, API batches, quarantine retries), newest first."""
    rows = session.scalars(
        select(ImportRun)
        .where(ImportRun.tenant_id == tenant.id)
        .order_by(ImportRun.id.desc())
        .limit(limit)
    )
    return [ImportRunView.model_validate(row, from_attributes=True) for row in rows]


def _with_id(raw: str, entry_id: int) -> dict[str, Any] | None:
    data = _loads(raw)
    if data is not None:
        data["_quarantine_id"] = entry_id
    return data


def _split_quarantine_id(raw: RawRecord) -> tuple[RawRecord, int | None]:
    """Separate the bookkeeping fields an export added from the record itself."""
    if raw.data is None or "_quarantine_id" not in raw.data:
        return raw, None
    data = {k: v for k, v in raw.data.items() if not k.startswith("_quarantine_")}
    qid = raw.data["_quarantine_id"]
    original = orjson.dumps(data).decode()
    return RawRecord(raw.file, raw.line, original, data), int(qid) if str(qid).isdigit() else None


def _loads(raw: str) -> dict[str, Any] | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _start_run(session: Session, tenant: TenantContext, origin: str) -> ImportRun:
    run = ImportRun(tenant_id=tenant.id, origin=origin[:512])
    session.add(run)
    session.commit()
    return run


def _finish_run(session: Session, run: ImportRun, report: IngestReport) -> None:
    run.finished_at = utcnow()
    run.status = "done"
    run.counts = report.model_dump(exclude={"files"})
    session.commit()
