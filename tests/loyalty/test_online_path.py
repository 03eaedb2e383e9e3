"""Orders arriving through the online path (REST API) earn at once; replays earn nothing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty_support import make_program, person
from siyu import loyalty
from siyu.online import accept_records
from siyu.tenants import TenantContext
from support import order


def test_an_order_through_the_online_path_earns_once(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=0, auto_enrol_on_paid_order=True,
                 expiry={"kind": "never"})  # fmt: skip
    oneid = person(session, tenant, "c1")
    paid = order("pos", "o1", customer_id="c1", total="100.00")
    for _ in range(2):  # the same order again is unchanged: nothing more is earned
        accept_records(session=session, tenant=tenant, items=[paid], origin="test")
    view = loyalty.get_member(session=session, tenant=tenant, program="main", oneid=oneid)
    assert view.enrolled_via == "rule:first_paid_order"
    assert view.balance.available == 100
    refund = {"kind": "refund", "source": "pos", "refund_id": "r1", "order_id": "o1",
              "amount": "40.00", "created_at": "2024-05-02T10:00:00+08:00"}  # fmt: skip
    accept_records(session=session, tenant=tenant, items=[refund], origin="test")
    view = loyalty.get_member(session=session, tenant=tenant, program="main", oneid=oneid)
    assert view.balance.available == 60
