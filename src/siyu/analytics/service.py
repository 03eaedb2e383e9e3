"""Analytics use cases: list reports, run one on an engine, write it as CSV."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu import engine as eng
from siyu import traits
from siyu.analytics.reports import REPORTS
from siyu.analytics.schemas import ReportInfo, ReportResult
from siyu.tenants import TenantContext


class UnknownReportError(LookupError):
    pass


def list_reports() -> list[ReportInfo]:
    """The reports `run_report` knows, with what each shows."""
    return [ReportInfo(name=name, description=text) for name, (_fn, text) in REPORTS.items()]


def run_report(
    *,
    session: Session,
    tenant: TenantContext,
    name: str,
    engine_dir: Path,
    engine: str = "duckdb",
    spark_master: str = "local[2]",
) -> ReportResult:
    """Run report `name` over a fresh snapshot (traits as of the last `siyu compute`)."""
    return run_reports(
        session=session,
        tenant=tenant,
        names=[name],
        engine_dir=engine_dir,
        engine=engine,
        spark_master=spark_master,
    )[0]


def run_reports(
    *,
    session: Session,
    tenant: TenantContext,
    names: list[str],
    engine_dir: Path,
    engine: str = "duckdb",
    spark_master: str = "local[2]",
) -> list[ReportResult]:
    """Run several reports over one fresh snapshot (a dashboard exports once, not per chart)."""
    unknown = [name for name in names if name not in REPORTS]
    if unknown:
        raise UnknownReportError(f"no report {unknown[0]!r}; see `siyu report --list`")
    snapshot = eng.export_snapshot(
        session=session,
        tenant=tenant,
        engine_dir=engine_dir,
        extra={
            "traits": eng.ExtraFact(
                traits.TRAITS_SCHEMA, traits.iter_trait_facts(session=session, tenant=tenant)
            )
        },
    )
    runner = eng.open_engine(engine, snapshot=snapshot, spark_master=spark_master)
    results = []
    try:
        for name in names:
            table = runner.to_arrow(REPORTS[name][0](runner))
            rows = [_yuan(row) for row in table.to_pylist()]
            columns = [c.removesuffix("_fen") for c in table.column_names]
            results.append(ReportResult(name=name, engine=engine, columns=columns, rows=rows))
    finally:
        runner.close()
    return results


def _yuan(row: dict[str, Any]) -> dict[str, Any]:
    """`x_fen` integer columns become `x` in yuan (exact)."""
    return {
        key.removesuffix("_fen"): (None if value is None else Decimal(int(value)).scaleb(-2))
        if key.endswith("_fen")
        else value
        for key, value in row.items()
    }


def write_csv(*, result: ReportResult, path: Path) -> None:
    """The report as a UTF-8 CSV with a header (BOM, so spreadsheet apps read Chinese)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=result.columns)
        writer.writeheader()
        writer.writerows(result.rows)
