"""`siyu audience ...`: audiences (人群): define, preview, refresh, export, overlap, changes."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from siyu import audiences
from siyu.cli.common import console, fail, print_json
from siyu.cli.segments import day, rule_data, tenant_session, who

audience_app = typer.Typer(help="Audiences (人群): rule-defined segments.", no_args_is_help=True)


@audience_app.command("create")
def create(
    name: str,
    rule: Annotated[str, typer.Option(help="rule JSON or @file (docs/rules.md)")],
    description: Annotated[str | None, typer.Option()] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="do not update as records arrive (batch only)")
    ] = False,
    refresh_minutes: Annotated[int | None, typer.Option(help="run-due interval")] = None,
) -> None:
    """Define an audience (members come with `refresh` and as records arrive)."""
    with tenant_session() as (_, session, tenant):
        audiences.create_audience(
            session=session,
            tenant=tenant,
            audience=audiences.AudienceIn(
                name=name,
                rule=rule_data(rule),
                description=description,
                online=not offline,
                refresh_minutes=refresh_minutes,
            ),
            by=who(),
        )
        session.commit()
    console.print(f"created audience {name}; run `siyu audience refresh {name}` to fill it")


@audience_app.command("update")
def update(
    name: str,
    rule: Annotated[str | None, typer.Option(help="rule JSON or @file")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    refresh_minutes: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Change an audience's rule, description or refresh interval."""
    given = {
        "rule": None if rule is None else rule_data(rule),
        "description": description,
        "refresh_minutes": refresh_minutes,
    }
    # Only the options given change (the model records which fields were set).
    changes = audiences.AudienceUpdate(**{k: v for k, v in given.items() if v is not None})
    with tenant_session() as (_, session, tenant):
        audiences.update_audience(session=session, tenant=tenant, name=name, changes=changes)
        session.commit()
    console.print(f"updated audience {name}")


@audience_app.command("delete")
def delete(name: str) -> None:
    """Delete an audience with its membership history."""
    with tenant_session() as (_, session, tenant):
        audiences.delete_audience(session=session, tenant=tenant, name=name)
        session.commit()
    console.print(f"deleted audience {name}")


@audience_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The audiences with their sizes."""
    with tenant_session() as (_, session, tenant):
        found = audiences.list_audiences(session=session, tenant=tenant)
    if as_json:
        print_json(found)
        return
    table = Table("audience", "size", "online", "refreshed", "description", title="audiences")
    for a in found:
        refreshed = a.refreshed_at.isoformat(timespec="seconds") if a.refreshed_at else ""
        table.add_row(
            a.name, str(a.size), "yes" if a.online else "no", refreshed, a.description or ""
        )
    console.print(table)


@audience_app.command("preview")
def preview(
    name: Annotated[str | None, typer.Argument(help="an audience (or give --rule)")] = None,
    rule: Annotated[str | None, typer.Option(help="rule JSON or @file")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="export a new snapshot first")] = False,
    engine: Annotated[str | None, typer.Option(help="duckdb (default) or spark")] = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Count the persons a rule selects (over the last snapshot unless --fresh)."""
    if (name is None) == (rule is None):
        fail("give an audience name or --rule")
    with tenant_session() as (rt, session, tenant):
        data = (
            rule_data(rule)
            if rule is not None
            else audiences.get_audience(session=session, tenant=tenant, name=str(name)).rule
        )
        result = audiences.preview(
            session=session,
            tenant=tenant,
            rule=data,
            engine_dir=Path(rt.settings.engine_dir),
            engine=engine or rt.settings.engine,
            fresh=fresh,
            as_of=day(as_of),
            spark_master=rt.settings.spark_master,
        )
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result.count} persons (as of {result.as_of}, data of "
        f"{result.snapshot_at.isoformat(timespec='seconds')}, {result.seconds} s)"
    )


@audience_app.command("refresh")
def refresh(
    names: Annotated[list[str] | None, typer.Argument(help="audiences (default: all)")] = None,
    due: Annotated[bool, typer.Option("--due", help="only those whose interval passed")] = False,
    engine: Annotated[str | None, typer.Option(help="duckdb (default) or spark")] = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-evaluate audiences over everyone and record who entered and left."""
    with tenant_session() as (rt, session, tenant):
        report = audiences.refresh_audiences(
            session=session,
            tenant=tenant,
            engine_dir=Path(rt.settings.engine_dir),
            names=names or None,
            due_only=due,
            engine=engine or rt.settings.engine,
            as_of=day(as_of),
            spark_master=rt.settings.spark_master,
        )
    if as_json:
        print_json(report)
        return
    table = Table(
        "audience",
        "size",
        "entered",
        "exited",
        title=f"refreshed as of {report.as_of} ({report.engine}, {report.seconds} s)",
    )
    for a in report.audiences:
        table.add_row(a.name, str(a.size), str(a.entered), str(a.exited))
    console.print(table if report.audiences else "no audiences to refresh")


@audience_app.command("export")
def export(
    name: str,
    fields: Annotated[str, typer.Option(help="comma-separated, e.g. oneid,name,phone_sha256")],
    out: Annotated[Path | None, typer.Option(help="CSV file (default: stdout)")] = None,
) -> None:
    """Export the current members as CSV with the chosen fields."""
    chosen = [f.strip() for f in fields.split(",") if f.strip()]
    with tenant_session() as (_, session, tenant):
        if out is None:
            audiences.export_audience(
                session=session, tenant=tenant, name=name, fields=chosen, out=sys.stdout
            )
            return
        # BOM: spreadsheet apps then read the Chinese text right.
        with out.open("w", encoding="utf-8-sig", newline="") as handle:
            rows = audiences.export_audience(
                session=session, tenant=tenant, name=name, fields=chosen, out=handle
            )
    console.print(f"wrote {rows} members to {out}")


@audience_app.command("overlap")
def overlap(
    names: Annotated[list[str] | None, typer.Argument(help="audiences (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """How many persons each pair of audiences shares."""
    with tenant_session() as (_, session, tenant):
        report = audiences.overlap(session=session, tenant=tenant, names=names or None)
    if as_json:
        print_json(report)
        return
    sizes = Table("audience", "size", title="audiences")
    for a in report.audiences:
        sizes.add_row(a.name, str(a.size))
    pairs = Table("a", "b", "both", "only a", "only b", title="overlap")
    for p in report.pairs:
        pairs.add_row(p.a, p.b, str(p.both), str(p.only_a), str(p.only_b))
    console.print(sizes, pairs)


@audience_app.command("changes")
def changes(
    since: Annotated[str, typer.Option(help="ISO time, e.g. 2024-06-30T00:00:00+08:00")],
    audience: Annotated[list[str] | None, typer.Option(help="only these audiences")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Entries and exits after a time (what journeys trigger on)."""
    moment = datetime.fromisoformat(since)
    if moment.tzinfo is None:
        fail("give --since with a UTC offset (e.g. +08:00)")
    with tenant_session() as (_, session, tenant):
        found = audiences.changes_since(
            session=session, tenant=tenant, since=moment, audiences=audience or None
        )
    if as_json:
        print_json(found)
        return
    table = Table("at", "audience", "oneid", "change", "by", title="membership changes")
    for c in found:
        table.add_row(c.at.isoformat(timespec="seconds"), c.audience, c.oneid, c.change, c.by)
    console.print(table)
