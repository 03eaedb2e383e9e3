"""What each step does. The frequent steps (branch, send, tag) run for a whole group
of enrolments standing at the same step in one call; the others one enrolment at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

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
from siyu.journeys.state import Effects, Failure, State

Outcome = tuple[str | None, datetime | None]  # (next step, wait until; None: go on now)
Handler = Callable[[State, Step, JourneyDefinition, Effects, datetime], Outcome]
GroupHandler = Callable[
    [list[State], Any, JourneyDefinition, Effects, datetime, list[Failure]], list[State]
]


def facts(state: State, effects: Effects, needs_person: bool) -> dict[str, Any]:
    """What conditions see: the trigger record, the person, the enrolment."""
    return {
        "record": state.context.get("record") or {},
        "data": state.context.get("data") or {},
        "person": effects.person(state.oneid, True) if needs_person else {},
        "enrolment": {"arm": state.arm, "journey": state.journey_key, "version": state.version},
    }


def _one_by_one(handler: Handler) -> GroupHandler:
    """A group handler from a handler of one enrolment (the less frequent steps): each
    state is saved before its step and put back if the step raises."""

    def run(
        group: list[State],
        step: Step,
        d: JourneyDefinition,
        e: Effects,
        now: datetime,
        failed: list[Failure],
    ) -> list[State]:
        going: list[State] = []
        for state in group:
            before = _snapshot(state)
            state.step_count += 1
            try:
                target, pause = handler(state, step, d, e, now)
            except Exception as error:
                _restore(state, before)
                failed.append((state, error, True))
                continue
            if state.status in ("exited", "holdout", "waiting"):
                continue
            state.step = target
            if pause is not None:
                state.due_at = pause
            else:
                going.append(state)
        return going

    return run


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


def message_key(enrolment_id: int, step_id: str, step_count: int) -> str:
    """A message's idempotency key: the enrolment, the step and how many steps the
    enrolment had run (a step visited again in a loop sends again; a retry does not)."""
    return f"j{enrolment_id}:{step_id}:{step_count}"


def _variables(state: State, e: Effects) -> dict[str, Any]:
    return {
        "person": e.person(state.oneid, False),
        "coupon": state.context.get("coupon"),
        "record": state.context.get("record") or {},
        "data": state.context.get("data") or {},
        "enrolment": {"id": state.id, "arm": state.arm, "journey": state.journey_key},
    }


def _message(
    state: State,
    key: str,
    channel: str,
    category: Literal["marketing", "transactional"],
    content: dict[str, Any],
    e: Effects,
    origin: str,
    now: datetime,
) -> Queued:
    # built from a validated definition: no re-validation
    return Queued(key, state.oneid, channel, category, content, _variables(state, e), origin, now)


def _origin(state: State, step_id: str) -> str:
    return f"journey:{state.journey_id}:{state.version}:{step_id}"


# -- the frequent steps, for a whole group at once -------------------------------------
# Each works out what a state's step does before changing the state, so a state whose
# step raised is still as it was before the step (no snapshot needed).


def _branch(
    group: list[State],
    step: BranchStep,
    d: JourneyDefinition,
    e: Effects,
    now: datetime,
    failed: list[Failure],
) -> list[State]:
    needs_person = _reads_person(step)
    cases = [(i, case.when, d.resolve(case.next, step.id)) for i, case in enumerate(step.cases)]
    default = d.following(step.id)
    going: list[State] = []
    for state in group:
        chosen: tuple[int | str, str | None] = ("default", default)
        try:
            seen = facts(state, e, needs_person)
            for index, when, target in cases:
                if evaluate(when, seen):
                    chosen = (index, target)
                    break
        except Exception as error:
            failed.append((state, error, True))
            continue
        state.step_count += 1
        state.log(step.id, now, "branch", case=chosen[0], next=chosen[1])
        state.step = chosen[1]
        going.append(state)
    return going


def _send(
    group: list[State],
    step: SendStep,
    d: JourneyDefinition,
    e: Effects,
    now: datetime,
    failed: list[Failure],
) -> list[State]:
    following = d.following(step.id)
    origin = _origin(group[0], step.id)  # one journey version per group
    going: list[State] = []
    for state in group:
        count = state.step_count + 1
        key = message_key(state.id, step.id, count)
        try:
            message = _message(
                state, key, step.channel, step.category, step.content, e, origin, now
            )
        except Exception as error:
            failed.append((state, error, True))
            continue
        state.step_count = count
        state.messages.append(message)
        state.log(step.id, now, "queued", channel=step.channel, message=key)
        state.step = following
        going.append(state)
    return going


def _tag(
    group: list[State],
    step: TagStep,
    d: JourneyDefinition,
    e: Effects,
    now: datetime,
    failed: list[Failure],
) -> list[State]:
    following = d.following(step.id)
    origin = _origin(group[0], step.id)
    wecom = {"default": {"add_tag": step.add, "remove_tag": step.remove}}
    going: list[State] = []
    for state in group:
        count = state.step_count + 1
        key = message_key(state.id, step.id, count)
        detail: dict[str, Any] = {"add": step.add, "remove": step.remove}
        try:
            e.apply_tags(state, step, key)
            if step.wecom:
                message = _message(state, key, "wecom_tag", "transactional", wecom, e, origin, now)
                detail["wecom"] = key
        except Exception as error:
            failed.append((state, error, True))
            continue
        state.step_count = count
        if step.wecom:
            state.messages.append(message)
        state.log(step.id, now, "tagged", **detail)
        state.step = following
        going.append(state)
    return going


# -- the other steps, one enrolment at a time ---------------------------------------


def _queue(
    state: State,
    step_id: str,
    channel: str,
    category: Literal["marketing", "transactional"],
    content: dict[str, Any],
    e: Effects,
    now: datetime,
) -> str:
    key = message_key(state.id, step_id, state.step_count)
    origin = _origin(state, step_id)
    state.messages.append(_message(state, key, channel, category, content, e, origin, now))
    return key


def _grant(state: State, step: Step, d: JourneyDefinition, e: Effects, now: datetime) -> Outcome:
    assert isinstance(step, GrantStep)
    code = e.grant(state, step, message_key(state.id, step.id, state.step_count))
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


GROUP_HANDLERS: dict[type, GroupHandler] = {
    BranchStep: _branch,
    SendStep: _send,
    TagStep: _tag,
    WaitStep: _one_by_one(_wait),
    SplitStep: _one_by_one(_split),
    GrantStep: _one_by_one(_grant),
    WebhookStep: _one_by_one(_webhook),
    TaskStep: _one_by_one(_task),
    ExitStep: _one_by_one(_exit),
}
