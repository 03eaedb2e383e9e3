"""Turning a raw dict into a validated canonical record plus its identity keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from siyu.identity import SOURCE_CUSTOMER, RecordIdentity, normalize_identifiers
from siyu.records import RECORD_MODELS, CustomerIn, EventIn, Incoming, OrderIn, content_hash
from siyu.tenants import TenantContext


@dataclass(frozen=True)
class Rejection:
    field: str
    reason: str


@dataclass(frozen=True)
class Accepted:
    incoming: Incoming
    identity: RecordIdentity | None  # None for refunds: they resolve through their order


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
