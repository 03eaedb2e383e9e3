"""The import feed: orders and refunds stored since the watermark earn and reverse points
once, in the order they were written; recent rows can be left to settle."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty_support import make_program, person
from siyu import loyalty
from siyu.ingest import ingest_records
from siyu.store.base import utcnow
from siyu.tenants import TenantContext
from support import Record, customer, order


def ingest(session: Session, tenant: TenantContext, *items: Record) -> None:
    """Import the way files are: no online reactions, the feed catches up."""
    _report, results = ingest_records(
        session=session, tenant=tenant, items=list(items), origin="file"
    )
    assert all(r.status == "accepted" for r in results), results


def _feed(session: Session, tenant: TenantContext, **options: object) -> loyalty.FeedReport:
    return loyalty.process_feed(session=session, tenant=tenant, now=utcnow(), **options)  # type: ignore[arg-type]


def test_the_feed_awards_imports_once_and_follows_new_versions(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=0, auto_enrol_on_paid_order=True,
                 expiry={"kind": "never"})  # fmt: skip
    ingest(session, tenant, customer("pos", "c1"),
           order("pos", "o1", customer_id="c1", total="100.00"),
           order("pos", "o2", customer_id="c1", total="50.00", status="created"))  # fmt: skip
    assert _feed(session, tenant, settle_seconds=3600).orders == 0  # too fresh: waits
    first = _feed(session, tenant, limit=1)
    assert (first.orders, first.earned, first.enrolled) == (1, 100, 1)
    second = _feed(session, tenant, limit=1)
    assert (second.orders, second.earned) == (1, 0)  # o2 is not paid yet
    assert _feed(session, tenant).orders == 0
    ingest(session, tenant,
           order("pos", "o2", customer_id="c1", total="50.00", status="paid"),
           {"kind": "refund", "source": "pos", "refund_id": "r1", "order_id": "o1",
            "amount": "40.00", "created_at": "2024-05-02T10:00:00+08:00"})  # fmt: skip
    third = _feed(session, tenant)
    assert (third.orders, third.refunds, third.earned, third.reversed) == (1, 1, 50, 40)
    oneid = person(session, tenant, "c1")
    view = loyalty.get_member(session=session, tenant=tenant, program="main", oneid=oneid)
    assert view.balance.available == 110


def test_the_feed_merges_memberships_of_persons_merged_since(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=0, expiry={"kind": "never"})
    a = person(session, tenant, "a", phone="13800000001")
    b = person(session, tenant, "b", member_no="M1")
    for oneid in (a, b):
        loyalty.enrol_member(session=session, tenant=tenant, program="main", oneid=oneid)
    ingest(session, tenant, customer("web", "w", {"phone": "13800000001", "member_no": "M1"}))
    assert _feed(session, tenant).merges == 1
    events = [e.type for e in loyalty.events_since(session=session, tenant=tenant)]
    assert events.count("members_merged") == 1
