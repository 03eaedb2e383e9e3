"""The frequent steps (branch, send, tag), each run for a whole group of enrolments
standing at it in one call, and what steps share to build messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from siyu.channels import Queued
from siyu.journeys.conditions import evaluate
from siyu.journeys.schemas import BranchStep, JourneyDefinition, SendStep, TagStep
from siyu.journeys.state import Effects, Failure, State

# (states at the step, the step, definition, effects, now, failures) -> states going on now
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


def new_message(
    state: State,
    key: str,
    channel: str,
    category: Literal["marketing", "transactional"],
    content: dict[str, Any],
    e: Effects,
    origin: str,
    now: datetime,
) -> Queued:
    """A message for the outbox, built from a validated definition (no re-validation)."""
    return Queued(key, state.oneid, channel, category, content, _variables(state, e), origin, now)


def message_origin(state: State, step_id: str) -> str:
    """Which journey version and step queued a message."""
    return f"journey:{state.journey_id}:{state.version}:{step_id}"


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
    origin = message_origin(group[0], step.id)  # one journey version per group
    going: list[State] = []
    for state in group:
        count = state.step_count + 1
        key = message_key(state.id, step.id, count)
        try:
            message = new_message(
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
    origin = message_origin(group[0], step.id)
    wecom = {"default": {"add_tag": step.add, "remove_tag": step.remove}}
    going: list[State] = []
    for state in group:
        count = state.step_count + 1
        key = message_key(state.id, step.id, count)
        detail: dict[str, Any] = {"add": step.add, "remove": step.remove}
        try:
            e.apply_tags(state, step, key)
            if step.wecom:
                message = new_message(
                    state, key, "wecom_tag", "transactional", wecom, e, origin, now
                )
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


IN_GROUPS: dict[type, GroupHandler] = {BranchStep: _branch, SendStep: _send, TagStep: _tag}
