"""`siyu identity ...` and `siyu person ...`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from siyu import identity, online, profiles
from siyu.cli.common import console, fail, options, print_json, runtime

identity_app = typer.Typer(help="OneID: explain, detach, blocked merges.", no_args_is_help=True)
person_app = typer.Typer(help="Look persons up.", no_args_is_help=True)


@identity_app.command("explain")
def explain(oneid: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show a person's records, identifiers and merge history, and why they joined."""
    rt = runtime()
    with rt.session() as session:
        try:
            found = identity.explain_person(
                session=session, tenant=rt.tenant(session, options.tenant), oneid=oneid
            )
        except identity.IdentityError as error:
            fail(str(error))
            return
    if as_json:
        print_json(found)
        return
    console.print(f"[bold]OneID {found.oneid}[/bold]")
    if found.requested != found.oneid:
        console.print(f"({found.requested} was merged into it)")
    if found.retired_oneids:
        console.print("retired OneIDs resolving here: " + ", ".join(found.retired_oneids))
    records = Table("seq", "kind", "source", "record", title="records")
    for r in found.records:
        records.add_row(str(r.seq), r.kind, r.source, r.record_id)
    console.print(records)
    ids = Table("type", "value", "strength", title="identifiers")
    for i in found.identifiers:
        ids.add_row(i.id_type, i.value, i.strength)
    console.print(ids)
    console.print("[bold]why these records are one person[/bold]")
    for line in found.why or ["a single record: nothing joined"]:
        console.print(f"  • {line}")
    if found.changes:
        history = Table("at", "action", "kept", "retired", "identifier", "record", title="history")
        for c in found.changes:
            history.add_row(
                c.at.isoformat(timespec="seconds"),
                c.action,
                c.kept_oneid,
                c.retired_oneid or "",
                c.identifier or "",
                c.record or "",
            )
        console.print(history)
    for c in found.changes:
        if c.action == "match":  # a probabilistic match: why it scored as it did
            evidence = c.detail.get("comparisons")
            fields = evidence if isinstance(evidence, dict) else {}
            shown = ", ".join(f"{k} {v['level']} ({v['bits']:+})" for k, v in fields.items())
            console.print(f"  {c.identifier}: p={c.detail.get('probability')} — {shown}")
        elif c.action == "approve":  # an operator's override of a guard
            console.print(
                f"  approved override of blocked merge #{c.detail.get('blocked')}"
                f" ({c.detail.get('guard')}) by {c.actor}: {c.detail.get('reason')}"
            )
    for b in found.blocked:
        state = "" if b.status == "open" else f" — {b.status} by {b.decided_by}"
        console.print(
            f"  [yellow]blocked[/yellow] #{b.id} {b.record} ↔ {b.other_oneid}: {b.guard}{state}"
        )


@identity_app.command("detach")
def detach(
    kind: str,
    source: str,
    record_id: str,
    reason: Annotated[str, typer.Option(help="why (kept in the history)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Split a record off its person (unmerge); it never rejoins them."""
    rt = runtime()
    with rt.session() as session:
        try:
            result = identity.detach_record(
                session=session,
                tenant=rt.tenant(session, options.tenant),
                kind=kind,
                source=source,
                record_id=record_id,
                actor="cli",
                reason=reason,
            )
        except identity.IdentityError as error:
            fail(str(error))
            return
        session.commit()
    if as_json:
        print_json(result)
    else:
        console.print(f"{kind} {source}/{record_id}: {result.old_oneid} → {result.new_oneid}")


blocked_app = typer.Typer(
    help="Merges the guards refused: list them (open by default), approve or dismiss one.",
    invoke_without_command=True,
)
identity_app.add_typer(blocked_app, name="blocked")


@blocked_app.callback()
def blocked(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option(help="open, approved, dismissed, revoked, or reviewed (all decided)")
    ] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Merges the guards refused, for review (`siyu identity blocked` lists the open ones)."""
    if ctx.invoked_subcommand is not None:
        return
    rt = runtime()
    with rt.session() as session:
        try:
            rows = identity.list_blocked(
                session=session, tenant=rt.tenant(session, options.tenant), status=status
            )
        except identity.IdentityError as error:
            fail(str(error))
            return
    if as_json:
        print_json(rows)
        return
    table = Table("id", "record", "person", "kept apart from", "identifier", "guard", "status")
    for b in rows:
        decided = f"{b.status} by {b.decided_by}" if b.decided_by else b.status
        table.add_row(
            str(b.id), b.record or "", b.oneid, b.other_oneid, b.identifier, b.guard, decided
        )
    console.print(table)


def _review(blocked_id: int, *, approve: bool, reason: str, as_json: bool) -> None:
    rt = runtime()
    with rt.session() as session:
        try:
            decision = online.review_blocked(
                session=session,
                tenant=rt.tenant(session, options.tenant),
                blocked_id=blocked_id,
                approve=approve,
                actor="cli",
                reason=reason,
            )
        except identity.IdentityError as error:
            fail(str(error))
            return
    if as_json:
        print_json(decision)
    elif approve:
        console.print(f"blocked merge #{blocked_id} approved: one person {decision.oneid}")
    else:
        console.print(
            f"blocked merge #{blocked_id} dismissed: {decision.oneid} and"
            f" {decision.other_oneid} stay apart"
        )


@blocked_app.command("approve")
def blocked_approve(
    blocked_id: int,
    reason: Annotated[str, typer.Option(help="why (kept with the decision and the merge)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Merge the two persons despite the guard (an override, recorded)."""
    _review(blocked_id, approve=True, reason=reason, as_json=as_json)


@blocked_app.command("dismiss")
def blocked_dismiss(
    blocked_id: int,
    reason: Annotated[str, typer.Option(help="why (kept with the decision)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Keep the two persons apart for good; the item leaves the open list."""
    _review(blocked_id, approve=False, reason=reason, as_json=as_json)


@person_app.command("show")
def show(oneid: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The 360° view of a person."""
    rt = runtime()
    with rt.session() as session:
        try:
            view = profiles.get_person(
                session=session, tenant=rt.tenant(session, options.tenant), oneid=oneid
            )
        except identity.IdentityError as error:
            fail(str(error))
            return
    if as_json:
        print_json(view)
        return
    console.print(f"[bold]{view.attributes.get('name', '(no name)')}[/bold]  OneID {view.oneid}")
    attrs = Table(show_header=False, title="attributes")
    for key, value in view.attributes.items():
        attrs.add_row(key, str(value), view.attribute_sources.get(key, ""))
    console.print(attrs)
    t = view.traits
    console.print(
        f"orders {t.order_count} · net paid ¥{t.net_paid} · AOV ¥{t.aov or '-'} · "
        f"first {t.first_order_at or '-'} · last {t.last_order_at or '-'} · "
        f"channels {', '.join(t.channels) or '-'}"
    )
    consent = ", ".join(f"{k}={'-' if v is None else v}" for k, v in view.consent.items())
    console.print(f"consent: {consent}")
    records = Table("source", "external id", "name", "identifiers", title="source records")
    for r in view.records:
        ids = ", ".join(f"{k}={v}" for k, v in r.identifiers.items())
        records.add_row(r.source, r.external_id, r.name or "", ids)
    console.print(records)
    orders = Table("created", "source", "order", "status", "paid", "refunded", title="orders")
    for o in view.orders[:20]:
        orders.add_row(
            o.created_at.isoformat(timespec="minutes"),
            o.source,
            o.order_id,
            o.status,
            str(o.paid_amount),
            str(o.refunded_amount),
        )
    console.print(orders)
    events = Table("at", "source", "type", title="latest events")
    for e in view.events[:10]:
        events.add_row(e.occurred_at.isoformat(timespec="minutes"), e.source, e.type)
    console.print(events)


@person_app.command("search")
def search(query: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Find persons by phone, name, OneID or any identifier."""
    rt = runtime()
    with rt.session() as session:
        found = profiles.search_persons(
            session=session, tenant=rt.tenant(session, options.tenant), query=query
        )
    if as_json:
        print_json(found)
        return
    table = Table("OneID", "name", "phone", "sources")
    for p in found:
        table.add_row(p.oneid, p.name or "", p.phone or "", ", ".join(p.sources))
    console.print(table)
