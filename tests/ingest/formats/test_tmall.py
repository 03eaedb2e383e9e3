"""Tmall/Taobao 订单报表 + 宝贝报表 through `siyu ingest --format tmall`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from siyu.identity import phone_sha256

from .conftest import SAMPLES, Ingest, Store, entries_by_line

ORDERS, ITEMS = "tmall/ExportOrderList.csv", "tmall/ExportOrderDetailList.csv"


def test_order_report_joined_with_item_report(ingest_format: Ingest, stored: Store) -> None:
    report = ingest_format("tmall", ORDERS, ITEMS)
    assert (report["accepted"], report["quarantined"]) == (13, 2)
    assert report["by_kind"] == {"customer": 7, "order": 6}
    orders = stored.orders("tmall")
    first = orders["3701456218839012345"]  # ="..." Excel guard removed
    assert first.status == "completed"
    assert (first.total_amount, first.paid_amount) == (Decimal("398.00"), Decimal("378.00"))
    assert first.shipping_amount == Decimal("0.00")
    assert first.customer_external_id == "tb_lixiaoming"
    assert first.items == [
        {
            "product_name": "山茶花修护精华露 30ml",
            "sku": "QH-ESS-30",
            "product_id": "6901234567001",
            "quantity": 1,
            "unit_price": "398.00",
            "amount": "398.00",
        }
    ]
    # masked phones stay with the shipment, never an identifier
    assert first.ship_to == {
        "name": "李小明",
        "phone": "138****5678",
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "address": "文三路 138号东方通信大厦5楼",
    }
    assert first.customer_identifiers is None
    two_lines = orders["3701456218839012346"]
    assert [(i["sku"], i["quantity"], i["amount"]) for i in two_lines.items or []] == [
        ("QH-CLN-120", 2, "156.00"),
        ("QH-MST-150", 1, "100.00"),
    ]
    assert two_lines.customer_identifiers == {"phone": "13912345678"}


def test_statuses_map_to_the_canonical_set(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("tmall", ORDERS, ITEMS)
    orders = stored.orders("tmall")
    statuses = {oid[-2:]: (o.status, o.paid_amount) for oid, o in orders.items()}
    assert statuses == {
        "45": ("completed", Decimal("378.00")),
        "46": ("paid", Decimal("266.00")),
        "47": ("shipped", Decimal("129.00")),
        "48": ("closed", Decimal("0.00")),  # 交易关闭 before payment
        "49": ("refunded", Decimal("599.00")),  # 交易关闭 after payment, 退款金额 = paid
        "50": ("partially_refunded", Decimal("300.00")),  # 交易成功 with 退款金额 100
    }


def test_buyers_become_customer_records(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("tmall", ORDERS, ITEMS)
    customers = stored.customers("tmall")
    li = customers["tb_lixiaoming"]  # two orders, one record
    assert (li.name, li.province, li.city, li.district) == ("李小明", "浙江省", "杭州市", "西湖区")
    assert (li.address, li.postal_code) == ("文三路 138号东方通信大厦5楼", "310012")
    assert li.identifiers == {}
    assert li.hints == {"masked_phone": "138****5678"}
    assert customers["tb_wangfang88"].identifiers == {"phone": "13912345678"}
    # a masked 买家会员名 (s***8) is no id: the buyer is keyed by the recipient
    masked = [c for key, c in customers.items() if key.startswith("rcpt:")]
    assert [(c.name, c.hints) for c in masked] == [("孙悦", {"masked_phone": "137****2468"})]
    assert stored.orders("tmall")["3701456218839012349"].customer_external_id == (
        masked[0].external_id
    )
    oneids = stored.oneids()
    assert (
        oneids[("order", "tmall", "3701456218839012345")]
        == oneids[("order", "tmall", "3701456218839012348")]
        == oneids[("customer", "tmall", "tb_lixiaoming")]
    )


def test_malformed_rows_are_quarantined_with_file_line_and_column(
    ingest_format: Ingest, stored: Store
) -> None:
    ingest_format("tmall", ORDERS, ITEMS)
    entries = entries_by_line(stored)
    assert set(entries) == {("ExportOrderList.csv", 8), ("ExportOrderList.csv", 9)}
    bad_time = entries[("ExportOrderList.csv", 8)]
    assert bad_time.field == "订单创建时间"
    assert "2024-13-45 25:61:00" in bad_time.reason and "created_at" in bad_time.reason
    assert (bad_time.kind, bad_time.record_id) == ("order", "3701456218839012351")
    bad_amount = entries[("ExportOrderList.csv", 9)]
    assert bad_amount.field == "买家实际支付金额"
    assert "'六十' is not an amount" in bad_amount.reason


def test_importing_twice_changes_nothing(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("tmall", ORDERS, ITEMS)
    again = ingest_format("tmall", ORDERS, ITEMS)
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 13)
    assert len(stored.quarantine()) == 2


@pytest.mark.parametrize(
    "files",
    [
        ("tmall/ExportOrderList_gbk.csv", "tmall/ExportOrderDetailList_gbk.csv"),
        ("tmall/ExportOrderDetailList.csv", "tmall/ExportOrderList.xlsx"),  # any order
    ],
)
def test_gbk_and_xlsx_variants_give_the_same_records(
    ingest_format: Ingest, stored: Store, files: tuple[str, str]
) -> None:
    ingest_format("tmall", ORDERS, ITEMS)
    variant = ingest_format("tmall", *files)
    # the same content: every record unchanged, the two bad rows quarantined again
    assert (variant["accepted"], variant["unchanged"], variant["quarantined"]) == (13, 13, 2)


def test_order_report_alone_has_orders_without_lines(ingest_format: Ingest, stored: Store) -> None:
    report = ingest_format("tmall", ORDERS)
    assert report["by_kind"]["order"] == 6
    assert all(order.items is None for order in stored.orders("tmall").values())


def test_buyer_ouid_column_when_present(
    ingest_format: Ingest, stored: Store, tmp_path: Path
) -> None:
    lines = (SAMPLES / ORDERS).read_text(encoding="utf-8").splitlines()
    with_ouid = [lines[0] + ",买家OUID", lines[2] + ",AAHk3qXz9Lm2"]
    path = tmp_path / "ExportOrderList.csv"
    path.write_text("\n".join(with_ouid) + "\n", encoding="utf-8")
    ingest_format("tmall", path)
    buyer = stored.customers("tmall")["tb_wangfang88"]
    assert buyer.identifiers == {"phone": "13912345678", "tmall_ouid": "AAHk3qXz9Lm2"}
    order = stored.orders("tmall")["3701456218839012346"]
    assert order.customer_identifiers == {"phone": "13912345678", "tmall_ouid": "AAHk3qXz9Lm2"}
    assert phone_sha256("13912345678") != buyer.external_id
