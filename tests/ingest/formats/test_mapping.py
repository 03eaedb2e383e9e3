"""`siyu ingest --map FILE`: any export through a mapping file; refusals before import."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from siyu.identity import phone_sha256

from .conftest import SAMPLES, Store, entries_by_line

MAPPING = SAMPLES / "mapping" / "erp_orders.yaml"
EXPORT = SAMPLES / "mapping" / "erp_orders.csv"
Siyu = Callable[..., Any]


def test_mapping_file_with_fen_dates_codes_and_hashes(siyu: Siyu, stored: Store) -> None:
    result = siyu("ingest", "--map", MAPPING, EXPORT)
    assert result.exit_code == 0, result.output
    orders = stored.orders("erp")
    first = orders["ERP-0001"]
    assert (first.status, first.total_amount, first.paid_amount) == (
        "completed",
        Decimal("398.00"),
        Decimal("378.00"),
    )
    assert first.created_at.isoformat() == "2024-09-01T02:00:00+00:00"  # 10:00 Shanghai
    assert first.customer_identifiers == {
        "member_no": "M001",  # normalised by the identity rules
        "phone_sha256": phone_sha256("13812345678"),
    }
    assert stored.customers("erp")["m001"].identifiers == {
        "member_no": "M001",
        "phone_sha256": phone_sha256("13812345678"),
    }
    assert orders["ERP-0002"].status == "created"
    entries = entries_by_line(stored)
    assert {line: e.field for (_f, line), e in entries.items()} == {4: "状态码", 5: "金额(分)"}
    assert "'12.5' is not a whole number of fen" in entries[("erp_orders.csv", 5)].reason


def test_a_file_of_another_platform_is_refused(siyu: Siyu, stored: Store) -> None:
    result = siyu("ingest", "--format", "tmall", SAMPLES / "jd" / "orders.csv")
    assert result.exit_code == 2
    assert "orders.csv is not a tmall export: no column 订单编号" in result.output
    assert stored.quarantine() == []


def test_auto_detects_the_format(siyu: Siyu, stored: Store) -> None:
    result = siyu("ingest", "--format", "auto", SAMPLES / "douyin" / "orders.csv", "--json")
    assert result.exit_code == 0, result.output
    assert len(stored.orders("douyin")) == 6


def test_unknown_format_and_broken_mapping(siyu: Siyu, tmp_path: Path) -> None:
    result = siyu("ingest", "--format", "taobao_classic", EXPORT)
    assert result.exit_code == 2 and "unknown format 'taobao_classic'" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: x\nsource: erp\nkind: order\ndetect: [单号]\nrecord:\n  order_id: 单号\n"
    )
    result = siyu("ingest", "--map", broken, EXPORT)
    assert result.exit_code == 2
    assert "record needs status, created_at" in result.output
