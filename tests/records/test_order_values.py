"""`iter_order_values`: orders by status and time, refunds summed, in keyset batches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.records import iter_order_values
from siyu.tenants import TenantContext
from support import customer, ingest, order


def test_batches_statuses_time_and_refunds(session: Session, tenant: TenantContext) -> None:
    ingest(
        session,
        tenant,
        customer("pos", "c-1"),
        *(
            order("pos", f"o-{i}", customer_id="c-1", total=f"{i}.00", created_at=f"2024-05-0{i}")
            for i in range(1, 6)
        ),
        order("pos", "o-closed", customer_id="c-1", status="closed", paid="0"),
        order("pos", "o-late", customer_id="c-1", created_at="2024-06-01T00:00"),
        {
            "kind": "refund",
            "source": "pos",
            "refund_id": "r-1",
            "order_id": "o-2",
            "amount": "0.50",
            "created_at": "2024-05-03T00:00",
        },
        {
            "kind": "refund",
            "source": "pos",
            "refund_id": "r-2",
            "order_id": "o-2",
            "amount": "0.25",
            "created_at": "2024-05-04T00:00",
        },
    )
    before = datetime(2024, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    batches = list(
        iter_order_values(
            session=session, tenant=tenant, statuses={"paid"}, before=before, batch_size=2
        )
    )
    assert [len(b) for b in batches] == [2, 2, 1]
    found = {v.order_id: v for batch in batches for v in batch}
    assert sorted(found) == [f"o-{i}" for i in range(1, 6)]
    assert found["o-2"].refunded == Decimal("0.75")
    assert found["o-3"].refunded == Decimal(0)
    assert found["o-4"].paid_amount == Decimal("4.00")
    assert found["o-1"].at == datetime(2024, 5, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
