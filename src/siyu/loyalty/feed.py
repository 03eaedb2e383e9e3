"""Points for whatever was imported: orders and refunds stored since the last run (a
watermark per feed), so files and API imports earn without loyalty knowing ingest."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.loyalty import cursors
from siyu.loyalty.due import sync_merges
from siyu.loyalty.orders import apply_order, apply_refund
from siyu.loyalty.views import FeedReport, OrderOutcome
from siyu.tenants import TenantContext


def process_feed(
    *,
    session: Session,
    tenant: TenantContext,
    now: datetime,
    limit: int = 1000,
    settle_seconds: float = 0,
) -> FeedReport:
    """Apply up to `limit` orders and `limit` refunds stored since the watermarks.

    Rows written less than `settle_seconds` ago wait for the next run: on PostgreSQL with
    several importers, a transaction can commit rows older than ones already seen, so set
    it above the longest import batch there. Replaying is harmless (everything is keyed).
    """
    report = FeedReport(merges=sync_merges(session=session, tenant=tenant, now=now))
    horizon = now - timedelta(seconds=settle_seconds)
    position = cursors.take(session, tenant.id, "orders")
    orders = [
        c
        for c in records.changed_orders(
            session=session, tenant=tenant, limit=limit, since=_at(position), after_id=_id(position)
        )
        if c.updated_at <= horizon
    ]
    oneids = identity.oneids_of_records(
        session=session,
        tenant=tenant,
        kind="order",
        refs=[(c.record.source, c.record.order_id) for c in orders],
    )
    for changed in orders:
        order = changed.record
        oneid = oneids.get((order.source, order.order_id))
        _count(
            report, apply_order(session=session, tenant=tenant, order=order, oneid=oneid, now=now)
        )
    if orders:
        cursors.move(session, tenant.id, "orders", _position(orders[-1]))
    report.orders = len(orders)
    position = cursors.take(session, tenant.id, "refunds")
    refunds = [
        c
        for c in records.changed_refunds(
            session=session, tenant=tenant, limit=limit, since=_at(position), after_id=_id(position)
        )
        if c.updated_at <= horizon
    ]
    refund_oneids = identity.oneids_of_records(
        session=session,
        tenant=tenant,
        kind="order",
        refs=[(c.record.source, c.record.order_id) for c in refunds],
    )
    for stored in refunds:
        refund = stored.record
        oneid = refund_oneids.get((refund.source, refund.order_id))
        _count(
            report,
            apply_refund(session=session, tenant=tenant, refund=refund, oneid=oneid, now=now),
        )
    if refunds:
        cursors.move(session, tenant.id, "refunds", _position(refunds[-1]))
    report.refunds = len(refunds)
    return report


def _at(position: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(position["at"]) if position else None


def _id(position: dict[str, Any]) -> int:
    return int(position.get("id", 0))


def _position(
    changed: records.Changed[records.OrderIn] | records.Changed[records.RefundIn],
) -> dict[str, object]:
    return {"at": changed.updated_at.isoformat(), "id": changed.row_id}


def _count(report: FeedReport, outcomes: list[OrderOutcome]) -> None:
    for outcome in outcomes:
        report.earned += outcome.earned
        report.reversed += outcome.reversed
        report.enrolled += outcome.enrolled
