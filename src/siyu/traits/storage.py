"""Moving traits between the store and the engine: export the previous rows, write changes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlalchemy import BigInteger, delete, insert, select, type_coerce
from sqlalchemy.orm import Session

from siyu.store.base import table
from siyu.tenants import TenantContext
from siyu.traits.compute import TRAITS_SCHEMA
from siyu.traits.models import PersonTraits

_CHUNK = 1000
# Store columns for the engine's fen columns.
_MONEY = {"net_fen": "net_spend", "aov_fen": "aov"}


def iter_previous(*, session: Session, tenant: TenantContext) -> Iterator[dict[str, list[Any]]]:
    """The tenant's stored traits as columnar batches in TRAITS_SCHEMA (money as fen)."""
    columns = [
        type_coerce(getattr(PersonTraits, _MONEY[name]), BigInteger)
        if name in _MONEY
        else getattr(PersonTraits, name)
        for name in TRAITS_SCHEMA.names
    ]
    result = session.execute(
        select(*columns)
        .where(PersonTraits.tenant_id == tenant.id)
        .execution_options(yield_per=20_000)
    )
    for rows in result.partitions(20_000):
        yield {name: [row[i] for row in rows] for i, name in enumerate(TRAITS_SCHEMA.names)}


def write_changed(
    *, session: Session, tenant: TenantContext, changed: pa.Table, now: datetime
) -> int:
    """Replace the rows of persons whose traits changed (delete + insert per chunk)."""
    core = table(PersonTraits)
    rows = changed.to_pylist()
    for start in range(0, len(rows), _CHUNK):
        part = [_row(tenant.id, r, now) for r in rows[start : start + _CHUNK]]
        session.execute(
            delete(core).where(
                core.c.tenant_id == tenant.id, core.c.oneid.in_([r["oneid"] for r in part])
            )
        )
        session.execute(insert(core), part)
    return len(rows)


def delete_persons(*, session: Session, tenant: TenantContext, oneids: Sequence[str]) -> int:
    """Remove the rows of persons that no longer exist (merged into another)."""
    core = table(PersonTraits)
    for start in range(0, len(oneids), _CHUNK):
        session.execute(
            delete(core).where(
                core.c.tenant_id == tenant.id,
                core.c.oneid.in_(list(oneids[start : start + _CHUNK])),
            )
        )
    return len(oneids)


def _row(tenant_id: int, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {k: v for k, v in values.items() if k not in _MONEY}
    for fen_name, column in _MONEY.items():
        fen = values[fen_name]
        row[column] = None if fen is None else Decimal(int(fen)).scaleb(-2)
    for name in ("first_order_at", "last_order_at"):
        # Spark hands timestamps back without a zone; they are UTC (the session's zone).
        moment = row[name]
        if moment is not None and moment.tzinfo is None:
            row[name] = moment.replace(tzinfo=UTC)
    row.update(tenant_id=tenant_id, computed_at=now, updated_at=now)
    return row
