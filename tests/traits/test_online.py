"""Purchase traits stay fresh as records arrive through the API, and agree with the batch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from siyu.tenants import TenantContext
from siyu.traits import get_traits, list_traits, run_compute
from support import event, identity_map, ingest
from traits.test_compute import AS_OF, BASE, CHANGES

CHEAP = (
    "order_count",
    "net_spend",
    "aov",
    "first_order_at",
    "last_order_at",
    "first_order_day",
    "last_order_day",
)


def _cheap(session: Session, tenant: TenantContext) -> dict[str, tuple[object, ...]]:
    return {
        t.oneid: tuple(getattr(t, c) for c in CHEAP)
        for t in list_traits(session=session, tenant=tenant)
    }


def test_online_refresh_follows_orders_refunds_and_merges(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    ingest(session, tenant, *BASE)
    ids = identity_map(session, tenant)
    a = ids["customer:tmall/a1"]
    found = get_traits(session=session, tenant=tenant, oneid=a)
    assert found is not None and found.computed_at is None  # written online, not by a run
    assert (found.order_count, found.net_spend, found.aov) == (
        3,
        Decimal("290.00"),
        Decimal("96.67"),
    )
    e, f = ids["customer:tmall/e1"], ids["customer:jd/f1"]
    assert {e, f} <= set(_cheap(session, tenant))
    ingest(session, tenant, *CHANGES)
    after = _cheap(session, tenant)
    merged = identity_map(session, tenant)["customer:pos/ef"]
    assert merged in (e, f) and len({e, f} & set(after)) == 1  # the retired row is gone
    found = get_traits(session=session, tenant=tenant, oneid=a)
    assert found is not None and found.net_spend == Decimal("280.00")  # refund r3 of 10.00
    assert after[merged][0] == 2  # E's and F's orders together
    run_compute(session=session, tenant=tenant, engine_dir=tmp_path, as_of=AS_OF)
    assert _cheap(session, tenant) == after  # the batch agrees with the online values


def test_events_refresh_purchase_traits_only_when_identity_changes(
    session: Session, tenant: TenantContext
) -> None:
    ingest(session, tenant, *BASE)
    a = identity_map(session, tenant)["customer:tmall/a1"]
    before = get_traits(session=session, tenant=tenant, oneid=a)
    assert before is not None
    # An event of a known person changes no purchase: the row is not rewritten.
    ingest(session, tenant, event("tmall", "ev-1", customer_id="a1", type="page_view"))
    same = get_traits(session=session, tenant=tenant, oneid=a)
    assert same is not None and same.updated_at == before.updated_at
    # An event of someone new makes a person, who gets a first (empty) row.
    (result,) = ingest(session, tenant, event("web", "ev-2", customer_id="nobody-yet"))
    assert result.oneid is not None and result.oneid != a
    new = get_traits(session=session, tenant=tenant, oneid=result.oneid)
    assert new is not None and new.order_count == 0
