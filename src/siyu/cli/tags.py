"""`siyu tag ...` (also `siyu tags ...`): tags, groups, giving, imports, rule computation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from siyu import tags
from siyu.cli.common import console, print_json
from siyu.cli.segments import day, rule_data, tenant_session, who

tag_app = typer.Typer(
    help="Tags: manual, imported and rule tags, tag groups.", no_args_is_help=True
)


@tag_app.command("create")
def create(
    key: Annotated[str, typer.Argument(help="name, or group=value")],
    rule: Annotated[str | None, typer.Option(help="rule JSON or @file: makes a rule tag")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    refresh_minutes: Annotated[int | None, typer.Option(help="rule tags: run-due interval")] = None,
) -> None:
    """Create a manual tag (no --rule) or a rule tag."""
    with tenant_session() as (_, session, tenant):
        data = None if rule is None else rule_data(rule)
        made = tags.create_tag(
            session=session,
            tenant=tenant,
            tag=tags.TagIn(
                key=key, rule=data, description=description, refresh_minutes=refresh_minutes
            ),
            by=who(),
        )
        session.commit()
    console.print(f"created {made.kind} tag {made.key}")


@tag_app.command("create-group")
def create_group(
    name: str,
    open_: Annotated[
        bool, typer.Option("--open", help="values are not exclusive (a person may hold several)")
    ] = False,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a tag group (values are then created as `NAME=value`)."""
    with tenant_session() as (_, session, tenant):
        tags.create_group(
            session=session, tenant=tenant, name=name, exclusive=not open_, description=description
        )
        session.commit()
    console.print(f"created tag group {name}" + (" (open)" if open_ else " (exclusive)"))


@tag_app.command("set-rule")
def set_rule(key: str, rule: Annotated[str, typer.Argument(help="rule JSON or @file")]) -> None:
    """Replace a rule tag's rule (holders change at its next computation)."""
    with tenant_session() as (_, session, tenant):
        tags.update_rule(session=session, tenant=tenant, key=key, rule=rule_data(rule))
        session.commit()
    console.print(f"updated the rule of {key}")


@tag_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The tags with their kind and holders."""
    with tenant_session() as (_, session, tenant):
        found = tags.list_tags(session=session, tenant=tenant)
    if as_json:
        print_json(found)
        return
    table = Table("tag", "kind", "holders", "computed", "description", title="tags")
    for t in found:
        computed = t.computed_at.isoformat(timespec="seconds") if t.computed_at else ""
        table.add_row(t.key, t.kind, str(t.holders), computed, t.description or "")
    console.print(table)


@tag_app.command("give")
def give(key: str, oneids: list[str]) -> None:
    """Give a manual tag to persons."""
    with tenant_session() as (_, session, tenant):
        report = tags.give_tag(session=session, tenant=tenant, key=key, oneids=oneids, by=who())
        session.commit()
    console.print(
        f"given {report.given}, held already {report.already}, replaced {report.replaced}"
    )
    for oneid in report.unknown:
        console.print(f"[yellow]no person {oneid}[/yellow]")


@tag_app.command("remove")
def remove(key: str, oneids: list[str]) -> None:
    """Take a manual tag from persons."""
    with tenant_session() as (_, session, tenant):
        removed = tags.remove_tag(session=session, tenant=tenant, key=key, oneids=oneids, by=who())
        session.commit()
    console.print(f"removed from {removed}")


@tag_app.command("import")
def import_command(
    path: Path,
    tag: Annotated[
        str | None, typer.Option(help="give this tag to every row (no tag column)")
    ] = None,
) -> None:
    """Import manual tags from a CSV (oneid or identifier, and tag); bad rows are listed."""
    with tenant_session() as (_, session, tenant):
        report = tags.import_tags(
            session=session,
            tenant=tenant,
            text=path.read_text(encoding="utf-8"),
            origin=path.name,
            tag=tag,
        )
        session.commit()
    console.print(
        f"{report.rows} rows: given {report.given}, held already {report.already}, "
        f"replaced {report.replaced}, bad {len(report.bad)}"
    )
    if report.bad:
        table = Table("line", "reason", title="bad rows (not imported)")
        for bad in report.bad:
            table.add_row(str(bad.line), bad.reason)
        console.print(table)


@tag_app.command("show")
def show(oneid: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A person's tags: when each was given and by which rule, user or import."""
    with tenant_session() as (_, session, tenant):
        found = tags.tags_of_person(session=session, tenant=tenant, oneid=oneid)
    if as_json:
        print_json(found)
        return
    table = Table("tag", "kind", "given at", "given by", title=f"tags of {oneid}")
    for t in found:
        table.add_row(
            t.key,
            t.kind,
            t.given_at.isoformat(timespec="seconds"),
            f"{t.given_by_kind}: {t.given_by}",
        )
    console.print(table)


@tag_app.command("history")
def history(
    person: Annotated[str | None, typer.Option(help="one person's OneID")] = None,
    tag: Annotated[str | None, typer.Option(help="one tag")] = None,
    limit: int = 100,
) -> None:
    """When tags were given and removed, newest first."""
    with tenant_session() as (_, session, tenant):
        found = tags.tag_history(session=session, tenant=tenant, oneid=person, key=tag, limit=limit)
    table = Table("tag", "oneid", "given", "by", "removed", "by", title="tag history")
    for h in found:
        table.add_row(
            h.key,
            h.oneid,
            h.given_at.isoformat(timespec="seconds"),
            f"{h.given_by_kind}: {h.given_by}",
            h.removed_at.isoformat(timespec="seconds") if h.removed_at else "",
            f"{h.removed_by_kind}: {h.removed_by}" if h.removed_at else "",
        )
    console.print(table)


@tag_app.command("compute")
def compute(
    keys: Annotated[list[str] | None, typer.Argument(help="rule tags (default: all)")] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb (default) or spark")] = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute rule tags in batch and write who gained and lost them."""
    with tenant_session() as (rt, session, tenant):
        report = tags.compute_rule_tags(
            session=session,
            tenant=tenant,
            engine_dir=Path(rt.settings.engine_dir),
            keys=keys or None,
            engine=engine or rt.settings.engine,
            as_of=day(as_of),
            spark_master=rt.settings.spark_master,
        )
    _print_compute(report, as_json)


@tag_app.command("run-due")
def run_due(
    engine: Annotated[str | None, typer.Option(help="duckdb (default) or spark")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute the rule tags whose refresh interval has passed (for a scheduler)."""
    with tenant_session() as (rt, session, tenant):
        report = tags.compute_rule_tags(
            session=session,
            tenant=tenant,
            engine_dir=Path(rt.settings.engine_dir),
            due_only=True,
            engine=engine or rt.settings.engine,
            spark_master=rt.settings.spark_master,
        )
    _print_compute(report, as_json)


def _print_compute(report: tags.TagComputeReport, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    table = Table(
        "tag",
        "holders",
        "given",
        "removed",
        title=f"rule tags as of {report.as_of} ({report.engine}, {report.seconds} s)",
    )
    for t in report.tags:
        table.add_row(t.key, str(t.holders), str(t.given), str(t.removed))
    console.print(table if report.tags else "no rule tags to compute")
