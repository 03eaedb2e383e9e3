"""The online path: records that arrive one by one or in small batches (REST API, channel
outcomes) are imported, and everything downstream reacts in the same transaction.

Bulk file imports (`siyu ingest`) are history, not news: they do not enrol anyone in a
journey or refresh traits record by record; `siyu compute` catches up in batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from siyu import audiences, identity, ingest, journeys, loyalty, records, traits
from siyu.tenants import TenantContext


def accept_records(
    *, session: Session, tenant: TenantContext, items: Sequence[dict[str, Any]], origin: str
) -> tuple[ingest.IngestReport, list[ingest.RecordResult]]:
    """Import records, refresh the touched persons' cheap traits and audience membership,
    earn points, fire journey triggers, waits and goals; commit all of it together."""
    report, results = ingest.stage_records(
        session=session, tenant=tenant, items=items, origin=origin
    )
    news = [
        (result, items[result.index])
        for result in results
        if result.status == "accepted" and result.outcome != "unchanged"
    ]
    touched = _touched_persons(session, tenant, news)
    traits.refresh_purchase_traits(
        session=session, tenant=tenant, oneids=_buyers_changed(report, news, touched)
    )
    _audiences(session, tenant, report, news, touched)
    _earn(session, tenant, news)
    journeys.on_records(
        session=session,
        tenant=tenant,
        records=[(str(r.kind), r.oneid, item) for r, item in news if r.oneid],
    )
    session.commit()
    return report, results


def _audiences(
    session: Session,
    tenant: TenantContext,
    report: ingest.IngestReport,
    news: Sequence[tuple[ingest.RecordResult, dict[str, Any]]],
    touched: set[str],
) -> None:
    """Entries and exits of the touched persons, after their traits are fresh.

    Only audiences whose rules the arriving kinds can change are evaluated, unless identity
    changed (new or merged persons: then every online audience, and the OneIDs merged away
    leave theirs)."""
    if not touched:
        return
    merged = bool(report.merges or report.probable_matches)
    if merged:
        _merged_audiences(session, tenant, touched)
        return
    kinds = None if report.new_persons else {str(result.kind) for result, _ in news}
    audiences.on_records(
        session=session, tenant=tenant, oneids=sorted(touched), kinds=kinds, live=True
    )


def _merged_audiences(session: Session, tenant: TenantContext, touched: set[str]) -> None:
    """Persons identity merged: every online audience, and the OneIDs merged away leave
    theirs."""
    oneids = sorted(touched)
    oneids += identity.retired_into(session=session, tenant=tenant, oneids=oneids)
    audiences.on_records(session=session, tenant=tenant, oneids=oneids, kinds=None, live=False)


def review_blocked(
    *,
    session: Session,
    tenant: TenantContext,
    blocked_id: int,
    approve: bool,
    actor: str,
    reason: str,
) -> identity.BlockedDecision:
    """Approve (merge) or dismiss a merge a guard refused; an approval refreshes the merged
    person downstream as an arriving merge does (traits, audiences; loyalty merges the
    memberships from identity's merge feed); commit all of it together."""
    if not approve:
        decision = identity.dismiss_blocked(
            session=session, tenant=tenant, blocked_id=blocked_id, actor=actor, reason=reason
        )
        session.commit()
        return decision
    decision = identity.approve_blocked(
        session=session, tenant=tenant, blocked_id=blocked_id, actor=actor, reason=reason
    )
    traits.refresh_purchase_traits(session=session, tenant=tenant, oneids={decision.oneid})
    _merged_audiences(session, tenant, {decision.oneid})
    session.commit()
    return decision


def _earn(
    session: Session,
    tenant: TenantContext,
    news: Sequence[tuple[ingest.RecordResult, dict[str, Any]]],
) -> None:
    """Points, growth, coupons and tier changes for what just arrived (idempotent per
    business event, so a replayed order earns once)."""
    for result, item in news:
        model = records.RECORD_MODELS.get(str(result.kind))
        if model is None or result.kind == "customer":
            continue
        # Accepted records: this validation cannot fail, it only builds the typed record.
        record = model.model_validate(item, context={"zone": tenant.zone})
        if isinstance(record, records.OrderIn):
            loyalty.apply_order(session=session, tenant=tenant, order=record, oneid=result.oneid)
        elif isinstance(record, records.RefundIn):
            loyalty.apply_refund(session=session, tenant=tenant, refund=record, oneid=result.oneid)
        elif isinstance(record, records.EventIn):
            loyalty.apply_event(session=session, tenant=tenant, event=record, oneid=result.oneid)


def _buyers_changed(
    report: ingest.IngestReport,
    news: Sequence[tuple[ingest.RecordResult, dict[str, Any]]],
    touched: set[str],
) -> set[str]:
    """Persons whose purchase traits may have changed: those of orders and refunds, or
    every touched person when identity changed (new persons get their first row; merged
    ones pool their orders). An event or a customer record alone changes no purchase."""
    if report.new_persons or report.merges or report.probable_matches:
        return touched
    if any(result.kind == "refund" for result, _item in news):
        return touched  # a refund's person is its order's (found by `_touched_persons`)
    return {result.oneid for result, _item in news if result.kind == "order" and result.oneid}


def _touched_persons(
    session: Session,
    tenant: TenantContext,
    news: Sequence[tuple[ingest.RecordResult, dict[str, Any]]],
) -> set[str]:
    """Persons whose records changed; a refund touches its order's person."""
    touched = {result.oneid for result, _item in news if result.oneid}
    refunded = [
        (str(item["source"]), str(item["order_id"]))
        for result, item in news
        if result.kind == "refund"
    ]
    if refunded:
        owners = identity.oneids_of_records(
            session=session, tenant=tenant, kind="order", refs=refunded
        )
        touched.update(owners.values())
    return touched
