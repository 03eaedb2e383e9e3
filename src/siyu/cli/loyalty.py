"""`siyu loyalty ...`: programs, members, points, tiers, the scheduler and the feed."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from siyu import loyalty
from siyu.cli.common import console, fail, print_json
from siyu.cli.loyalty_common import AsJson, Now, Program, do, show
from siyu.cli.loyalty_offers import coupon_app, reward_app
from siyu.store.base import utcnow

loyalty_app = typer.Typer(help="Membership: points, tiers, coupons, mall.", no_args_is_help=True)
program_app = typer.Typer(help="Loyalty programs.", no_args_is_help=True)
loyalty_app.add_typer(program_app, name="program")
loyalty_app.add_typer(coupon_app, name="coupon")
loyalty_app.add_typer(reward_app, name="reward")


def _settings(path: Path | None) -> loyalty.ProgramSettings:
    if path is None:
        return loyalty.ProgramSettings()
    return loyalty.ProgramSettings.model_validate_json(path.read_bytes())


@program_app.command("create")
def program_create(
    code: str,
    name: Annotated[str, typer.Option(help="display name")],
    settings: Annotated[Path | None, typer.Option(help="ProgramSettings JSON file")] = None,
) -> None:
    """Create a program (rules from a JSON file, defaults otherwise)."""
    view = do(lambda s, t: loyalty.create_program(
        session=s, tenant=t, code=code, name=name, settings=_settings(settings)))  # fmt: skip
    console.print(f"program {view.code} created")


@program_app.command("set")
def program_set(
    code: str, settings: Annotated[Path, typer.Option(help="ProgramSettings JSON file")]
) -> None:
    """Replace a program's settings from a JSON file."""
    view = do(lambda s, t: loyalty.update_program(
        session=s, tenant=t, code=code, settings=_settings(settings)))  # fmt: skip
    console.print(f"program {view.code} is at version {view.version}")


@program_app.command("show")
def programshow(code: str) -> None:
    """Print a program's settings as JSON."""
    ref = do(lambda s, t: loyalty.load_program(session=s, tenant=t, code=code), write=False)
    print_json(ref.settings)


@program_app.command("list")
def program_list() -> None:
    """The tenant's programs."""
    refs = do(lambda s, t: loyalty.list_programs(session=s, tenant=t), write=False)
    show([{"code": r.code, "name": r.name, "version": r.version} for r in refs], False, "programs")


@loyalty_app.command("enrol")
def enrol(
    oneid: str, program: Program = "main", card_no: Annotated[str | None, typer.Option()] = None
) -> None:
    """Enrol a person (入会)."""
    view = do(lambda s, t: loyalty.enrol_member(
        session=s, tenant=t, program=program, oneid=oneid, via="cli", card_no=card_no))  # fmt: skip
    console.print(f"{view.oneid} is member {view.card_no} of {program}")


@loyalty_app.command("member")
def member(oneid: str, program: Program = "main", as_json: AsJson = False, now: Now = None) -> None:
    """A member's card, balance and tier standing."""
    view = do(lambda s, t: loyalty.get_member(
        session=s, tenant=t, program=program, oneid=oneid, now=now), write=False)  # fmt: skip
    if as_json:
        print_json(view)
        return
    b, tier = view.balance, view.tier
    console.print(
        f"[bold]{view.card_no}[/bold]  OneID {view.oneid}  since {view.enrolled_at:%Y-%m-%d}"
    )
    console.print(
        f"points: {b.spendable} spendable "
        f"({b.available} available, {b.pending} pending, {b.debt} owed)"
    )
    for when, points in b.expiring:
        console.print(f"  {points} expire at {when.isoformat()}")
    console.print(
        f"tier: {tier.tier_name} ({tier.tier}), growth {tier.growth}; "
        f"until {tier.expires_at or '-'}"
    )
    if tier.to_keep:
        console.print(f"  {tier.to_keep} growth to keep it")
    if tier.next_tier:
        console.print(f"  {tier.to_next} growth to reach {tier.next_tier}")


@loyalty_app.command("history")
def history(oneid: str, program: Program = "main", as_json: AsJson = False) -> None:
    """A member's points journal, newest first."""
    rows = do(lambda s, t: loyalty.member_history(
        session=s, tenant=t, program=program, oneid=oneid), write=False)  # fmt: skip
    show(rows, as_json, "journal")


@loyalty_app.command("adjust")
def adjust(
    oneid: str,
    points: Annotated[int, typer.Argument(help="+ to add, - to take")],
    reason: Annotated[str, typer.Option(help="why (required, audited)")],
    actor: Annotated[str, typer.Option(help="who")] = "cli",
    program: Program = "main",
    now: Now = None,
) -> None:
    """A manual adjustment, with its reason and actor on the journal."""
    result = do(lambda s, t: loyalty.adjust_points(
        session=s, tenant=t, program=program, oneid=oneid, points=points, reason=reason,
        actor=actor, now=now))  # fmt: skip
    console.print(f"adjusted {result.points:+d} ({result.key})")


@loyalty_app.command("redeem")
def redeem(
    oneid: str,
    points: int,
    key: Annotated[str, typer.Option(help="idempotency key of this redemption")],
    program: Program = "main",
) -> None:
    """Spend points (once per key)."""
    result = do(lambda s, t: loyalty.redeem_points(
        session=s, tenant=t, program=program, oneid=oneid, points=points, key=key,
        actor="cli"))  # fmt: skip
    console.print(f"{'already redeemed' if result.replayed else 'redeemed'} {-result.points}")


@loyalty_app.command("set-tier")
def set_tier(
    oneid: str,
    tier: str,
    reason: Annotated[str, typer.Option()],
    lock_until: Annotated[datetime | None, typer.Option(help="no downgrade before")] = None,
    program: Program = "main",
) -> None:
    """Set a member's tier by hand, optionally locked."""
    view = do(lambda s, t: loyalty.set_member_tier(
        session=s, tenant=t, program=program, oneid=oneid, tier=tier, reason=reason,
        actor="cli", locked_until=lock_until))  # fmt: skip
    console.print(f"{view.oneid} is {view.tier.tier} until {view.tier.expires_at or '-'}")


@loyalty_app.command("import-members")
def import_members(
    path: Path,
    program: Program = "main",
    rejects: Annotated[Path | None, typer.Option(help="write rejected rows here")] = None,
    as_json: AsJson = False,
) -> None:
    """Migrate existing members from a CSV (历史会员迁移); see docs/loyalty.md."""
    if not path.is_file():
        fail(f"no such file: {path}", 2)
    report = do(lambda s, t: loyalty.import_members(
        session=s, tenant=t, program=program, path=path))  # fmt: skip
    if rejects is not None:  # the rejected rows as read, with why: fix and import again
        bad = [row for row in report.rows if row.status == "rejected"]
        columns = list(dict.fromkeys(c for row in bad for c in (row.data or {})))
        with rejects.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*columns, "_line", "_field", "_reason"])
            for row in bad:
                data = row.data or {}
                writer.writerow(
                    [*(data.get(c, "") for c in columns), row.line, row.field, row.reason]
                )
    if as_json:
        print_json(report)
        return
    console.print(
        f"imported {report.imported}, unchanged {report.unchanged}, rejected {report.rejected}"
    )
    for row in report.rows:
        if row.status == "rejected":
            console.print(f"  line {row.line}: {row.field}: {row.reason}")


@loyalty_app.command("run-due")
def run_due(now: Now = None, as_json: AsJson = False) -> None:
    """Scheduled work: merges, activation, expiry, expiring-soon events, tier periods."""
    moment = now or utcnow()
    total = loyalty.DueReport()
    for _round in range(10_000):  # each round is one transaction of bounded size
        report = do(lambda s, t: loyalty.run_due(session=s, tenant=t, now=moment))
        for field in ("merges", "activated", "expired_lots", "expired_points", "expiring_events",
                      "tiers_evaluated"):  # fmt: skip
            setattr(total, field, getattr(total, field) + getattr(report, field))
        for action, count in report.tier_changes.items():
            total.tier_changes[action] = total.tier_changes.get(action, 0) + count
        if not (report.activated or report.expired_lots or report.tiers_evaluated or report.merges):
            break
    show(total, as_json, "run-due")


@loyalty_app.command("feed")
def feed(
    limit: Annotated[int, typer.Option(help="records per transaction")] = 1000,
    settle_seconds: Annotated[float, typer.Option(help="leave rows younger than this")] = 0,
    as_json: AsJson = False,
) -> None:
    """Award points for orders and refunds imported since the last run."""
    total = loyalty.FeedReport()
    while True:
        report = do(lambda s, t: loyalty.process_feed(
            session=s, tenant=t, now=utcnow(), limit=limit,
            settle_seconds=settle_seconds))  # fmt: skip
        for field in ("orders", "refunds", "earned", "reversed", "enrolled", "merges"):
            setattr(total, field, getattr(total, field) + getattr(report, field))
        if not (report.orders or report.refunds):
            break
    show(total, as_json, "feed")


@loyalty_app.command("events")
def events(after: Annotated[int, typer.Option()] = 0, as_json: AsJson = False) -> None:
    """Loyalty events for journeys (tier changes, points expiring...)."""
    rows = do(lambda s, t: loyalty.events_since(session=s, tenant=t, after=after), write=False)
    show(rows, as_json, "events")


@loyalty_app.command("verify")
def verify(oneid: str, program: Program = "main") -> None:
    """Check a member's ledger invariants."""
    problems = do(lambda s, t: loyalty.verify_member(
        session=s, tenant=t, program=program, oneid=oneid), write=False)  # fmt: skip
    for problem in problems:
        console.print(f"[red]✗[/red] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print("ledger is sound")
