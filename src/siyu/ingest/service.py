"""Import use cases: files and API batches in, bad records to quarantine, never lost."""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import and_, or_, select, tuple_, update
from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.ingest import formats
from siyu.ingest.models import ImportRun, QuarantinedRecord
from siyu.ingest.readers import Input, RawRecord, open_inputs, open_records
from siyu.ingest.schemas import ImportRunView, IngestReport, QuarantineEntry, RecordResult
from siyu.ingest.validate import Accepted, Rejection, validate_record
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
    batch_size: int = 5000,
    on_progress: Progress | None = None,
    origin: str | None = None,
) -> IngestReport:
    """Import files committing batch by batch: canonical JSONL/CSV (optionally .gz), or a
    platform export (`file_format`, or a `mapping` file) in CSV/XLSX. `origin` names the
    run in the history (default: the paths; an upload names the file sent)."""
    started = time.perf_counter()
    inputs: Iterable[Input]
    if file_format is None and mapping is None:
        inputs = open_inputs(paths, kind=kind, source=source)
    else:  # checked before the run starts: a wrong file is an error, not a failed run
        spec = formats.load_mapping(mapping) if mapping is not None else None
        plan = formats.plan_inputs(paths, spec=spec, name=file_format)
        inputs = formats.open_format_inputs(plan, params=params)
    run = _start_run(session, tenant, origin or ", ".join(str(p) for p in paths))
    report = IngestReport(import_run_id=run.id, files=[str(p) for p in paths])
    for item in inputs:
        for batch in _batches(item.records, batch_size):
            with _collector_paused():
                _process(session, tenant, batch, run.id, report)
            session.commit()  # a crash from here on loses nothing already reported
            if on_progress:
                on_progress(str(item.path), item.progress.position, item.size)
    report.seconds = round(time.perf_counter() - started, 3)
    _finish_run(session, run, report)
    return report


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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Run one batch without the cyclic garbage collector.

    A batch allocates hundreds of thousands of small containers, which keeps triggering
    collections that walk every live object (measured: a third of the import time). The
    batch is bounded, so its garbage is collected right after it instead.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _batches(stream: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    while batch := list(islice(stream, size)):
        yield batch


def _process(
    session: Session,
    tenant: TenantContext,
    raws: Sequence[RawRecord],
    run_id: int | None,
    report: IngestReport,
) -> list[RecordResult]:
    results: list[RecordResult] = []
    accepted: list[tuple[int, Accepted]] = []
    rejected: list[tuple[int, RawRecord, Rejection]] = []
    for index, raw in enumerate(raws):
        data = raw.data
        verdict = (
            Rejection(raw.field or "(line)", raw.error or "unreadable")
            if data is None or raw.error  # a reader may hand on a record with its fault
            else validate_record(data, tenant=tenant)
        )
        if isinstance(verdict, Rejection) and raw.columns and raw.error is None:
            column = formats.platform_column(verdict.field, raw.columns)
            verdict = Rejection(column, verdict.reason) if column else verdict
        kind, source, record_id = _head(data)
        results.append(
            RecordResult(
                index=index,
                line=raw.line,
                status="accepted",
                kind=kind,
                source=source,
                record_id=record_id,
            )
        )
        if isinstance(verdict, Rejection):
            rejected.append((index, raw, verdict))
        else:
            accepted.append((index, verdict))
    outcomes = records.store_records(
        session=session, tenant=tenant, records=[a.incoming for _i, a in accepted]
    )
    to_resolve: list[tuple[int, identity.RecordIdentity]] = []
    unchanged: list[tuple[int, identity.RecordIdentity]] = []
    for (index, item), outcome in zip(accepted, outcomes, strict=True):
        results[index].outcome = outcome
        if item.identity is not None:
            (unchanged if outcome == "unchanged" else to_resolve).append((index, item.identity))
    resolved = identity.resolve_records(
        session=session, tenant=tenant, records=[r for _i, r in to_resolve]
    )
    for (index, _record), oneid in zip(to_resolve, resolved.oneids, strict=True):
        results[index].oneid = oneid
    if tenant.settings.identity.probabilistic:
        _match_arrivals(session, tenant, to_resolve, results, report)
    # An unchanged record is this version or an OLDER one seen before: it keeps its links
    # (resolving an older version's identifiers again would roll the identity back) and
    # its OneID is read back once this batch is resolved.
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
        _resolve_quarantined(session, tenant, [a.incoming.record for _i, a in accepted])
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


_ID_FIELDS = {
    "customer": "external_id",
    "order": "order_id",
    "refund": "refund_id",
    "event": "event_id",
}


def _head(data: dict[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    """(kind, source, record id) of a raw record, as far as it has them."""
    if data is None:
        return None, None, None
    kind = data.get("kind")
    id_field = _ID_FIELDS.get(kind) if isinstance(kind, str) else None
    if id_field:
        record_id = data.get(id_field)
    else:
        # Without a known kind, the record's id is whichever id field it has (so that the
        # entry closes when the record is accepted later, e.g. a CSV re-imported with --kind).
        record_id = next((data[f] for f in _ID_FIELDS.values() if data.get(f)), None)
    source = data.get("source")
    return (
        str(kind) if kind else None,
        str(source) if source else None,
        str(record_id) if record_id not in (None, "") else None,
    )


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
            kind, source, record_id = _head(raw.data)
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
    session: Session, tenant: TenantContext, accepted: Iterable[records.CanonicalRecord]
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
