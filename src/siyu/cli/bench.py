"""`siyu bench ...`: print a table and write JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from siyu.cli.common import console, options

bench_app = typer.Typer(help="Benchmarks (print a table, write JSON).", no_args_is_help=True)


@bench_app.command("ingest")
def bench_ingest(
    persons: Annotated[int, typer.Option(help="≈3 customer records each")] = 100_000,
    orders_per_person: Annotated[float, typer.Option()] = 10.0,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/ingest.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep data and database here")] = None,
    batch_size: Annotated[int, typer.Option()] = 5000,
) -> None:
    """Bulk import with identity resolution (target: 1M orders + 300K customers ≤ 30 s)."""
    from siyu.bench.ingest import run_ingest_bench

    result = run_ingest_bench(
        persons=persons,
        orders_per_person=orders_per_person,
        database_url=options.database_url,
        work_dir=work_dir,
        batch_size=batch_size,
    )
    _report(result, out)


def _report(result: dict[str, Any], out: Path) -> None:
    table = Table("metric", "value", title=f"siyu bench {result['benchmark']}")
    for key, value in result.items():
        if key != "machine":
            table.add_row(key, str(value))
    console.print(table)
    write_result(result, out)


def write_result(result: dict[str, Any], out: Path) -> None:
    """Write a benchmark's JSON result."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    console.print(f"wrote {out}")
