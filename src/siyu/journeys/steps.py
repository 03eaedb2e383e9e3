"""The step interpreter: runs enrolments' steps until each waits or ends.

Pure with respect to the store: effects (messages to queue, trace rows) are collected
by the caller and written in the same transaction as the enrolments' new state; port
calls (tags, loyalty) run inside that transaction and are idempotent by key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from siyu.journeys.handlers import IN_GROUPS
from siyu.journeys.schemas import JourneyDefinition, WaitStep
from siyu.journeys.single import ONE_BY_ONE
from siyu.journeys.state import Effects, Failure, State

MAX_STEPS_PER_PASS = 100  # a loop in a journey graph cannot spin a worker forever
HANDLERS = {**IN_GROUPS, **ONE_BY_ONE}  # step type -> handler for a group at that step


def run_group(
    states: Sequence[State], definition: JourneyDefinition, effects: Effects, now: datetime
) -> list[Failure]:
    """Advance enrolments of one journey version, each as far as it goes now. Each round
    runs every step someone stands at once, for everyone standing there (one handler
    call per step, not per person). A failing enrolment is returned with its error and is
    left just before the failing step (earlier steps stand: their effects are idempotent
    by key) or, when it failed outside a step, as it was read (False)."""
    failed: list[Failure] = []
    moving: list[State] = []
    for state in states:
        try:
            if _resume(state, definition, now):
                moving.append(state)
        except Exception as error:
            failed.append((state, error, False))
    for _ in range(MAX_STEPS_PER_PASS):
        if not moving:
            return failed
        at: dict[str | None, list[State]] = defaultdict(list)
        for state in moving:
            at[state.step].append(state)
        moving = []
        for step_id, group in at.items():
            if step_id is None:
                for state in group:
                    state.log(None, now, "completed")
                    state.finish("completed", now)
                continue
            try:
                step = definition.step(step_id)
            except Exception as error:
                failed.extend((state, error, False) for state in group)
                continue
            moving += HANDLERS[type(step)](group, step, definition, effects, now, failed)
    for state in moving:  # a long loop: carry on in the next pass
        state.due_at = now
        state.log(state.step, now, "yielded", after=MAX_STEPS_PER_PASS)
    return failed


def _resume(state: State, definition: JourneyDefinition, now: datetime) -> bool:
    """End a holdout, time out a wait; whether the enrolment goes on to run steps."""
    if state.status == "holdout":
        state.log(None, now, "completed", why="holdout window over")
        state.finish("completed", now)
        return False
    if state.status == "waiting":
        wait = definition.step(state.step or "")
        assert isinstance(wait, WaitStep) and wait.until_event is not None
        target = definition.resolve(wait.until_event.on_timeout, wait.id)
        state.log(wait.id, now, "timeout", event_type=wait.until_event.event_type)
        state.status, state.wait_event, state.step = "active", None, target
    return True
