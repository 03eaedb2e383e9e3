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
    batch_size: Annotated[int | None, typer.Option(help="default: chosen by mode")] = None,
    bulk: Annotated[
        bool | None, typer.Option("--bulk/--no-bulk", help="default: chosen by size")
    ] = None,
) -> None:
    """Bulk import with identity resolution (target: 1M orders + 300K customers ≤ 30 s)."""
    from siyu.bench.ingest import run_ingest_bench

    result = run_ingest_bench(
        persons=persons,
        orders_per_person=orders_per_person,
        database_url=options.database_url,
        work_dir=work_dir,
        batch_size=batch_size,
        bulk=bulk,
    )
    _report(result, out)


@bench_app.command("experiments")
def bench_experiments(
    units: Annotated[int, typer.Option(help="units in the generated CSV")] = 1_000_000,
    file: Annotated[
        Path | None, typer.Option(help="a per-unit CSV with segment,visit,conversion,spend")
    ] = None,
    control: Annotated[str, typer.Option(help="control arm of --file")] = "No E-Mail",
    out: Annotated[Path, typer.Option(help="JSON results")] = Path(
        "bench-results/experiments.json"
    ),
    work_dir: Annotated[Path | None, typer.Option(help="keep data and database here")] = None,
) -> None:
    """Experiment CSV import (3 metrics per unit) and report over the store."""
    from siyu.bench.experiments import run_experiments_bench

    result = run_experiments_bench(
        units=units,
        file=file,
        control=control,
        database_url=options.database_url,
        work_dir=work_dir,
    )
    _report(result, out)


@bench_app.command("compute")
def bench_compute(
    persons: Annotated[int, typer.Option(help="demo persons to generate")] = 100_000,
    engine: Annotated[str, typer.Option(help="duckdb or spark")] = "duckdb",
    out: Annotated[Path | None, typer.Option(help="JSON results")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="keep data and database here")] = None,
) -> None:
    """Batch traits over N demo persons: full run, then incremental after 1% more persons."""
    from siyu.bench.compute import run_compute_bench

    result = run_compute_bench(
        persons=persons, engine=engine, work_dir=work_dir, database_url=options.database_url
    )
    _report(result, out or Path(f"bench-results/compute-{engine}.json"))


@bench_app.command("journeys")
def bench_journeys(
    enrolments: Annotated[int, typer.Option(help="people through the 3-step journey")] = 100_000,
    messages: Annotated[int, typer.Option(help="messages to the fake SMS gateway")] = 20_000,
    batch: Annotated[int, typer.Option(help="enrolments / messages per pass")] = 5000,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/journeys.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep the database here")] = None,
) -> None:
    """Journey engine (target: 1M enrolments through 3 steps <= 60 s; use --enrolments
    1000000) and messages/s to a local fake gateway (target >= 5,000/s, none duplicated)."""
    from siyu.bench.journeys import run_journeys_bench

    result = run_journeys_bench(
        enrolments=enrolments,
        messages=messages,
        database_url=options.database_url,
        work_dir=work_dir,
        batch=batch,
    )
    _report(result, out)


@bench_app.command("audiences")
def bench_audiences(
    persons: Annotated[int, typer.Option(help="persons (≈2 orders, 1 event each)")] = 10_000_000,
    runs: Annotated[int, typer.Option(help="timed counts after a warm-up")] = 5,
    engine: Annotated[str, typer.Option(help="duckdb or spark")] = "duckdb",
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/audiences.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep the snapshot here")] = None,
    reuse: Annotated[
        bool, typer.Option("--reuse", help="reuse facts generated before in --work-dir")
    ] = False,
) -> None:
    """Count a 4-condition audience (one behavioural) over N persons (target ≤ 1 s)."""
    from siyu.bench.audiences import run_audiences_bench

    result = run_audiences_bench(
        persons=persons, runs=runs, engine=engine, work_dir=work_dir, reuse=reuse
    )
    _report(result, out)


@bench_app.command("api")
def bench_api(
    persons: Annotated[int, typer.Option(help="customer records created first")] = 2_000,
    events: Annotated[int, typer.Option(help="events posted one per request")] = 2_000,
    orders: Annotated[int, typer.Option(help="orders posted in batches")] = 5_000,
    batch: Annotated[int, typer.Option(help="orders per request")] = 100,
    with_audiences: Annotated[
        int, typer.Option("--audiences", help="online audiences the tenant has (0-3)")
    ] = 0,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/api.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep the database here")] = None,
) -> None:
    """The online path through the REST API: events/s one per request, orders/s batched."""
    from siyu.bench.api_ingest import run_api_bench

    result = run_api_bench(
        persons=persons, events=events, orders=orders, batch=batch,
        with_audiences=with_audiences, database_url=options.database_url, work_dir=work_dir,
    )  # fmt: skip
    _report(result, out)


@bench_app.command("events")
def bench_events(
    persons: Annotated[int, typer.Option(help="customer records created first")] = 2_000,
    events: Annotated[int, typer.Option(help="events posted, one per request")] = 10_000,
    concurrency: Annotated[int, typer.Option(help="clients posting at once")] = 32,
    writer: Annotated[
        str, typer.Option(help="where the server writes events: process or thread")
    ] = "process",
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/events.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep the database here")] = None,
) -> None:
    """Single-event REST ingest with identity under concurrent load, against a real server
    on a new SQLite file or the `--db` store (target: >= 2,000 events/s, p99 < 50 ms)."""
    from siyu.bench.api_load import run_events_load

    if writer not in ("process", "thread"):
        raise typer.BadParameter("process or thread", param_hint="--writer")
    result = run_events_load(
        persons=persons, events=events, concurrency=concurrency, writer=writer,
        database_url=options.database_url, work_dir=work_dir,
    )  # fmt: skip
    _report(result, out)


@bench_app.command("identity")
def bench_identity(
    records: Annotated[int, typer.Option(help="records in the synthetic link graph")] = 1_000_000,
    engine: Annotated[str, typer.Option(help="duckdb or spark")] = "duckdb",
    method: Annotated[
        str | None, typer.Option(help="fast or portable (default: fast on DuckDB)")
    ] = None,
    demo_persons: Annotated[
        int, typer.Option(help="demo store for the full rebuild with write-back (0: skip)")
    ] = 2000,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/identity.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep data and databases here")] = None,
) -> None:
    """OneID rebuild: components + guard replay over N records (target: 10M in ≤ 15 s, ≤ 6 GB)."""
    from siyu.bench.identity import run_identity_bench

    result = run_identity_bench(
        records=records,
        engine=engine,
        method=method,
        demo_persons=demo_persons,
        work_dir=work_dir,
    )
    _report(result, out)


@bench_app.command("loyalty")
def bench_loyalty(
    operations: Annotated[int, typer.Option(help="earn + redeem operations")] = 20_000,
    members: Annotated[int, typer.Option()] = 2_000,
    batch: Annotated[int, typer.Option(help="operations per transaction, batched run")] = 500,
    threads: Annotated[int, typer.Option(help="concurrent redeemers")] = 8,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/loyalty.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep the database here")] = None,
) -> None:
    """Ledger earn/redeem operations per second and concurrent redemption (target ≥ 3,000/s)."""
    from siyu.bench.loyalty import run_loyalty_bench

    result = run_loyalty_bench(
        operations=operations, members=members, batch=batch, threads=threads,
        database_url=options.database_url, work_dir=work_dir,
    )  # fmt: skip
    _report(result, out)


@bench_app.command("clv")
def bench_clv(
    persons: Annotated[int, typer.Option(help="simulated customers")] = 100_000,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/clv.json"),
) -> None:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma to a simulated population; time and compare."""
    from siyu.bench.clv import run_clv_bench

    _report(run_clv_bench(persons=persons), out)


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
