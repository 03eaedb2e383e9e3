"""JD POP order export (one row per SKU) through `siyu ingest --format jd`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .conftest import Ingest, Store, entries_by_line


def test_rows_of_one_order_become_one_order_with_lines(
    ingest_format: Ingest, stored: Store
) -> None:
    report = ingest_format("jd", "jd/orders.csv")
    assert report["by_kind"] == {"customer": 7, "order": 5}
    assert report["quarantined"] == 2
    order = stored.orders("jd")["282345678901"]
    assert (order.total_amount, order.paid_amount) == (Decimal("477.00"), Decimal("463.00"))
    assert [
        (i["product_id"], i["sku"], i["quantity"], i["unit_price"]) for i in order.items or []
    ] == [
        ("100012345678", "QH-ESS-30", 1, "398.00"),
        ("100012345679", "QH-CLN-120", 1, "79.00"),
    ]
    assert order.ship_to == {
        "name": "张伟",
        "phone": "138****1234",
        "province": "北京",
        "city": "北京市",
        "district": "朝阳区",
        "address": "三环到四环之间建国路88号",
    }
    assert order.customer_external_id == "jd_4a7c19e2b3f8"
    assert order.customer_identifiers == {"jd_pin": "jd_4a7c19e2b3f8"}


def test_statuses_and_unpaid_amounts(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("jd", "jd/orders.csv")
    got = {oid: (o.status, o.paid_amount) for oid, o in stored.orders("jd").items()}
    assert got == {
        "282345678901": ("completed", Decimal("463.00")),
        "282345678902": ("paid", Decimal("200.00")),
        "282345678903": ("shipped", Decimal("135.00")),
        "282345678904": ("created", Decimal("0.00")),  # 应付金额 99 is due, not paid
        "282345678905": ("refunded", Decimal("599.00")),  # 已取消 after 付款确认时间
    }


def test_buyer_pin_is_the_identifier_and_masked_phones_are_hints(
    ingest_format: Ingest, stored: Store
) -> None:
    ingest_format("jd", "jd/orders.csv")
    customers = stored.customers("jd")
    assert customers["jd_4a7c19e2b3f8"].identifiers == {"jd_pin": "jd_4a7c19e2b3f8"}
    assert customers["jd_4a7c19e2b3f8"].hints == {"masked_phone": "138****1234"}
    assert customers["jd_77e0c2d1a9b4"].identifiers == {
        "jd_pin": "jd_77e0c2d1a9b4",
        "phone": "13698765432",
    }
    assert (customers["jd_77e0c2d1a9b4"].province, customers["jd_77e0c2d1a9b4"].city) == (
        "广东",
        "深圳市",
    )


def test_bad_rows_name_the_jd_column(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("jd", "jd/orders.csv")
    entries = entries_by_line(stored)
    assert set(entries) == {("orders.csv", 8), ("orders.csv", 9)}
    assert entries[("orders.csv", 8)].field == "订购数量"
    assert "'1.5' is not a whole number" in entries[("orders.csv", 8)].reason
    # an empty 下单时间 is caught by the contract (created_at required), named by its column
    assert entries[("orders.csv", 9)].field == "下单时间"
    assert "created_at" in entries[("orders.csv", 9)].reason


@pytest.mark.parametrize("variant", ["jd/orders_gbk.csv", "jd/orders.xlsx"])
def test_gbk_and_xlsx_exports(ingest_format: Ingest, stored: Store, variant: str) -> None:
    ingest_format("jd", "jd/orders.csv")
    again = ingest_format("jd", variant)
    assert (again["unchanged"], again["new"], again["quarantined"]) == (12, 0, 2)
    assert len(stored.quarantine()) == 2  # the same bad rows are not kept twice


def test_xlsx_rows_are_numbered_as_in_the_sheet(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("jd", "jd/orders.xlsx")  # a title row sits above the header
    entries = entries_by_line(stored)
    assert {line: e.field for (_file, line), e in entries.items()} == {
        9: "订购数量",
        10: "下单时间",
    }
