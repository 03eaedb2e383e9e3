"""Reports on the real Online Retail data agree with figures computed here with DuckDB SQL."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy.orm import Session

from siyu import analytics, ingest
from siyu.traits import run_compute
from support import MakeTenant

# ../shared/data beside the project (CI, main checkout); SIYU_SHARED_DATA elsewhere.
DATA = Path(
    os.environ.get("SIYU_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
ROWS = 60_000  # the first five weeks: ~3,300 records, enough for every report
AS_OF = date(2011, 12, 10)


@pytest.fixture
def retail(
    session: Session, make_tenant: MakeTenant, tmp_path: Path
) -> tuple[Any, duckdb.DuckDBPyConnection, Path]:
    path = DATA / "online_retail.parquet"
    if not path.exists():
        pytest.skip(f"{path} not present (set SIYU_SHARED_DATA)")
    tenant = make_tenant(timezone="Europe/London")
    converted = tmp_path / "retail.jsonl"
    summary = analytics.convert_online_retail(parquet=path, out=converted, limit=ROWS)
    report = ingest.ingest_files(session=session, tenant=tenant, paths=[converted])
    assert report.quarantined == 0
    assert report.accepted == summary.customers + summary.orders + summary.refunds
    run_compute(session=session, tenant=tenant, engine_dir=tmp_path / "engine", as_of=AS_OF)
    # The independent side: plain SQL over the raw file, with the importer's rules.
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE raw AS SELECT * FROM read_parquet('{path}') LIMIT {ROWS};
        CREATE TABLE sales AS
          SELECT InvoiceNo AS invoice, CAST(CustomerID AS BIGINT) AS customer,
                 min(InvoiceDate) AS ts,
                 sum(round(CAST(UnitPrice AS DECIMAL(18,3)) * Quantity, 2)) AS amount
          FROM raw
          WHERE CustomerID IS NOT NULL AND InvoiceNo NOT LIKE 'C%'
            AND Quantity > 0 AND UnitPrice > 0
          GROUP BY 1, 2;
        CREATE TABLE cancels AS
          SELECT InvoiceNo AS invoice, CAST(CustomerID AS BIGINT) AS customer,
                 min(InvoiceDate) AS ts,
                 sum(round(CAST(UnitPrice AS DECIMAL(18,3)) * abs(Quantity), 2)) AS amount
          FROM raw WHERE CustomerID IS NOT NULL AND InvoiceNo LIKE 'C%' GROUP BY 1, 2;
        CREATE TABLE refunded AS
          SELECT * FROM cancels c
          WHERE EXISTS (SELECT 1 FROM sales s WHERE s.customer = c.customer AND s.ts <= c.ts);
    """)
    return tenant, con, tmp_path / "engine"


def _report(session: Session, tenant: Any, engine_dir: Path, name: str) -> list[dict[str, Any]]:
    return analytics.run_report(
        session=session, tenant=tenant, name=name, engine_dir=engine_dir
    ).rows


def test_retail_reports(
    session: Session, retail: tuple[Any, duckdb.DuckDBPyConnection, Path]
) -> None:
    tenant, con, engine_dir = retail

    def one(sql: str) -> Any:
        return con.execute(sql).fetchone()[0]  # type: ignore[index]

    net_gmv = Decimal(one("SELECT sum(amount) FROM sales")) - Decimal(
        one("SELECT coalesce(sum(amount), 0) FROM refunded")
    )
    buyers = one("SELECT count(DISTINCT customer) FROM sales")

    repurchase = {
        r["orders"]: r["buyers"] for r in _report(session, tenant, engine_dir, "repurchase")
    }
    expected = dict(
        con.execute("""
            SELECT CASE WHEN n >= 4 THEN '4+' ELSE CAST(n AS VARCHAR) END, count(*)
            FROM (SELECT customer, count(*) AS n FROM sales GROUP BY 1) GROUP BY 1
        """).fetchall()
    )
    assert repurchase == expected

    (member,) = _report(session, tenant, engine_dir, "member-gmv")
    assert (member["is_member"], member["buyers"], member["share_permille"]) == (
        False,
        buyers,
        1000,
    )
    assert member["gmv"] == net_gmv

    monthly = {
        r["month"]: (r["orders"], r["buyers"])
        for r in _report(session, tenant, engine_dir, "monthly")
    }
    expected_monthly = {
        m.date() if hasattr(m, "date") else m: (o, b)
        for m, o, b in con.execute("""
            SELECT date_trunc('month', ts)::DATE, count(*), count(DISTINCT customer)
            FROM sales GROUP BY 1
        """).fetchall()
    }
    assert monthly == expected_monthly

    cohorts = {
        (r["cohort_month"], r["offset"]): (r["cohort_buyers"], r["buyers"])
        for r in _report(session, tenant, engine_dir, "cohorts")
    }
    expected_cohorts = {
        (c, o): (size, n)
        for c, o, size, n in con.execute("""
            WITH months AS (SELECT DISTINCT customer, date_trunc('month', ts) AS m FROM sales),
                 firsts AS (SELECT customer, min(m) AS c FROM months GROUP BY 1),
                 sizes AS (SELECT c, count(*) AS size FROM firsts GROUP BY 1)
            SELECT strftime(f.c, '%Y-%m'), datediff('month', f.c, m.m), s.size, count(*)
            FROM months m JOIN firsts f USING (customer) JOIN sizes s ON s.c = f.c
            GROUP BY 1, 2, 3
        """).fetchall()
    }
    assert cohorts == expected_cohorts

    grid = _report(session, tenant, engine_dir, "rfm-grid")
    assert sum(r["buyers"] for r in grid) == buyers
    assert sum(r["net"] for r in grid) == net_gmv

    assets = _report(session, tenant, engine_dir, "assets")
    stages = {r["lifecycle_stage"]: r["persons"] for r in assets}
    expected_stages = dict(
        con.execute(f"""
            WITH people AS (SELECT DISTINCT CAST(CustomerID AS BIGINT) AS customer FROM raw
                            WHERE CustomerID IS NOT NULL),
                 last AS (SELECT customer, max(ts::DATE) AS d FROM sales GROUP BY 1)
            SELECT CASE WHEN l.d IS NULL THEN 'prospect'
                        WHEN DATE '{AS_OF}' - l.d <= 180 THEN 'active'
                        WHEN DATE '{AS_OF}' - l.d <= 365 THEN 'silent'
                        ELSE 'churned' END, count(*)
            FROM people p LEFT JOIN last l USING (customer) GROUP BY 1
        """).fetchall()
    )
    assert stages == expected_stages  # (no first purchase within 90 days of the as-of day)
    (overlap,) = _report(session, tenant, engine_dir, "channel-overlap")
    assert (overlap["channel_a"], overlap["channel_b"], overlap["buyers"]) == ("web", "web", buyers)
