"""Rebuild the encoded and spreadsheet variants of the sample exports from their UTF-8 CSVs.

    python examples/formats/build_variants.py

The UTF-8 CSVs are the samples as written; the variants are what operators also download:
GBK CSVs (Taobao/Tmall and older JD exports), XLSX (JD, mini-program backends), gzip.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
GBK = {
    "tmall/ExportOrderList.csv": "tmall/ExportOrderList_gbk.csv",
    "tmall/ExportOrderDetailList.csv": "tmall/ExportOrderDetailList_gbk.csv",
    "jd/orders.csv": "jd/orders_gbk.csv",
    "pos/sales.csv": "pos/sales_gbk.csv",
}
XLSX = {
    "tmall/ExportOrderList.csv": "tmall/ExportOrderList.xlsx",
    "jd/orders.csv": "jd/orders.xlsx",
    "wechat_mp/members.csv": "wechat_mp/members.xlsx",
}
GZIP = {"douyin/orders.csv": "douyin/orders.csv.gz"}


def main() -> None:
    for source, target in GBK.items():
        text = (HERE / source).read_text(encoding="utf-8-sig")
        (HERE / target).write_bytes(text.encode("gbk"))
    for source, target in XLSX.items():
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["订单导出"])  # a title row above the header, as some backends write
        with (HERE / source).open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                sheet.append([_cell(value) for value in row])
        book.save(HERE / target)
    for source, target in GZIP.items():
        (HERE / target).write_bytes(gzip.compress((HERE / source).read_bytes(), mtime=0))


def _cell(value: str) -> object:
    """Numbers as spreadsheets hold them: counts as int, prices as float; ids stay text."""
    text = value.strip()
    if text.startswith('="') and text.endswith('"'):
        return text[2:-1]  # a CSV's Excel guard: in a spreadsheet the cell is simply text
    if text.isdigit() and len(text) < 8:
        return int(text)
    try:
        if "." in text and len(text) < 12:
            return float(text)
    except ValueError:
        pass
    return value


if __name__ == "__main__":
    main()
