"""`siyu compute`: recompute batch traits on the columnar engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from siyu.cli.common import console, fail, options, print_json, runtime


def compute_command(
    engine: Annotated[
        str | None, typer.Option(help="duckdb (default, SIYU_ENGINE) or spark")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="recompute every person")] = False,
    as_of: Annotated[
        str | None, typer.Option(help="compute for this day (YYYY-MM-DD; default today)")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Recompute traits (incremental: only persons whose data changed; --full: everyone)."""
    from siyu.engine import EngineUnavailableError
    from siyu.traits import run_compute

    rt = runtime()
    day = date.fromisoformat(as_of) if as_of else None
    with rt.session() as session:
        tenant = rt.tenant(session, options.tenant)
        try:
            report = run_compute(
                session=session,
                tenant=tenant,
                engine_dir=Path(rt.settings.engine_dir),
                engine=engine or rt.settings.engine,
                full=full,
                as_of=day,
                spark_master=rt.settings.spark_master,
            )
        except (EngineUnavailableError, ValueError) as error:
            fail(str(error))
            return
    if json:
        print_json(report)
        return
    table = Table("metric", "value", title=f"siyu compute ({report.engine}, {report.mode})")
    for key, value in report.model_dump(mode="json").items():
        table.add_row(key, str(value))
    console.print(table)
