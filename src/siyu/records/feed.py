"""A feed of stored orders and refunds in the order they were written, for other domains
(loyalty reads it to award points for imports without knowing how records arrive)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from siyu.records.models import Order, Refund
from siyu.records.schemas import OrderIn, RefundIn
from siyu.tenants.schemas import TenantContext

R = TypeVar("R", OrderIn, RefundIn)


@dataclass(frozen=True)
class Changed(Generic[R]):
    """A record as last stored, with its position in the feed: (updated_at, row id)."""

    updated_at: datetime
    row_id: int
    record: R


def changed_orders(
    *,
    session: Session,
    tenant: TenantContext,
    since: datetime | None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[Changed[OrderIn]]:
    """Orders stored or replaced after position (since, after_id), oldest first."""
    rows = _since(session, tenant, Order, since, after_id, limit)
    return [Changed(row.updated_at, row.id, _order_in(row)) for row in rows]


def changed_refunds(
    *,
    session: Session,
    tenant: TenantContext,
    since: datetime | None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[Changed[RefundIn]]:
    """Refunds stored or replaced after position (since, after_id), oldest first."""
    rows = _since(session, tenant, Refund, since, after_id, limit)
    return [Changed(row.updated_at, row.id, _refund_in(row)) for row in rows]


def _since(
    session: Session,
    tenant: TenantContext,
    model: Any,
    since: datetime | None,
    after_id: int,
    limit: int,
) -> list[Any]:
    query = select(model).where(model.tenant_id == tenant.id)
    if since is not None:
        query = query.where(
            or_(model.updated_at > since, and_(model.updated_at == since, model.id > after_id))
        )
    return list(session.scalars(query.order_by(model.updated_at, model.id).limit(limit)))


def _order_in(row: Order) -> OrderIn:
    ref: dict[str, Any] = {"identifiers": row.customer_identifiers or {}}
    if row.customer_external_id:
        ref["external_id"] = row.customer_external_id
    return OrderIn.model_validate(
        {
            "source": row.source,
            "order_id": row.order_id,
            "customer_ref": ref,
            "status": row.status,
            "created_at": row.created_at,
            "paid_at": row.paid_at,
            "currency": row.currency,
            "total_amount": row.total_amount,
            "paid_amount": row.paid_amount,
            "discount_amount": row.discount_amount,
            "shipping_amount": row.shipping_amount,
            "items": row.items,
            "coupon_codes": row.coupon_codes,
            "store_id": row.store_id,
            "staff_id": row.staff_id,
            "ship_to": row.ship_to,
        }
    )


def _refund_in(row: Refund) -> RefundIn:
    return RefundIn.model_validate(
        {
            "source": row.source,
            "refund_id": row.refund_id,
            "order_id": row.order_id,
            "amount": row.amount,
            "created_at": row.created_at,
            "items": row.items,
        }
    )
