"""The step interpreter: runs one enrolment's steps until it waits or ends.

Pure with respect to the store: effects (messages to queue, trace rows) are collected
by the caller and written in the same transaction as the enrolment's new state; port
calls (tags, loyalty) run inside that transaction and are idempotent by key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from siyu.channels import Queued
from siyu.journeys.conditions import evaluate
from siyu.journeys.schemas import (
    BranchStep,
    ExitStep,
    GrantStep,
    JourneyDefinition,
    SendStep,
    SplitStep,
    Step,
    TagStep,
    TaskStep,
    WaitStep,
    WebhookStep,
)

IN_FLIGHT = ("active", "waiting", "holdout")
MAX_STEPS_PER_PASS = 100  # a loop in a journey graph cannot spin a worker forever


@dataclass
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


def facts(state: State, effects: Effects, needs_person: bool) -> dict[str, Any]:
    """What conditions see: the trigger record, the person, the enrolment."""
    return {
        "record": state.context.get("record") or {},
        "data": state.context.get("data") or {},
        "person": effects.person(state.oneid, True) if needs_person else {},
        "enrolment": {"arm": state.arm, "journey": state.journey_key, "version": state.version},
    }


def run(state: State, definition: JourneyDefinition, effects: Effects, now: datetime) -> None:
    """Advance `state` from its current step as far as it goes now."""
    if state.status == "holdout":
        state.log(None, now, "completed", why="holdout window over")
        state.finish("completed", now)
        return
    if state.status == "waiting":
        wait = definition.step(state.step or "")
        assert isinstance(wait, WaitStep) and wait.until_event is not None
        target = definition.resolve(wait.until_event.on_timeout, wait.id)
        state.log(wait.id, now, "timeout", event_type=wait.until_event.event_type)
        state.status, state.wait_event, state.step = "active", None, target
    for _ in range(MAX_STEPS_PER_PASS):
        if state.step is None:
            state.log(None, now, "completed")
            state.finish("completed", now)
            return
        step = definition.step(state.step)
        before = _snapshot(state)
        state.step_count += 1
        try:
            target, pause = HANDLERS[type(step)](state, step, definition, effects, now)
        except Exception as error:
            # Keep what the steps before it did (their effects are idempotent by key);
            # this step starts again from scratch on the retry.
            _restore(state, before)
            raise StepError(step.id) from error
        if state.status in ("exited", "holdout", "waiting"):
            return
        state.step = target
        if pause is not None:
            state.due_at = pause
            return
    state.due_at = now  # a long loop: carry on in the next pass
    state.log(state.step, now, "yielded", after=MAX_STEPS_PER_PASS)


class StepError(Exception):
    """A step raised; the state is left just before it."""


def _snapshot(state: State) -> tuple[Any, ...]:
    return (
        state.status,
        state.step,
        state.due_at,
        state.arm,
        state.wait_event,
        state.context,
        state.step_count,
        len(state.trace),
        len(state.messages),
    )


def _restore(state: State, saved: tuple[Any, ...]) -> None:
    (state.status, state.step, state.due_at, state.arm, state.wait_event, state.context) = saved[:6]
    state.step_count = saved[6]
    del state.trace[saved[7] :]
    del state.messages[saved[8] :]


Outcome = tuple[str | None, datetime | None]  # (next step, wait until; None: go on now)


def _wait(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, WaitStep)
    following = d.following(step.id)
    if step.duration is not None:
        until = now + step.duration
        state.log(step.id, now, "wait", until=until.isoformat())
        return following, until
    if step.until_time is not None:
        local = now.astimezone(e.zone)
        until = datetime.combine(local.date(), step.until_time, tzinfo=e.zone)
        if until <= local:
            until = datetime.combine(
                local.date() + timedelta(days=1), step.until_time, tzinfo=e.zone
            )
        state.log(step.id, now, "wait", until=until.isoformat())
        return following, until
    assert step.until_event is not None
    state.status, state.wait_event = "waiting", step.until_event.event_type
    state.due_at = now + step.until_event.timeout
    state.log(
        step.id,
        now,
        "waiting",
        event_type=step.until_event.event_type,
        timeout=state.due_at.isoformat(),
    )
    return step.id, None


def _branch(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, BranchStep)
    needs_person = _reads_person(step)
    seen = facts(state, e, needs_person)
    for index, case in enumerate(step.cases):
        if evaluate(case.when, seen):
            target = d.resolve(case.next, step.id)
            state.log(step.id, now, "branch", case=index, next=target)
            return target, None
    following = d.following(step.id)
    state.log(step.id, now, "branch", case="default", next=following)
    return following, None


_READS_PERSON: dict[int, tuple[BranchStep, bool]] = {}


def _reads_person(step: BranchStep) -> bool:
    """Whether a branch's conditions read `person.*` (worked out once per step object)."""
    known = _READS_PERSON.get(id(step))
    if known is None or known[0] is not step:
        if len(_READS_PERSON) > 10_000:  # definitions are re-read per batch: stay small
            _READS_PERSON.clear()
        fields = [f for c in step.cases for f in c.when.fields()]
        known = (step, any(f.startswith("person.") for f in fields))
        _READS_PERSON[id(step)] = known
    return known[1]


def split_point(journey_id: int, oneid: str, step_id: str) -> float:
    """A stable number in [0, 1) per person and split: the same person always lands in
    the same arm of a split, across retries and versions."""
    digest = hashlib.blake2b(f"{journey_id}:{oneid}:{step_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _split(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, SplitStep)
    point = split_point(state.journey_id, state.oneid, step.id)
    holdout = step.holdout_percent / 100
    if point < holdout:
        state.arm = "holdout"
        state.status, state.step = "holdout", None
        window = d.goal.within if d.goal is not None else timedelta(0)
        state.due_at = state.entered_at + window
        state.log(step.id, now, "holdout", until=state.due_at.isoformat())
        return None, None
    scaled = (point - holdout) / (1 - holdout)
    total = sum(arm.weight for arm in step.arms)
    edge = 0.0
    chosen = step.arms[-1]
    for arm in step.arms:
        edge += arm.weight / total
        if scaled < edge:
            chosen = arm
            break
    state.arm = chosen.name
    target = d.resolve(chosen.next, step.id)
    state.log(step.id, now, "split", arm=chosen.name, next=target)
    return target, None


def message_key(state: State, step_id: str) -> str:
    """A message's idempotency key: the enrolment, the step and how many steps the
    enrolment had run (a step visited again in a loop sends again; a retry does not)."""
    return f"j{state.id}:{step_id}:{state.step_count}"


def _variables(state: State, e: Effects) -> dict[str, Any]:
    return {
        "person": e.person(state.oneid, False),
        "coupon": state.context.get("coupon"),
        "record": state.context.get("record") or {},
        "data": state.context.get("data") or {},
        "enrolment": {"id": state.id, "arm": state.arm, "journey": state.journey_key},
    }


def _queue(
    state: State,
    step_id: str,
    channel: str,
    category: Literal["marketing", "transactional"],
    content: dict[str, Any],
    e: Effects,
    now: datetime,
) -> str:
    key = message_key(state, step_id)
    state.messages.append(
        Queued(  # built from a validated definition: no re-validation
            key,
            state.oneid,
            channel,
            category,
            content,
            _variables(state, e),
            f"journey:{state.journey_id}:{state.version}:{step_id}",
            now,
        )
    )
    return key


def _send(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, SendStep)
    key = _queue(state, step.id, step.channel, step.category, step.content, e, now)
    state.log(step.id, now, "queued", channel=step.channel, message=key)
    return d.following(step.id), None


def _tag(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, TagStep)
    key = message_key(state, step.id)
    e.apply_tags(state, step, key)
    detail: dict[str, Any] = {"add": step.add, "remove": step.remove}
    if step.wecom:
        content = {"default": {"add_tag": step.add, "remove_tag": step.remove}}
        detail["wecom"] = _queue(state, step.id, "wecom_tag", "transactional", content, e, now)
    state.log(step.id, now, "tagged", **detail)
    return d.following(step.id), None


def _grant(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, GrantStep)
    code = e.grant(state, step, message_key(state, step.id))
    if code is not None:
        state.context = {**state.context, "coupon": code}
    state.log(step.id, now, "granted", points=step.points, coupon=code)
    return d.following(step.id), None


def _webhook(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, WebhookStep)
    content = {"default": {"url": step.url, "body": step.body}}
    key = _queue(state, step.id, "webhook", "transactional", content, e, now)
    state.log(step.id, now, "queued", channel="webhook", message=key)
    return d.following(step.id), None


def _task(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, TaskStep)
    key = _queue(state, step.id, "wecom_staff", "transactional", step.content, e, now)
    state.log(step.id, now, "task", message=key)
    return d.following(step.id), None


def _exit(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    state.log(step.id, now, "exited")
    state.finish("exited", now)
    return None, None


HANDLERS: dict[type, Callable[[State, Step, JourneyDefinition, Effects, datetime], Outcome]] = {
    WaitStep: _wait,
    BranchStep: _branch,
    SplitStep: _split,
    SendStep: _send,
    TagStep: _tag,
    GrantStep: _grant,
    WebhookStep: _webhook,
    TaskStep: _task,
    ExitStep: _exit,
}
