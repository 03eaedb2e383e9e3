"""Points for whatever was imported: orders and refunds stored since the last run (a
watermark per feed), so files and API imports earn without loyalty knowing ingest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.loyalty import cursors
from siyu.loyalty.due import sync_merges
from siyu.loyalty.orders import apply_order, apply_refund
from siyu.loyalty.views import FeedReport, OrderOutcome
from siyu.tenants import TenantContext

Reader = Callable[..., Sequence[records.Changed[Any]]]
Apply = Callable[[Any, str | None], list[OrderOutcome]]


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

    def order(record: records.OrderIn, oneid: str | None) -> list[OrderOutcome]:
        return apply_order(session=session, tenant=tenant, order=record, oneid=oneid, now=now)

    def refund(record: records.RefundIn, oneid: str | None) -> list[OrderOutcome]:
        return apply_refund(session=session, tenant=tenant, refund=record, oneid=oneid, now=now)

    feeds: tuple[tuple[str, Reader, Apply], ...] = (
        ("orders", records.changed_orders, order),
        ("refunds", records.changed_refunds, refund),
    )
    for name, read, apply in feeds:
        position = cursors.take(session, tenant.id, name)
        since = datetime.fromisoformat(position["at"]) if position else None
        rows = [
            c
            for c in read(
                session=session,
                tenant=tenant,
                limit=limit,
                since=since,
                after_id=int(position.get("id", 0)),
            )  # fmt: skip
            if c.updated_at <= horizon
        ]
        # A refund belongs to its order's person: both are looked up as orders.
        oneids = identity.oneids_of_records(
            session=session,
            tenant=tenant,
            kind="order",
            refs=[(c.record.source, c.record.order_id) for c in rows],
        )
        for changed in rows:
            record = changed.record
            for outcome in apply(record, oneids.get((record.source, record.order_id))):
                report.earned += outcome.earned
                report.reversed += outcome.reversed
                report.enrolled += outcome.enrolled
        if rows:
            last = rows[-1]
            cursors.move(
                session, tenant.id, name, {"at": last.updated_at.isoformat(), "id": last.row_id}
            )
        setattr(report, name, len(rows))
    return report
