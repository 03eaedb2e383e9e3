"""An enrolment's state during a worker pass, and what its steps may reach outside."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from siyu.channels import Queued
from siyu.journeys.schemas import GrantStep, TagStep

IN_FLIGHT = ("active", "waiting", "holdout")


@dataclass(slots=True)
class State:
    """An enrolment's mutable state during a pass."""

    id: int
    tenant_id: int
    journey_id: int
    journey_key: str
    version: int
    oneid: str
    status: str
    step: str | None
    due_at: datetime | None
    attempts: int
    step_count: int
    arm: str | None
    wait_event: str | None
    context: dict[str, Any]
    entered_at: datetime
    finished_at: datetime | None = None
    last_error: str | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    messages: list[Queued] = field(default_factory=list)

    def log(self, step: str | None, at: datetime, result: str, **detail: Any) -> None:
        entry: dict[str, Any] = {"step": step, "at": iso(at), "result": result}
        if detail:
            entry["detail"] = detail
        self.trace.append(entry)

    def finish(self, status: str, at: datetime) -> None:
        self.status, self.step, self.due_at, self.finished_at = status, None, None, at
        self.wait_event = None


_last_iso: list[tuple[datetime | None, str]] = [(None, "")]


def iso(at: datetime) -> str:
    """`at.isoformat()`, remembered for the last time given: a pass logs every step of
    thousands of enrolments at one `now`. (One tuple swapped whole: thread-safe.)"""
    last = _last_iso[0]
    if last[0] is at:
        return last[1]
    text = at.isoformat()
    _last_iso[0] = (at, text)
    return text


class Effects:
    """What steps may reach outside the interpreter: facts about the person (with the
    profile when conditions read it; tier, points and tags always) and the ports."""

    def __init__(
        self,
        *,
        zone: ZoneInfo,
        person: Callable[[str, bool], dict[str, Any]],
        apply_tags: Callable[[State, TagStep, str], None],
        grant: Callable[[State, GrantStep, str], str | None],
    ) -> None:
        self.zone = zone
        self.person = person
        self.apply_tags = apply_tags
        self.grant = grant


Failure = tuple[State, BaseException, bool]  # the state, the error, whether earlier steps stand
