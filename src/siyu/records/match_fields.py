"""Customer records' fields that probabilistic matching compares, read in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from siyu.records.models import CustomerRecord
from siyu.tenants import TenantContext

_BATCH = 20_000
_CHUNK = 2_000


def iter_customer_match_fields(
    *, session: Session, tenant: TenantContext, refs: Sequence[tuple[str, str]] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Batches of customer records as dicts: source, external_id, name, gender, birthday,
    place fields, phone / phone_sha256 / email (normalised identifiers), masked_phone (a
    hint), store_id, staff_id. All records of the tenant, or those with the given refs."""
    if refs is None:
        query = _query(tenant).order_by(CustomerRecord.id).execution_options(yield_per=_BATCH)
        for part in session.execute(query).partitions(_BATCH):
            yield [_fields(row) for row in part]
        return
    ordered = sorted(set(refs))
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        rows = session.execute(
            _query(tenant).where(
                tuple_(CustomerRecord.source, CustomerRecord.external_id).in_(chunk)
            )
        )
        yield [_fields(row) for row in rows]


def _query(tenant: TenantContext) -> Select[Any]:
    c = CustomerRecord
    return select(
        c.source,
        c.external_id,
        c.name,
        c.gender,
        c.birthday,
        c.province,
        c.city,
        c.district,
        c.address,
        c.postal_code,
        c.identifiers,
        c.hints,
        c.store_id,
        c.staff_id,
    ).where(c.tenant_id == tenant.id)


def _fields(row: Any) -> dict[str, Any]:
    ids = row.identifiers or {}
    hints = row.hints or {}
    return {
        "source": row.source,
        "external_id": row.external_id,
        "name": row.name,
        "gender": row.gender,
        "birthday": row.birthday.isoformat() if row.birthday else None,
        "province": row.province,
        "city": row.city,
        "district": row.district,
        "address": row.address,
        "postal_code": row.postal_code,
        "phone": ids.get("phone"),
        "phone_sha256": ids.get("phone_sha256"),
        "masked_phone": hints.get("masked_phone"),
        "email": ids.get("email"),
        "device_id": ids.get("device_id"),
        "store_id": row.store_id,
        "staff_id": row.staff_id,
    }
