"""`siyu journey ...`, `siyu channel ...` and `siyu worker`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy.orm import Session

from siyu import channels, journeys
from siyu.cli.common import console, fail, options, print_json, runtime
from siyu.tenants import TenantContext

journey_app = typer.Typer(
    help="Lifecycle journeys (definitions as JSON/YAML).", no_args_is_help=True
)
channel_app = typer.Typer(
    help="Channel accounts, touch policy, unsubscribes, messages.", no_args_is_help=True
)


@contextmanager
def _tenant_session() -> Iterator[tuple[Session, TenantContext]]:
    rt = runtime()
    with rt.session() as session:
        yield session, rt.tenant(session, options.tenant)


def _definition(path: Path) -> journeys.JourneyDefinition:
    try:
        return journeys.load_definition(path)
    except (ValidationError, ValueError, OSError) as error:
        fail(f"{path}: {error}", 2)
        raise  # unreachable: fail exits


@journey_app.command("create")
def journey_create(file: Path) -> None:
    """Create a journey (a draft at version 1) from a JSON or YAML file."""
    definition = _definition(file)
    with _tenant_session() as (session, tenant):
        try:
            created = journeys.create_journey(session=session, tenant=tenant, definition=definition)
        except journeys.JourneyError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"created journey [bold]{created.key}[/bold] (draft, version 1)")


@journey_app.command("update")
def journey_update(file: Path) -> None:
    """Save an edited definition as a new version (a live journey switches to it)."""
    definition = _definition(file)
    with _tenant_session() as (session, tenant):
        try:
            updated = journeys.update_journey(session=session, tenant=tenant, definition=definition)
        except journeys.JourneyError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"journey {updated.key}: version {updated.latest_version} ({updated.status})")


@journey_app.command("list")
def journey_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The tenant's journeys."""
    with _tenant_session() as (session, tenant):
        found = journeys.list_journeys(session=session, tenant=tenant)
    if as_json:
        print_json(found)
        return
    table = Table("key", "name", "status", "live version", "latest version")
    for j in found:
        table.add_row(j.key, j.name, j.status, str(j.live_version or "-"), str(j.latest_version))
    console.print(table)


@journey_app.command("show")
def journey_show(
    key: str,
    version: Annotated[int | None, typer.Option(help="default: the latest")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A journey's definition and how many people are in flight per version."""
    with _tenant_session() as (session, tenant):
        try:
            detail = journeys.get_journey(session=session, tenant=tenant, key=key, version=version)
        except journeys.JourneyError as error:
            fail(str(error))
            return
    if as_json:
        print_json(detail.model_dump(mode="json", by_alias=True, exclude_unset=True))
        return
    console.print(
        f"[bold]{detail.key}[/bold] {detail.name} — {detail.status}, live v{detail.live_version}"
    )
    console.print(f"in flight by version: {detail.in_flight or 'nobody'}")
    table = Table("step", "type", "next")
    for step in detail.definition.steps:
        table.add_row(step.id, step.type, str(detail.definition.following(step.id) or "end"))
    console.print(table)


@journey_app.command("start")
def journey_start(key: str) -> None:
    """Make a journey live on its latest version, or resume a paused one."""
    with _tenant_session() as (session, tenant):
        try:
            started = journeys.start_journey(session=session, tenant=tenant, key=key)
        except journeys.JourneyError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"journey {started.key} is live on version {started.live_version}")


@journey_app.command("pause")
def journey_pause(key: str) -> None:
    """Stop new entries and hold people in flight."""
    with _tenant_session() as (session, tenant):
        try:
            journeys.pause_journey(session=session, tenant=tenant, key=key)
        except journeys.JourneyError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"journey {key} is paused")


@journey_app.command("enrol")
def journey_enrol(
    key: str,
    oneids: Annotated[list[str] | None, typer.Argument(help="OneIDs to enrol")] = None,
    file: Annotated[Path | None, typer.Option(help="a file with one OneID per line")] = None,
    data: Annotated[str | None, typer.Option(help="JSON object for templates/conditions")] = None,
    request_id: Annotated[str | None, typer.Option(help="repeat-safe request id")] = None,
) -> None:
    """Enrol people into a live journey by hand."""
    people = list(oneids or [])
    if file is not None:
        people += [line.strip() for line in file.read_text().splitlines() if line.strip()]
    if not people:
        fail("give OneIDs or --file", 2)
    extra = orjson.loads(data) if data else None
    with _tenant_session() as (session, tenant):
        try:
            result = journeys.enrol(
                session=session,
                tenant=tenant,
                key=key,
                oneids=people,
                data=extra,
                request_id=request_id,
            )
        except journeys.JourneyError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"enrolled {result.count}, skipped {result.skipped} (re-entry policy or repeat)")


@journey_app.command("trace")
def journey_trace(
    enrolment_id: int, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """What happened to one enrolment: steps, times, results, messages."""
    with _tenant_session() as (session, tenant):
        try:
            found = journeys.get_enrolment(
                session=session, tenant=tenant, enrolment_id=enrolment_id
            )
        except journeys.JourneyError as error:
            fail(str(error))
            return
    if as_json:
        print_json(found)
        return
    console.print(
        f"enrolment {found.id}: {found.oneid} in {found.journey_key} "
        f"v{found.version} — {found.status}"
    )
    table = Table("at", "step", "result", "detail")
    for entry in found.trace:
        table.add_row(
            entry.at.isoformat(timespec="seconds"),
            entry.step or "",
            entry.result,
            str(entry.detail or ""),
        )
    console.print(table)
    for message in found.messages:
        console.print(f"message {message['key']} via {message['channel']}: {message['status']}")


@journey_app.command("enrolments")
def journey_enrolments(
    key: str,
    status: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A journey's enrolments, newest first."""
    with _tenant_session() as (session, tenant):
        found = journeys.list_enrolments(
            session=session, tenant=tenant, key=key, status=status, limit=limit
        )
    if as_json:
        print_json(found)
        return
    table = Table("id", "oneid", "version", "status", "step", "arm", "due")
    for e in found:
        due = e.due_at.isoformat(timespec="seconds") if e.due_at else ""
        table.add_row(str(e.id), e.oneid, str(e.version), e.status, e.step or "", e.arm or "", due)
    console.print(table)


@journey_app.command("dead-letters")
def journey_dead_letters(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Steps that kept failing after their retries."""
    with _tenant_session() as (session, tenant):
        found = journeys.list_dead_letters(session=session, tenant=tenant)
    if as_json:
        print_json(found)
        return
    table = Table("id", "enrolment", "step", "attempts", "error")
    for d in found:
        table.add_row(
            str(d["id"]), str(d["enrolment_id"]), str(d["step"]), str(d["attempts"]), d["error"]
        )
    console.print(table)


@journey_app.command("retry")
def journey_retry(dead_letter_id: int) -> None:
    """Put a dead-lettered enrolment back on its failed step."""
    with _tenant_session() as (session, tenant):
        try:
            journeys.retry_dead_letter(
                session=session, tenant=tenant, dead_letter_id=dead_letter_id
            )
        except journeys.JourneyError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"dead letter {dead_letter_id} retried")


def worker(
    once: Annotated[bool, typer.Option("--once", help="stop when nothing is due")] = False,
    batch: Annotated[int, typer.Option(help="enrolments / messages per pass")] = 1000,
    lease: Annotated[float, typer.Option(help="enrolment lease, seconds")] = 60.0,
    message_lease: Annotated[float, typer.Option(help="message lease, seconds")] = 120.0,
    idle_sleep: Annotated[float, typer.Option(help="seconds to wait when idle")] = 0.5,
) -> None:
    """Run journeys and send messages until stopped (Ctrl-C / SIGTERM). No cron needed:
    start as many workers as you like; they share the work by leases."""
    rt = runtime()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    adapters = channels.Adapters()
    console.print(f"worker {journeys.worker_id()} started (Ctrl-C stops)")
    totals = journeys.run_worker(
        store=rt.store,
        ports=journeys.wired_ports(),
        adapters=adapters,
        options=journeys.WorkerOptions(
            batch=batch,
            lease=timedelta(seconds=lease),
            message_lease=timedelta(seconds=message_lease),
            idle_sleep=idle_sleep,
            stop_when_idle=once,
        ),
        stop=stop,
    )
    adapters.close()
    console.print(
        f"worker stopped: {totals.steps} steps, {totals.messages_sent} messages sent, "
        f"{totals.messages_suppressed} suppressed, {totals.errors} failed passes"
    )


@channel_app.command("configure")
def channel_configure(channel: str, config_file: Path) -> None:
    """Set a channel's provider account from a JSON file (see docs/journeys.md)."""
    config = orjson.loads(config_file.read_bytes())
    with _tenant_session() as (session, tenant):
        try:
            channels.configure_channel(
                session=session, tenant=tenant, channel=channel, config=config
            )
        except ValueError as error:
            fail(str(error), 2)
            return
        session.commit()
    console.print(f"channel {channel} configured")


@channel_app.command("policy")
def channel_policy(
    file: Annotated[Path | None, typer.Argument(help="JSON policy to set")] = None,
) -> None:
    """Show the touch policy, or set it from a JSON file."""
    with _tenant_session() as (session, tenant):
        if file is not None:
            try:
                policy = channels.TouchPolicy.model_validate_json(file.read_bytes())
            except ValidationError as error:
                fail(str(error), 2)
                return
            channels.set_policy(session=session, tenant=tenant, policy=policy)
            session.commit()
        print_json(channels.get_policy(session=session, tenant=tenant))


@channel_app.command("unsubscribe")
def channel_unsubscribe(
    oneid: str, group: Annotated[str, typer.Argument(help="sms, email, wecom, wechat or *")]
) -> None:
    """Record that a person wants no more messages on a consent group."""
    with _tenant_session() as (session, tenant):
        channels.unsubscribe(
            session=session, tenant=tenant, oneid=oneid, channel=group, source="cli"
        )
        session.commit()
    console.print(f"{oneid} unsubscribed from {group}")


@channel_app.command("messages")
def channel_messages(
    oneid: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Messages, newest first."""
    with _tenant_session() as (session, tenant):
        found = channels.list_messages(
            session=session, tenant=tenant, oneid=oneid, status=status, limit=limit
        )
    if as_json:
        print_json(found)
        return
    table = Table("key", "oneid", "channel", "status", "reason")
    for m in found:
        table.add_row(m.key, m.oneid, m.channel, m.status, m.reason or "")
    console.print(table)
