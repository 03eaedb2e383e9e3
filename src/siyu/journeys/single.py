"""The less frequent steps, run one enrolment at a time: each state is saved before its
step and put back if the step raises."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from siyu.journeys.handlers import GroupHandler, message_key, message_origin, new_message
from siyu.journeys.schemas import (
    ExitStep,
    GrantStep,
    JourneyDefinition,
    SplitStep,
    Step,
    TaskStep,
    WaitStep,
    WebhookStep,
)
from siyu.journeys.state import Effects, Failure, State

Outcome = tuple[str | None, datetime | None]  # (next step, wait until; None: go on now)
Handler = Callable[[State, Step, JourneyDefinition, Effects, datetime], Outcome]


def one_by_one(handler: Handler) -> GroupHandler:
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
    origin = message_origin(state, step_id)
    state.messages.append(new_message(state, key, channel, category, content, e, origin, now))
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


ONE_BY_ONE: dict[type, GroupHandler] = {
    step_type: one_by_one(handler)
    for step_type, handler in (
        (WaitStep, _wait),
        (SplitStep, _split),
        (GrantStep, _grant),
        (WebhookStep, _webhook),
        (TaskStep, _task),
        (ExitStep, _exit),
    )
}
