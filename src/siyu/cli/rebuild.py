"""`siyu identity rebuild`: recompute every person in the columnar engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from siyu.cli.common import console, fail, options, print_json, runtime


def rebuild_command(
    engine: Annotated[
        str | None, typer.Option(help="duckdb (default, SIYU_ENGINE) or spark")
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(help="fast (DuckDB + scipy; DuckDB's default) or portable (any engine)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report what would change; write nothing")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Recompute every person from all records; OneIDs stay stable, changes are recorded."""
    from siyu.engine import EngineUnavailableError
    from siyu.identity import rebuild_identity

    rt = runtime()
    with rt.session() as session:
        tenant = rt.tenant(session, options.tenant)
        try:
            report = rebuild_identity(
                session=session,
                tenant=tenant,
                engine_dir=Path(rt.settings.engine_dir),
                engine=engine or rt.settings.engine,
                method=method,
                spark_master=rt.settings.spark_master,
                spark_conf=rt.settings.spark_conf,
                dry_run=dry_run,
            )
        except (EngineUnavailableError, ValueError) as error:
            fail(str(error))
            return
    if json:
        print_json(report)
        return
    title = f"siyu identity rebuild ({report.engine}, {report.method})"
    table = Table("metric", "value", title=title + (" — dry run" if report.dry_run else ""))
    for key, value in report.model_dump(mode="json").items():
        table.add_row(key, str(value))
    console.print(table)
