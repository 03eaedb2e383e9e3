"""Keeping the cheap purchase traits fresh as records arrive (the online path).

Order count, first/last purchase, net spend and AOV are recomputed for the touched persons
with `profiles.basic_traits`, the one Python statement of those definitions (the engine's
expressions are tested against it). RFM, lifecycle and favourites stay batch traits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu import identity, profiles, records
from siyu.store.base import utcnow
from siyu.tenants import TenantContext
from siyu.traits.models import PersonTraits


def refresh_purchase_traits(
    *, session: Session, tenant: TenantContext, oneids: Collection[str]
) -> int:
    """Recompute the purchase traits of these persons now; returns the rows written."""
    live = sorted(set(oneids))
    if not live:
        return 0
    # Persons merged into these ones no longer exist: their rows go.
    retired = identity.retired_into(session=session, tenant=tenant, oneids=live)
    if retired:
        session.execute(
            delete(PersonTraits).where(
                PersonTraits.tenant_id == tenant.id, PersonTraits.oneid.in_(retired)
            )
        )
    refs = identity.records_of_persons(session=session, tenant=tenant, oneids=live)
    owner = {(s, r): p for p, found in refs.items() for k, s, r in found if k == "order"}
    orders = records.orders(session=session, tenant=tenant, refs=list(owner))
    refunded: dict[tuple[str, str], Decimal] = defaultdict(lambda: Decimal("0.00"))
    for refund in records.refunds_of_orders(session=session, tenant=tenant, refs=list(owner)):
        refunded[(refund.source, refund.order_id)] += refund.amount
    by_person: dict[str, list[records.Order]] = defaultdict(list)
    for found in orders:
        by_person[owner[(found.source, found.order_id)]].append(found)
    existing = {
        row.oneid: row
        for row in session.scalars(
            select(PersonTraits).where(
                PersonTraits.tenant_id == tenant.id, PersonTraits.oneid.in_(list(refs))
            )
        )
    }
    now = utcnow()
    for oneid in refs:
        basic = profiles.basic_traits(orders=by_person[oneid], refunded=refunded)
        row = existing.get(oneid)
        if row is None:
            row = PersonTraits(tenant_id=tenant.id, oneid=oneid, is_member=False)
            row.lifecycle_stage = "prospect"
            session.add(row)
        row.order_count = basic.order_count
        row.net_spend = basic.net_paid
        row.aov = basic.aov
        row.first_order_at, row.last_order_at = basic.first_order_at, basic.last_order_at
        row.first_order_day = (
            basic.first_order_at and basic.first_order_at.astimezone(tenant.zone).date()
        )
        row.last_order_day = (
            basic.last_order_at and basic.last_order_at.astimezone(tenant.zone).date()
        )
        row.updated_at = now
    session.flush()
    return len(refs)
