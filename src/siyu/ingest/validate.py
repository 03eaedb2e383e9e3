"""Turning a raw dict into a validated canonical record plus its identity keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Dialect

from siyu.identity import SOURCE_CUSTOMER, RecordIdentity, normalize_identifiers
from siyu.ingest import formats
from siyu.ingest.readers import RawRecord
from siyu.records import (
    RECORD_MODELS,
    CustomerIn,
    EventIn,
    Incoming,
    OrderIn,
    Prepared,
    content_hash,
    prepare_record,
)
from siyu.tenants import TenantContext


@dataclass(frozen=True)
class Rejection:
    field: str
    reason: str


@dataclass(frozen=True)
class Accepted:
    incoming: Incoming
    identity: RecordIdentity | None  # None for refunds: they resolve through their order


@dataclass(frozen=True, slots=True)
class Judged:
    """One raw record after validation: what storing and identity need, in plain values
    (a worker process judges records and hands them over)."""

    line: int
    head: tuple[str | None, str | None, str | None]  # kind, source, record id as received
    raw: RawRecord | None  # kept for the quarantine when rejected
    rejection: Rejection | None
    record: Prepared | None
    identity: RecordIdentity | None


def judge(raw: RawRecord, *, tenant: TenantContext, dialect: Dialect | None = None) -> Judged:
    """Validate one raw record (or take the reader's fault) and prepare it for storing
    (with `dialect`: its values converted for that store)."""
    data = raw.data
    verdict = (
        Rejection(raw.field or "(line)", raw.error or "unreadable")
        if data is None or raw.error  # a reader may hand on a record with its fault
        else validate_record(data, tenant=tenant)
    )
    if isinstance(verdict, Rejection) and raw.columns and raw.error is None:
        column = formats.platform_column(verdict.field, raw.columns)
        verdict = Rejection(column, verdict.reason) if column else verdict
    head = head_of(data)
    if isinstance(verdict, Rejection):
        return Judged(raw.line, head, raw, verdict, None, None)
    prepared = prepare_record(verdict.incoming, dialect=dialect)
    return Judged(raw.line, head, None, None, prepared, verdict.identity)


_ID_FIELDS = {
    "customer": "external_id",
    "order": "order_id",
    "refund": "refund_id",
    "event": "event_id",
}


def head_of(data: dict[str, Any] | None) -> tuple[str | None, str | None, str | None]:
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


def validate_record(data: dict[str, Any], *, tenant: TenantContext) -> Accepted | Rejection:
    """Validate one record against the contract; a rejection names the field and reason."""
    kind = data.get("kind")
    model = RECORD_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return Rejection("kind", f"kind must be one of {', '.join(RECORD_MODELS)}, got {kind!r}")
    try:
        record = model.model_validate(data, context={"zone": tenant.zone})
    except ValidationError as error:
        problems = error.errors(include_url=False)
        fields = [".".join(str(p) for p in problem["loc"]) or "(record)" for problem in problems]
        reason = "; ".join(f"{f}: {p['msg']}" for f, p in zip(fields, problems, strict=True))
        return Rejection(fields[0], reason)
    custom = tenant.settings.identity.custom_types
    extra: dict[str, Any] = {}
    keys: list[tuple[str, str]] = []
    if isinstance(record, CustomerIn):
        normalised, errors = normalize_identifiers(record.identifiers, custom_types=custom)
        if errors:
            return _identifier_rejection("identifiers", errors)
        extra = {"identifiers": normalised.values, "hints": normalised.hints or None}
        keys = [(SOURCE_CUSTOMER, f"{record.source}/{record.external_id}"), *normalised.keys]
    elif isinstance(record, OrderIn | EventIn):
        ref = record.customer_ref
        normalised, errors = normalize_identifiers(ref.identifiers, custom_types=custom)
        if errors:
            return _identifier_rejection("customer_ref.identifiers", errors)
        extra = {"customer_identifiers": normalised.values or None}
        if ref.external_id:
            keys.append((SOURCE_CUSTOMER, f"{record.source}/{ref.external_id}"))
        keys.extend(normalised.keys)
        if not keys:
            return Rejection("customer_ref", "customer_ref has no usable identifier")
    incoming = Incoming(record=record, content_hash=content_hash(data), extra=extra)
    if not keys:
        return Accepted(incoming, None)
    identity = RecordIdentity(
        kind=record.kind, source=record.source, record_id=record.record_id, keys=tuple(keys)
    )
    return Accepted(incoming, identity)


def _identifier_rejection(prefix: str, errors: dict[str, str]) -> Rejection:
    first = sorted(errors)[0]
    reason = "; ".join(f"{prefix}.{t}: {message}" for t, message in sorted(errors.items()))
    return Rejection(f"{prefix}.{first}", reason)
