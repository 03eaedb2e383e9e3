"""Identity's answers for other domains: a OneID's family, merge history, the feeds."""

from __future__ import annotations

from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.tenants import TenantContext
from support import customer, ingest, order


def test_a_oneid_family_and_the_merge_feed(session: Session, tenant: TenantContext) -> None:
    a = ingest(session, tenant, customer("pos", "a", {"phone": "13800000001"}))[0].oneid
    b = ingest(session, tenant, customer("jd", "b", {"member_no": "M1"}))[0].oneid
    c = ingest(session, tenant, customer("tmall", "c", {"email": "c@example.com"}))[0].oneid
    assert a and b and c
    assert identity.oneid_family(session=session, tenant=tenant, oneid=a) == (a, [])
    assert identity.oneid_family(session=session, tenant=tenant, oneid="NOPE") is None
    before = identity.merges_since(session=session, tenant=tenant, after=0)
    ingest(session, tenant, customer("web", "w1", {"phone": "13800000001", "member_no": "M1"}))
    ingest(session, tenant, customer("web", "w2", {"member_no": "M1", "email": "c@example.com"}))
    assert identity.oneid_family(session=session, tenant=tenant, oneid=a) == (a, sorted([b, c]))
    assert identity.oneid_family(session=session, tenant=tenant, oneid=c) == (a, sorted([b, c]))
    assert identity.retired_oneids(session=session, tenant=tenant, oneid=a) == sorted([b, c])
    after = before[-1].id if before else 0
    merges = identity.merges_since(session=session, tenant=tenant, after=after)
    assert [(m.kept_oneid, m.retired_oneid) for m in merges] == [(a, b), (a, c)]
    assert identity.merges_since(session=session, tenant=tenant, after=merges[-1].id) == []


def test_the_order_feed_follows_write_order_and_new_versions(
    session: Session, tenant: TenantContext
) -> None:
    ingest(session, tenant, customer("pos", "a"), order("pos", "o1", customer_id="a"),
           order("pos", "o2", customer_id="a", status="created"))  # fmt: skip
    seen = records.changed_orders(session=session, tenant=tenant, since=None)
    mine = [c for c in seen if c.record.order_id in ("o1", "o2")]
    assert [c.record.order_id for c in mine] == ["o1", "o2"]
    last = mine[-1]
    assert (
        records.changed_orders(
            session=session, tenant=tenant, since=last.updated_at, after_id=last.row_id
        )
        == []
    )
    ingest(session, tenant, order("pos", "o1", customer_id="a", status="refunded"))
    again = records.changed_orders(
        session=session, tenant=tenant, since=last.updated_at, after_id=last.row_id
    )
    assert [(c.record.order_id, c.record.status) for c in again] == [("o1", "refunded")]
    ingest(session, tenant, {"kind": "refund", "source": "pos", "refund_id": "r1",
                             "order_id": "o1", "amount": "10.00",
                             "created_at": "2024-05-02T00:00:00+08:00"})  # fmt: skip
    refunds = records.changed_refunds(session=session, tenant=tenant, since=None)
    assert [(r.record.refund_id, str(r.record.amount)) for r in refunds] == [("r1", "10.00")]
