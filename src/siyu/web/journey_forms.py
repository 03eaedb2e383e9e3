"""The step form next to the canvas: add a step to, or remove one from, a definition's text.

Both work on the text being edited (not the stored journey) and give text back; the
journeys domain validates the result like any other definition.
"""

from __future__ import annotations

import json
from typing import Any

STEP_TYPES = ("send", "wait", "branch", "split", "tag", "grant", "webhook", "task", "exit")
CHANNELS = ("sms", "wecom", "wechat_subscribe", "wechat_template", "email", "webhook")
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists")
TRIGGERS = ("event", "order", "audience_enter", "audience_leave", "date", "schedule", "manual")

STARTER = {
    "key": "new-journey",
    "name": "New journey",
    "trigger": {"type": "event", "event_type": "add_to_cart"},
    "steps": [{"id": "exit", "type": "exit"}],
    "goal": {"event_type": "order", "within": "P7D"},
}


class FormProblem(ValueError):
    """The step form cannot be applied (said to the user as is)."""


def as_text(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]


def _number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def _content(channel: str, template: str, text: str) -> dict[str, Any]:
    if channel == "sms":
        return {"template": template, "params": {"name": "{{ person.name }}"}}
    if channel.startswith("wechat"):
        return {"template_id": template, "data": {}}
    if channel == "email":
        return {"subject": template or text, "text": text}
    return {"text": text or template}


def new_step(form: dict[str, str]) -> dict[str, Any]:
    """A step from the form's fields (the ones its type uses)."""
    kind = form.get("type", "")
    if kind not in STEP_TYPES:
        raise FormProblem(f"unknown step type {kind!r}")
    step: dict[str, Any] = {"id": form.get("id", "").strip() or kind, "type": kind}

    def get(name: str) -> str:
        return form.get(name, "").strip()

    if kind == "send":
        channel = get("channel") or "sms"
        step["channel"] = channel
        step["content"] = {"zh-CN": _content(channel, get("template"), get("text"))}
    elif kind == "wait":
        if get("event_type"):
            step["until_event"] = {
                "event_type": get("event_type"),
                "timeout": get("duration") or "P7D",
            }
        else:
            step["duration"] = get("duration") or "P1D"
    elif kind == "branch":
        # `operator`, not `op`: the editor's own `op` field says what to do with the form.
        case: dict[str, Any] = {"when": {"field": get("field"), "op": get("operator") or "eq"}}
        if get("operator") not in ("exists", "not_exists"):
            case["when"]["value"] = _number(get("value"))
        if get("then"):
            case["next"] = get("then")
        step["cases"] = [case]
    elif kind == "split":
        step["arms"] = [{"name": name, "weight": 1} for name in _csv(get("arms") or "A,B")]
        if get("holdout"):
            step["holdout_percent"] = _number(get("holdout"))
    elif kind == "tag":
        step["add"] = _csv(get("add"))
        step["remove"] = _csv(get("remove"))
    elif kind == "grant":
        if get("points"):
            step["points"] = _number(get("points"))
        if get("coupon"):
            step["coupon"] = get("coupon")
    elif kind == "webhook":
        step["url"] = get("url")
    elif kind == "task":
        step["content"] = {"zh-CN": {"text": get("text")}}
    if get("next"):
        step["next"] = get("next")
    return step


def set_trigger(data: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """`data` with the trigger chosen in the form (its main field; the rest in the text)."""
    kind = form.get("trigger_type", "")
    value = form.get("trigger_value", "").strip()
    if kind not in TRIGGERS:
        raise FormProblem(f"unknown trigger type {kind!r}")
    trigger: dict[str, Any] = {"type": kind}
    if kind == "event":
        trigger["event_type"] = value
    elif kind == "order":
        trigger["statuses"] = _csv(value) or ["paid"]
    elif kind in ("audience_enter", "audience_leave"):
        trigger["audience"] = value
    elif kind == "date":
        trigger["attribute"] = value or "birthday"
    elif kind == "schedule":
        trigger.update(every="day", audience=value)
    return {**data, "trigger": trigger}


def add_step(data: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """`data` with a new step after `form["after"]` (default: at the end)."""
    steps = list(data.get("steps") or [])
    step = new_step(form)
    ids = [s.get("id") for s in steps if isinstance(s, dict)]
    base, number = step["id"], 2
    while step["id"] in ids:  # a second "send" becomes "send-2"
        step["id"], number = f"{base}-{number}", number + 1
    after = form.get("after", "")
    position = ids.index(after) + 1 if after in ids else len(steps)
    if after == "@start":
        position = 0
    steps.insert(position, step)
    return {**data, "steps": steps}


def _repoint(steps: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    """Copies of `steps` whose arrows to `old` go to `new` instead."""

    def redirect(holder: dict[str, Any], name: str) -> None:
        if holder.get(name) == old:
            holder[name] = new

    changed = []
    for step in steps:
        step = json.loads(json.dumps(step))  # a copy: the caller's data stays as it was
        redirect(step, "next")
        for case in step.get("cases") or []:
            redirect(case, "next")
        for arm in step.get("arms") or []:
            redirect(arm, "next")
        if isinstance(step.get("until_event"), dict):
            redirect(step["until_event"], "on_timeout")
        changed.append(step)
    return changed


def _steps(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    steps = [s for s in data.get("steps") or [] if isinstance(s, dict)]
    return steps, [s.get("id") for s in steps]


def remove_step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    """`data` without step `step_id`; arrows to it go where it went."""
    steps, ids = _steps(data)
    if step_id not in ids:
        raise FormProblem(f"no step {step_id!r}")
    position = ids.index(step_id)
    after = ids[position + 1] if position + 1 < len(ids) else "end"
    replacement = steps[position].get("next") or after
    kept = steps[:position] + steps[position + 1 :]
    return {**data, "steps": _repoint(kept, step_id, replacement)}


def step_text(data: dict[str, Any], step_id: str) -> str:
    """One step of `data` as indented JSON, to edit on its own."""
    steps, ids = _steps(data)
    if step_id not in ids:
        raise FormProblem(f"no step {step_id!r}")
    return as_text(steps[ids.index(step_id)])


def replace_step(data: dict[str, Any], step_id: str, text: str) -> dict[str, Any]:
    """`data` with step `step_id` replaced by `text` (JSON); a new id is followed by the
    arrows that went to the old one."""
    steps, ids = _steps(data)
    if step_id not in ids:
        raise FormProblem(f"no step {step_id!r}")
    try:
        step = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormProblem(f"the step is not valid JSON: {error}") from error
    if not isinstance(step, dict) or not step.get("id"):
        raise FormProblem("the step must be an object with an id")
    replaced = [step if s.get("id") == step_id else s for s in steps]
    return {**data, "steps": _repoint(replaced, step_id, str(step["id"]))}
