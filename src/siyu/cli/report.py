"""`siyu report NAME`: consumer-asset reports; `siyu import-retail`: the Online Retail data."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from siyu.cli.common import console, fail, options, print_json, runtime


def report_command(
    name: Annotated[str | None, typer.Argument(help="report name (see --list)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the reports")] = False,
    out: Annotated[Path | None, typer.Option(help="write CSV here")] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb (default) or spark")] = None,
    json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Run a consumer-asset report over the store (traits as of the last `siyu compute`)."""
    from siyu import analytics

    if list_ or name is None:
        table = Table("report", "shows", title="siyu report NAME")
        for info in analytics.list_reports():
            table.add_row(info.name, info.description)
        console.print(table)
        return
    rt = runtime()
    with rt.session() as session:
        tenant = rt.tenant(session, options.tenant)
        try:
            result = analytics.run_report(
                session=session,
                tenant=tenant,
                name=name,
                engine_dir=Path(rt.settings.engine_dir),
                engine=engine or rt.settings.engine,
                spark_master=rt.settings.spark_master,
            )
        except analytics.UnknownReportError as error:
            fail(str(error))
            return
    if out is not None:
        analytics.write_csv(result=result, path=out)
        console.print(f"wrote {len(result.rows)} rows to {out}")
    elif json:
        print_json(result)
    else:
        table = Table(*result.columns, title=f"{result.name} ({result.engine})")
        for row in result.rows:
            table.add_row(*("" if row[c] is None else str(row[c]) for c in result.columns))
        console.print(table)


def import_retail_command(
    path: Annotated[Path, typer.Argument(help="online_retail.parquet")],
    limit: Annotated[int | None, typer.Option(help="only the first N rows")] = None,
) -> None:
    """Import the UCI Online Retail transactions as canonical records (tenant zone: London)."""
    from siyu import analytics, ingest

    rt = runtime()
    with rt.session() as session:
        tenant = rt.tenant(session, options.tenant)
        if tenant.settings.timezone != "Europe/London":
            console.print(
                f"[yellow]note:[/yellow] the data's times are UK wall time; tenant "
                f"{tenant.name!r} reads them in {tenant.settings.timezone}"
            )
        with tempfile.TemporaryDirectory() as scratch:
            converted = Path(scratch) / "online_retail.jsonl"
            summary = analytics.convert_online_retail(parquet=path, out=converted, limit=limit)
            report = ingest.ingest_files(session=session, tenant=tenant, paths=[converted])
    console.print(summary)
    console.print(f"accepted {report.accepted}, quarantined {report.quarantined}")
