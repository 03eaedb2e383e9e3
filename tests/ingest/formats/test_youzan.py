"""Youzan order export, with and without its item export, through `--format youzan`."""

from __future__ import annotations

from decimal import Decimal

from .conftest import Ingest, Store, entries_by_line

ORDERS, ITEMS = "youzan/orders.csv", "youzan/items.csv"


def test_orders_with_joined_items(ingest_format: Ingest, stored: Store) -> None:
    report = ingest_format("youzan", ITEMS, ORDERS)  # files in any order: told apart by header
    assert report["by_kind"] == {"customer": 7, "order": 6}
    orders = stored.orders("youzan")
    big = orders["E20240802150000012300002"]  # "¥1,256.00" style amounts
    assert (big.total_amount, big.paid_amount, big.shipping_amount) == (
        Decimal("1256.00"),
        Decimal("1266.00"),
        Decimal("10.00"),
    )
    assert [(i["sku"], i["quantity"], i["unit_price"], i["amount"]) for i in big.items or []] == [
        ("QH-SET-01", 1, "1100.00", "1100.00"),
        ("QH-CLN-120", 2, "78.00", "156.00"),
    ]
    assert (big.store_id, big.staff_id) == ("青禾美妆小店", "S012")
    assert orders["E20240803090000012300003"].items is None  # no lines in the item export


def test_statuses_and_refunds(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("youzan", ORDERS, ITEMS)
    got = {oid[-1]: (o.status, o.paid_amount) for oid, o in stored.orders("youzan").items()}
    assert got == {
        "1": ("completed", Decimal("378.00")),
        "2": ("paid", Decimal("1266.00")),
        "3": ("shipped", Decimal("129.00")),
        "4": ("created", Decimal("0.00")),
        "5": ("refunded", Decimal("599.00")),
        "6": ("partially_refunded", Decimal("200.00")),  # 订单已退款金额 50 of 200
    }


def test_buyers_by_phone_and_guests_by_recipient(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("youzan", ORDERS, ITEMS)
    customers = stored.customers("youzan")
    members = {c.name: c for key, c in customers.items() if key.startswith("buyer:")}
    assert members["李小明"].identifiers == {"phone": "13812345678"}
    assert members["李小明"].attributes == {"nickname": "小明", "member": True}
    assert "13812345678" not in members["李小明"].external_id  # no raw phone in record ids
    guests = [c for key, c in customers.items() if key.startswith("rcpt:")]
    assert [(g.name, g.hints) for g in guests] == [("赵磊", {"masked_phone": "186****4321"})]
    order = stored.orders("youzan")["E20240801103000012300001"]
    assert order.customer_identifiers == {"phone": "13812345678"}


def test_more_than_two_decimals_is_quarantined(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("youzan", ORDERS, ITEMS)
    entries = entries_by_line(stored)
    assert list(entries) == [("orders.csv", 8)]
    assert entries[("orders.csv", 8)].field == "商品金额合计"
    assert "'78.345' has more than 2 decimals" in entries[("orders.csv", 8)].reason
