"""消费者资产: charts carry the same numbers as the tables and the CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

from fastapi.testclient import TestClient

from web_support import sign_in


def _options(html: str) -> dict[str, dict[str, object]]:
    found = {}
    for panel, option in re.findall(
        r'id="panel-([a-z-]+)".*?data-option=\'(.*?)\'', html, flags=re.DOTALL
    ):
        found[panel] = json.loads(unescape(option))
    return found


def test_overview_shows_each_report_as_chart_table_and_csv(console: TestClient) -> None:
    sign_in(console, "analyst")
    page = console.get("/overview")
    assert page.status_code == 200
    options = _options(page.text)
    assert set(options) == {"assets", "member-gmv", "repurchase", "cohorts", "monthly"}

    rows = list(
        csv.DictReader(io.StringIO(console.get("/overview/repurchase.csv").text.lstrip("\ufeff")))
    )
    assert [r["orders"] for r in rows] == ["1", "2", "3", "4+"]
    series = options["repurchase"]["series"]
    assert isinstance(series, list)
    assert series[0]["data"] == [int(r["buyers"]) for r in rows]

    assets = list(
        csv.DictReader(io.StringIO(console.get("/overview/assets.csv").text.lstrip("\ufeff")))
    )
    stacked = options["assets"]["series"]
    assert isinstance(stacked, list)
    assert sum(sum(s["data"]) for s in stacked) == sum(int(r["persons"]) for r in assets)
    assert "消费者资产" in page.text


def test_unknown_report_csv_is_404(console: TestClient) -> None:
    sign_in(console, "admin")
    assert console.get("/overview/nope.csv").status_code == 404
