"""A generic POS sales export (one row per ticket line) through `--format pos`."""

from __future__ import annotations

from decimal import Decimal

from .conftest import Ingest, Store, entries_by_line


def test_ticket_lines_become_orders_of_members(ingest_format: Ingest, stored: Store) -> None:
    report = ingest_format("pos", "pos/sales.csv")
    assert report["by_kind"] == {"customer": 3, "order": 3}
    ticket = stored.orders("pos")["S001202409010001"]
    assert ticket.status == "completed"
    assert (ticket.total_amount, ticket.paid_amount, ticket.discount_amount) == (
        Decimal("486.00"),
        Decimal("477.20"),
        Decimal("8.80"),
    )
    assert (ticket.store_id, ticket.staff_id) == ("S001", "G007")
    assert [(i["sku"], i["category"], i["amount"]) for i in ticket.items or []] == [
        ("6901234567001", "护肤", "398.00"),
        ("6901234567005", "身体护理", "88.00"),
    ]
    assert stored.orders("pos")["S001202409040001"].status == "refunded"
    member = stored.customers("pos")["QH20230002"]
    assert member.identifiers == {"member_no": "QH20230002", "phone": "13987654321"}  # +86 ...


def test_walk_in_sale_and_bad_time_are_quarantined(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("pos", "pos/sales.csv")
    entries = entries_by_line(stored)
    assert set(entries) == {("sales.csv", 5), ("sales.csv", 7)}
    walk_in = entries[("sales.csv", 5)]
    assert walk_in.field == "会员卡号"  # no member: the order has no buyer (customer_ref)
    assert "customer_ref" in walk_in.reason
    assert entries[("sales.csv", 7)].field == "销售时间"


def test_gbk_variant(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("pos", "pos/sales.csv")
    again = ingest_format("pos", "pos/sales_gbk.csv")
    assert (again["unchanged"], again["quarantined"]) == (6, 2)
