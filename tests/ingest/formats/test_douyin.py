"""Douyin shop (抖店) order export (one row per sub-order) through `--format douyin`."""

from __future__ import annotations

from decimal import Decimal

from .conftest import Ingest, Store, entries_by_line


def test_sub_orders_group_into_orders(ingest_format: Ingest, stored: Store) -> None:
    report = ingest_format("douyin", "douyin/orders.csv")
    assert report["by_kind"] == {"customer": 7, "order": 6}
    orders = stored.orders("douyin")
    two = orders["6921458803321098762"]  # the leading-tab Excel guard is gone
    assert [(i["product_name"], i["quantity"], i["amount"]) for i in two.items or []] == [
        ("氨基酸洁面乳", 2, "156.00"),
        ("玫瑰保湿喷雾", 1, "100.00"),
    ]
    # total: the lines at list price; paid: the sub-orders' 订单应付金额 added up
    assert (two.total_amount, two.paid_amount) == (Decimal("256.00"), Decimal("250.00"))
    assert two.discount_amount == Decimal("6.00")
    assert two.ship_to == {
        "name": "王*",
        "phone": "139****2468",
        "province": "上海市",
        "city": "上海市",
        "district": "浦东新区",
        "address": "张江路**弄**号",
    }


def test_statuses_with_after_sale_refunds(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("douyin", "douyin/orders.csv")
    got = {oid[-2:]: o.status for oid, o in stored.orders("douyin").items()}
    assert got == {
        "61": "completed",
        "62": "shipped",
        "65": "paid",
        "66": "refunded",  # 已关闭 after payment, 售后 退款成功
        "67": "partially_refunded",  # one of two sub-orders 退款成功
        "70": "created",
    }
    assert stored.orders("douyin")["6921458803321098770"].paid_amount == Decimal("0.00")


def test_buyers_are_keyed_by_the_masked_recipient(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("douyin", "douyin/orders.csv")
    customers = stored.customers("douyin")
    assert all(key.startswith("rcpt:") for key in customers)
    zhang = next(c for c in customers.values() if c.name == "张**")
    assert zhang.identifiers == {}
    assert zhang.hints == {"masked_phone": "138****5678"}
    assert (zhang.province, zhang.city, zhang.district) == ("浙江省", "杭州市", "西湖区")
    order = stored.orders("douyin")["6921458803321098761"]
    assert order.customer_external_id == zhang.external_id
    oneids = stored.oneids()
    assert (
        oneids[("order", "douyin", "6921458803321098761")]
        == oneids[("customer", "douyin", zhang.external_id)]
    )


def test_unknown_status_is_quarantined(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("douyin", "douyin/orders.csv")
    entries = entries_by_line(stored)
    assert list(entries) == [("orders.csv", 10)]
    entry = entries[("orders.csv", 10)]
    assert entry.field == "订单状态"
    assert "unknown value '备货中(已冻结)'" in entry.reason
    assert entry.record_id == "6921458803321098771"


def test_gzipped_export(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("douyin", "douyin/orders.csv")
    again = ingest_format("douyin", "douyin/orders.csv.gz")
    assert (again["unchanged"], again["new"], again["quarantined"]) == (13, 0, 1)
