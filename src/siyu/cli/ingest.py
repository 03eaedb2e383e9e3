"""`siyu ingest`, `siyu quarantine ...`, `siyu export identity-map`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn
from rich.table import Table

from siyu import identity, ingest
from siyu.cli.common import console, fail, options, print_json, runtime

quarantine_app = typer.Typer(help="Records that broke the import contract.", no_args_is_help=True)
export_app = typer.Typer(help="Export data.", no_args_is_help=True)


def ingest_command(
    paths: Annotated[
        list[Path], typer.Argument(help="JSONL/CSV files (.gz too), or a platform's exports")
    ],
    kind: Annotated[str | None, typer.Option(help="kind for files without a kind column")] = None,
    source: Annotated[str | None, typer.Option(help="source for records without one")] = None,
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="platform export: tmall, jd, douyin, youzan, pos, wechat_mp or auto "
            "(CSV/XLSX, encoding detected; see docs/formats.md)",
        ),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--map", help="mapping file (YAML) for any other export")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="format parameter KEY=VALUE, e.g. appid=wx123")
    ] = None,
    bulk: Annotated[
        bool | None,
        typer.Option(
            "--bulk/--no-bulk",
            help="resolve identity once at the end (batch rebuild) instead of record by "
            "record; default: bulk for large files",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import canonical files or platform exports; bad records are quarantined, the rest go on."""
    for path in [*paths, *([mapping] if mapping else [])]:
        if not path.is_file():
            fail(f"no such file: {path}", 2)
    params = dict(p.partition("=")[::2] for p in param or [])
    rt = runtime()
    with rt.session() as session, _progress(enabled=not as_json) as bar:
        tasks: dict[str, TaskID] = {}

        def advance(file: str, done: int, total: int) -> None:
            if file not in tasks:
                tasks[file] = bar.add_task(Path(file).name, total=total)
            bar.update(tasks[file], completed=done)

        try:
            report = ingest.ingest_files(
                session=session,
                tenant=rt.tenant(session, options.tenant),
                paths=paths,
                kind=kind,
                source=source,
                file_format=file_format,
                mapping=mapping,
                params=params,
                batch_size=rt.settings.ingest_batch_size,
                on_progress=advance,
                bulk=bulk,
                engine_dir=Path(rt.settings.engine_dir),
            )
        except ingest.FormatProblem as error:  # files that do not fit the format asked for
            fail(str(error), 2)
            return
        except ingest.BulkUnavailableError as error:
            fail(str(error), 2)
            return
        except ingest.WorkerError as error:  # e.g. a file that cannot be read
            fail(str(error))
            return
    if as_json:
        print_json(report)
        return
    table = Table(title="import", show_header=False)
    for label, value in (
        ("accepted", report.accepted),
        ("quarantined", report.quarantined),
        ("new / updated / unchanged", f"{report.new} / {report.updated} / {report.unchanged}"),
        ("new persons", report.new_persons),
        ("merges", report.merges),
        ("merges blocked by guards", report.blocked_merges),
        ("identity", "batch rebuild at the end" if report.mode == "bulk" else "online"),
        ("seconds", report.seconds),
    ):
        table.add_row(label, str(value))
    console.print(table)
    if report.quarantined:
        console.print("see [bold]siyu quarantine list[/bold] for the rejected records")


def _progress(*, enabled: bool) -> Progress:
    return Progress(
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=True,
    )


@quarantine_app.command("list")
def quarantine_list(
    status: Annotated[str, typer.Option(help="open, resolved or superseded")] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: int = 1000,
) -> None:
    """List quarantined records with file, line, field and reason."""
    rt = runtime()
    with rt.session() as session:
        entries = ingest.list_quarantine(
            session=session, tenant=rt.tenant(session, options.tenant), status=status, limit=limit
        )
    if as_json:
        print_json(entries)
        return
    table = Table("id", "file", "line", "kind", "record", "field", "reason")
    for e in entries:
        table.add_row(
            str(e.id),
            e.file or "",
            str(e.line or ""),
            e.kind or "",
            f"{e.source or ''}/{e.record_id or ''}",
            e.field,
            e.reason,
        )
    console.print(table)


@quarantine_app.command("export")
def quarantine_export(out: Path) -> None:
    """Write open quarantined records to a JSONL file to fix, then `quarantine retry`."""
    rt = runtime()
    with rt.session() as session:
        count = ingest.export_quarantine(
            session=session, tenant=rt.tenant(session, options.tenant), out=out
        )
    console.print(f"wrote {count} records to {out}")


@quarantine_app.command("retry")
def quarantine_retry(
    fixes: Annotated[
        Path | None, typer.Argument(help="fixed export; omit to retry as stored")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-import quarantined records; accepted ones leave the quarantine."""
    rt = runtime()
    with rt.session() as session:
        report = ingest.retry_quarantine(
            session=session, tenant=rt.tenant(session, options.tenant), fixes=fixes
        )
    if as_json:
        print_json(report)
    else:
        console.print(f"accepted {report.accepted}, still quarantined {report.quarantined}")


@export_app.command("identity-map")
def export_identity_map(out: Path) -> None:
    """Write `kind,source,record_id,oneid` for every ingested record."""
    rt = runtime()
    count = 0
    with rt.session() as session, out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["kind", "source", "record_id", "oneid"])
        for row in identity.iter_identity_map(
            session=session, tenant=rt.tenant(session, options.tenant)
        ):
            writer.writerow(row)
            count += 1
    console.print(f"wrote {count} rows to {out}")
