"""Reading exports: encodings, Excel guards, header search; cell conversions."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.ingest.formats import TableError, open_table
from siyu.ingest.formats.engine import _hint_identifiers
from siyu.ingest.formats.tables import clean_cell, detect_encoding
from siyu.ingest.formats.values import CellError, amount, split_address, timestamp

TEXT = "订单编号,收货人\n1,王芳\n2,𠀀李\n"  # 𠀀 is in GB18030 but not in GBK


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8-sig"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030")],
)
def test_encodings_are_detected(tmp_path: Path, encoding: str, expected: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(TEXT.encode(encoding))
    table = open_table(path)
    assert (table.encoding, table.header) == (expected, ["订单编号", "收货人"])
    assert [row.values["收货人"] for row in table.rows] == ["王芳", "𠀀李"]


def test_gbk_text_cut_inside_a_character_is_still_gbk() -> None:
    data = ("收货人" * 10).encode("gbk")
    assert detect_encoding(data[:-1]) == "gb18030"
    assert detect_encoding(("收货人" * 10).encode()[:-1]) == "utf-8-sig"


def test_gzip_title_rows_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "export.csv.gz"
    body = '订单导出,,\n\n单号,备注,金额\n="001","两行\n的备注",1.00\n002,,2.00\n'
    path.write_bytes(gzip.compress(body.encode("gbk")))
    table = open_table(path, want=["单号", "金额"])
    rows = list(table.rows)
    assert table.header == ["单号", "备注", "金额"]
    assert [(r.line, r.values["单号"]) for r in rows] == [(4, "001"), (6, "002")]
    assert table.probe.position == table.probe.size


def test_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(TableError, match="expected a .csv"):
        open_table(path)
    broken = tmp_path / "export.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(TableError, match="not a readable .xlsx"):
        open_table(broken)


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        ('="3701456218839012345"', "3701456218839012345"),
        ("\t6921458803321098761", "6921458803321098761"),
        ("'13800138000", "13800138000"),
        (199.9, "199.9"),
        (13800138000.0, "13800138000"),
        (None, ""),
    ],
)
def test_excel_guards_are_removed(cell: object, text: str) -> None:
    assert clean_cell(cell) == text


@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False))
def test_amounts_are_exact(value: Decimal) -> None:
    text = f"{value:.2f}"
    assert amount("金额", text, "yuan") == text
    assert amount("金额(分)", str(int(value * 100)), "fen") == text


def test_amount_and_time_errors_name_the_column() -> None:
    assert amount("实付", "¥1,299.00", "yuan") == "1299.00"
    with pytest.raises(CellError, match="实付: '1.234' has more than 2 decimals"):
        amount("实付", "1.234", "yuan")
    assert timestamp("下单时间", "2024/5/1 9:05", ()) == "2024-05-01T09:05:00"
    assert timestamp("下单时间", "1714525200", ("unix",)) == "2024-05-01T01:00:00+00:00"
    with pytest.raises(CellError, match="下单时间: '昨天' is not a date and time"):
        timestamp("下单时间", "昨天", ())


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "浙江省 杭州市 西湖区 文三路 138号(310012)",
            ("浙江省", "杭州市", "西湖区", "文三路 138号", "310012"),
        ),
        ("北京朝阳区建国路88号", ("北京", "北京市", "朝阳区", "建国路88号", None)),
        ("广东深圳市南山区科技园", ("广东", "深圳市", "南山区", "科技园", None)),
    ],
)
def test_one_cell_addresses_are_split(text: str, parts: tuple[str | None, ...]) -> None:
    found = split_address(text)
    keys = ("province", "city", "district", "address", "postal_code")
    assert tuple(found.get(k) for k in keys) == parts


@pytest.mark.parametrize(
    ("phone", "identifiers", "attributes"),
    [
        ("13912345678", {"phone": "13912345678"}, None),
        ("138****5678", {"phone": "138****5678"}, None),  # a hint for the identity rules
        ("+86 138-****-5678", {"phone": "+86 138-****-5678"}, None),
        ("010-6588****", {}, {"masked_phone": "010-6588****"}),  # a masked landline
        ("0571-88886666", {}, {"phone_unparsed": "0571-88886666"}),
        ("E10ADC3949BA59ABBE56E057F20F883E", {}, {"phone_md5": "e10adc3949ba59abbe56e057f20f883e"}),
        ("A" * 64, {"phone_sha256": "a" * 64}, None),
    ],
)
def test_phone_columns_are_classified(
    phone: str, identifiers: dict[str, str], attributes: dict[str, str] | None
) -> None:
    record: dict[str, object] = {"identifiers": {"phone": phone}}
    _hint_identifiers(record)
    assert record["identifiers"] == identifiers
    assert record.get("attributes") == attributes
