"""The RFM summary: what counts as a purchase, same-day collapse, days in the tenant's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from siyu import clv
from siyu.clv.summary import rfm_summary
from siyu.tenants import TenantContext
from support import customer, identity_map, ingest, order

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=SHANGHAI)


def test_summary_collapses_days_and_averages_repeat_spend() -> None:
    purchases = [
        ("A", at("2024-01-01", 10), Decimal("10.00")),
        ("A", at("2024-01-01", 20), Decimal("5.00")),  # same day: one purchase of 15
        ("A", at("2024-01-08"), Decimal("20.00")),
        ("A", at("2024-01-22"), Decimal("30.00")),
        ("A", at("2024-01-30"), Decimal("99.00")),  # after `until`: ignored
        ("B", at("2024-01-15"), Decimal("7.50")),
        ("C", at("2024-02-01"), Decimal("1.00")),  # only after `until`: not a customer yet
    ]
    summary = rfm_summary(purchases, until=date(2024, 1, 29), unit="week", zone=SHANGHAI)
    assert summary.oneids == ["A", "B"]
    assert summary.frequency.tolist() == [2, 0]
    assert summary.recency.tolist() == pytest.approx([3, 0])
    assert summary.age.tolist() == pytest.approx([4, 2])
    assert summary.monetary.tolist() == pytest.approx([25, 0])  # first purchase excluded


def test_days_are_calendar_days_in_the_tenant_zone() -> None:
    # One UTC date, two Shanghai dates (23:00 and 01:00 local): two purchase days.
    purchases = [
        ("A", datetime(2024, 1, 10, 15, tzinfo=UTC), Decimal("1.00")),
        ("A", datetime(2024, 1, 10, 17, tzinfo=UTC), Decimal("3.00")),
    ]
    in_shanghai = rfm_summary(purchases, until=date(2024, 1, 20), unit="day", zone=SHANGHAI)
    assert in_shanghai.frequency.tolist() == [1]
    assert in_shanghai.recency.tolist() == [1]
    assert in_shanghai.age.tolist() == [10]
    in_utc = rfm_summary(purchases, until=date(2024, 1, 20), unit="day", zone=ZoneInfo("UTC"))
    assert in_utc.frequency.tolist() == [0]


def refund(order_id: str, refund_id: str, amount: str, day: str) -> dict[str, object]:
    return {
        "kind": "refund",
        "source": "tmall",
        "refund_id": refund_id,
        "order_id": order_id,
        "amount": amount,
        "created_at": f"{day}T18:00:00",
    }


def test_paid_orders_net_of_refunds_per_person(session: Session, tenant: TenantContext) -> None:
    phone = {"phone": "13800138000"}
    ingest(
        session,
        tenant,
        customer("tmall", "t-1", phone),
        customer("jd", "j-1", phone),  # the same person on JD: one OneID
        customer("tmall", "t-2", {"phone": "13900139000"}),
        order("tmall", "o-1", customer_id="t-1", total="100.00", created_at="2024-03-01T10:00"),
        order(
            "tmall", "o-2", customer_id="t-1", status="closed", paid="0", created_at="2024-03-02"
        ),
        order("tmall", "o-3", customer_id="t-1", status="created", created_at="2024-03-03T10:00"),
        order("tmall", "o-4", customer_id="t-1", total="50.00", created_at="2024-03-04T10:00"),
        refund("o-4", "r-4", "20.00", "2024-03-05"),  # partial: the purchase is worth 30
        order("tmall", "o-5", customer_id="t-1", status="refunded", created_at="2024-03-05T10:00"),
        order("tmall", "o-6", customer_id="t-1", total="40.00", created_at="2024-03-06T10:00"),
        refund("o-6", "r-6a", "15.00", "2024-03-07"),
        refund("o-6", "r-6b", "25.00", "2024-03-08"),  # refunded in full: not a purchase
        order(
            "jd",
            "o-7",
            customer_id="j-1",
            total="60.00",
            created_at="2024-03-06T23:00",
            paid_at="2024-03-07T09:00",  # counted on the day it was paid
        ),
        order("tmall", "o-8", customer_id="t-2", status="shipped", created_at="2024-03-02T10:00"),
    )
    summary = clv.purchase_summary(
        session=session, tenant=tenant, until=date(2024, 3, 10), unit="day"
    )
    oneids = identity_map(session, tenant)
    assert oneids["customer:tmall/t-1"] == oneids["customer:jd/j-1"]
    assert sorted(summary.oneids) == sorted(
        {oneids["customer:tmall/t-1"], oneids["customer:tmall/t-2"]}
    )
    first = summary.oneids.index(oneids["customer:tmall/t-1"])
    # Purchase days of the first person: Mar 1 (100), Mar 4 (30), Mar 7 (60 on JD).
    assert summary.frequency[first] == 2
    assert summary.recency[first] == 6
    assert summary.age[first] == 9
    assert summary.monetary[first] == pytest.approx(45)
    other = summary.oneids.index(oneids["customer:tmall/t-2"])
    assert (summary.frequency[other], summary.age[other]) == (0, 8)
