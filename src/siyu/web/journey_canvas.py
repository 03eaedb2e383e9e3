"""A journey drawn as a graph: boxes for the trigger and steps, arrows for where each goes.

The layout is computed here and rendered as SVG by `journeys/_canvas.html` (no script):
layers top to bottom by the longest forward path from the trigger, loops drawn as arrows
back up the right-hand side, and the same graph as a list for screen readers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from siyu import journeys
from siyu.journeys.schemas import (
    BranchStep,
    GrantStep,
    SendStep,
    SplitStep,
    Step,
    TagStep,
    TaskStep,
    WaitStep,
    WebhookStep,
)

Translate = Callable[..., str]
TRIGGER, END, HOLDOUT = "@trigger", "@end", "@holdout"
WIDTH, HEIGHT, GAP_X, GAP_Y, MARGIN = 184, 64, 32, 56, 16
VIA = 24  # width of the slot an arrow takes in a row it passes through
LOOP_ROOM = 72  # space on the right for arrows going back up
TEXT = 24  # characters that fit on a line of a box


@dataclass
class Node:
    id: str
    kind: str  # trigger, a step type, end, holdout
    title: str
    subtitle: str
    detail: str
    x: int = 0
    y: int = 0
    stat: str | None = None  # e.g. people who entered, on the results page


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    path: str = ""
    label_x: int = 0
    label_y: int = 0
    back: bool = False
    via: list[str] = field(default_factory=list)  # the slots it passes in rows between


@dataclass
class Canvas:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    outgoing: dict[str, list[Edge]] = field(default_factory=dict)

    @property
    def steps(self) -> list[Node]:
        return [n for n in self.nodes if n.id not in (TRIGGER, END, HOLDOUT)]


def _short(text: str, size: int = TEXT) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _duration(value: timedelta, _: Translate) -> str:
    seconds = int(value.total_seconds())
    for unit, name in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds % unit == 0 and seconds >= unit:
            return f"{seconds // unit} {_(name)}"
    return f"{seconds} s"


def condition_text(condition: Any) -> str:
    """A condition in one line: `record.properties.price ≥ 100`, `all(…, …)`."""
    if condition is None:
        return ""
    if condition.field:
        ops = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
        op = ops.get(condition.op, condition.op)
        value = "" if condition.op in ("exists", "not_exists") else f" {condition.value}"
        return f"{condition.field} {op}{value}"
    if condition.not_ is not None:
        return f"not({condition_text(condition.not_)})"
    kind = "all" if condition.all is not None else "any"
    parts = condition.all if condition.all is not None else condition.any or []
    return f"{kind}({', '.join(condition_text(p) for p in parts)})"


def _trigger_node(definition: journeys.JourneyDefinition, _: Translate) -> Node:
    trigger = definition.trigger
    kind = trigger.type
    detail = ""
    subtitle = {
        "event": _("Event"),
        "order": _("An order"),
        "audience_enter": _("Enters audience"),
        "audience_leave": _("Leaves audience"),
        "date": _("Date"),
        "schedule": _("Schedule"),
        "manual": _("Manual"),
    }[kind]
    data = trigger.model_dump(mode="json", exclude_none=True)
    if kind == "event":
        detail = data["event_type"]
    elif kind == "order":
        detail = ", ".join(data["statuses"])
    elif kind in ("audience_enter", "audience_leave"):
        detail = data["audience"]
    elif kind == "date":
        detail = _(
            "{attribute} −{days} d at {at}",
            attribute=_(data["attribute"]),
            days=data["days_before"],
            at=data["at"][:5],
        )
    elif kind == "schedule":
        every = {"day": _("every day"), "week": _("every week"), "month": _("every month")}
        detail = f"{every[data['every']]} {data['at'][:5]}"
    where = data.get("where")
    if where is not None:
        detail = f"{detail} · {condition_text(getattr(trigger, 'where', None))}"
    return Node(TRIGGER, "trigger", _("Trigger"), subtitle, _short(detail))


def _step_text(step: Step, _: Translate) -> str:
    """The line under a step's id saying what it does."""
    if isinstance(step, WaitStep):
        if step.duration is not None:
            return _("wait {time}", time=_duration(step.duration, _))
        if step.until_time is not None:
            return _("until {time}", time=step.until_time.strftime("%H:%M"))
        assert step.until_event is not None
        return _(
            "until {event}, at most {time}",
            event=step.until_event.event_type,
            time=_duration(step.until_event.timeout, _),
        )
    if isinstance(step, SendStep):
        content = next(iter(step.content.values()), {})
        template = (
            content.get("template") or content.get("template_id") or content.get("subject") or ""
        )
        return f"{_(step.channel)} {template}".strip()
    if isinstance(step, BranchStep):
        return _("{count} cases", count=len(step.cases))
    if isinstance(step, SplitStep):
        arms = "/".join(arm.name for arm in step.arms)
        return (
            f"{arms} · {_('holdout')} {step.holdout_percent:g}%" if step.holdout_percent else arms
        )
    if isinstance(step, TagStep):
        return " ".join([*(f"+{t}" for t in step.add), *(f"−{t}" for t in step.remove)])
    if isinstance(step, GrantStep):
        parts = [_("{points} points", points=step.points)] if step.points else []
        return " + ".join([*parts, *([step.coupon] if step.coupon else [])])
    if isinstance(step, WebhookStep):
        return step.url.split("//")[-1]
    if isinstance(step, TaskStep):
        content = next(iter(step.content.values()), {})
        return str(content.get("text", ""))
    return ""


STEP_TITLES = {
    "wait": "Wait",
    "branch": "Branch",
    "split": "A/B split",
    "send": "Send",
    "tag": "Tagging",
    "grant": "Grant",
    "webhook": "Webhook",
    "task": "Guide task",
    "exit": "Exit",
}


# What a trace entry's result means, for people (the engine's words are terse).
TRACE_RESULTS = {
    "queued": "Message queued",
    "wait": "Waiting",
    "branch": "Branch taken",
    "split": "Arm assigned",
    "holdout": "Put in the holdout",
    "tagged": "Tags changed",
    "granted": "Granted",
    "task": "Task sent to the guide",
    "retry": "Failed, will retry",
    "retried": "Retried by hand",
    "event": "Awaited event arrived",
    "timeout": "Wait timed out",
    "goal": "Goal reached",
    "exited": "Exited",
    "completed": "Completed",
    "converted": "Converted",
    "failed": "Failed",
}


def _edges(definition: journeys.JourneyDefinition, _: Translate) -> list[Edge]:
    """Every arrow: where each step can go, labelled with why."""

    def to(target: str | None) -> str:
        return END if target is None else target

    found = [Edge(TRIGGER, definition.steps[0].id)]
    for step in definition.steps:
        following = definition.following(step.id)
        if isinstance(step, BranchStep):
            for case in step.cases:
                target = definition.resolve(case.next, step.id)
                found.append(Edge(step.id, to(target), _short(condition_text(case.when), 28)))
            found.append(Edge(step.id, to(following), _("otherwise")))
        elif isinstance(step, SplitStep):
            total = sum(arm.weight for arm in step.arms)
            share = (100 - step.holdout_percent) / total
            for arm in step.arms:
                target = definition.resolve(arm.next, step.id)
                found.append(Edge(step.id, to(target), f"{arm.name} {arm.weight * share:.0f}%"))
            if step.holdout_percent:
                found.append(Edge(step.id, HOLDOUT, f"{_('holdout')} {step.holdout_percent:g}%"))
        elif isinstance(step, WaitStep) and step.until_event is not None:
            timeout = definition.resolve(step.until_event.on_timeout, step.id)
            if timeout == following:
                found.append(Edge(step.id, to(following), _("event or timeout")))
            else:
                found.append(Edge(step.id, to(following), step.until_event.event_type))
                found.append(Edge(step.id, to(timeout), _("timeout")))
        elif step.type != "exit":
            found.append(Edge(step.id, to(following)))
    return found


def _layers(order: list[str], edges: list[Edge]) -> dict[str, int]:
    """Longest forward path from the trigger; arrows closing a loop are marked `back`."""
    out: dict[str, list[Edge]] = {node: [] for node in order}
    for edge in edges:
        out[edge.source].append(edge)
    state: dict[str, int] = {}  # 1 on the walk's stack, 2 done
    finished: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        for edge in out[node]:
            if state.get(edge.target) == 1:
                edge.back = True
            elif edge.target not in state:
                walk(edge.target)
        state[node] = 2
        finished.append(node)

    for node in order:
        if node not in state:
            walk(node)
    layer = dict.fromkeys(order, 0)
    for node in reversed(finished):  # a topological order of the forward arrows
        for edge in out[node]:
            if not edge.back:
                layer[edge.target] = max(layer[edge.target], layer[node] + 1)
    return layer


def build_canvas(
    definition: journeys.JourneyDefinition,
    _: Translate,
    stats: dict[str, str] | None = None,
) -> Canvas:
    """Lay out a definition; `stats` puts a figure on each step (e.g. people entered)."""
    nodes = {TRIGGER: _trigger_node(definition, _)}
    for step in definition.steps:
        title = _(STEP_TITLES[step.type])
        nodes[step.id] = Node(step.id, step.type, title, step.id, _short(_step_text(step, _)))
    edges = _edges(definition, _)
    targets = {edge.target for edge in edges}
    if END in targets:
        nodes[END] = Node(END, "end", _("End"), "", "")
    if HOLDOUT in targets:
        nodes[HOLDOUT] = Node(HOLDOUT, "holdout", _("Holdout"), _("gets nothing, measured"), "")
    layer = _layers(list(nodes), edges)
    # Ends at the bottom: one row for every way out, below the deepest step.
    bottom = max([layer[n] for n in nodes if n not in (END, HOLDOUT)], default=0) + 1
    for terminal in (END, HOLDOUT):
        if terminal in nodes:
            layer[terminal] = max(layer[terminal], bottom)
    rows: dict[int, list[str]] = {}
    for node in nodes:  # definition order within a row, then by where arrows come from
        rows.setdefault(layer[node], []).append(node)
    # An arrow jumping rows passes through a narrow slot in each row between: no arrow
    # is drawn through a box.
    chains: list[list[str]] = []
    for edge in edges:
        if edge.back or layer[edge.target] <= layer[edge.source]:
            edge.back = True
            continue
        for depth in range(layer[edge.source] + 1, layer[edge.target]):
            via = f"@via{len(edge.via)}-{len(chains)}"
            edge.via.append(via)
            rows[depth].append(via)
        chains.append([edge.source, *edge.via, edge.target])
    _order_rows(rows, chains)
    centres = _place(rows, nodes)
    inner = max(_row_width(row) for row in rows.values())
    width = inner + 2 * MARGIN + (LOOP_ROOM if any(edge.back for edge in edges) else 0)
    height = MARGIN * 2 + (max(rows) + 1) * HEIGHT + max(rows) * GAP_Y
    for box in nodes.values():
        if stats and box.id in stats:
            box.stat = stats[box.id]
    _route(edges, nodes, centres, inner + MARGIN)
    canvas = Canvas(list(nodes.values()), edges, width, height)
    for edge in edges:
        canvas.outgoing.setdefault(edge.source, []).append(edge)
    return canvas


def _is_via(node: str) -> bool:
    return node.startswith("@via")


def _row_width(row: list[str]) -> int:
    return sum(VIA if _is_via(n) else WIDTH for n in row) + GAP_X * (len(row) - 1)


def _order_rows(rows: dict[int, list[str]], chains: list[list[str]]) -> None:
    """Put each box under the boxes its arrows come from (barycentre, one pass down)."""
    above: dict[str, list[str]] = {}
    for chain in chains:
        for upper, lower in zip(chain, chain[1:], strict=False):
            above.setdefault(lower, []).append(upper)
    position: dict[str, float] = {}
    for depth in sorted(rows):
        row = rows[depth]
        if depth > 0:

            def centre(node: str, row: list[str] = row) -> float:
                sources = [position[s] for s in above.get(node, []) if s in position]
                return sum(sources) / len(sources) if sources else float(row.index(node))

            row.sort(key=centre)
        for index, node in enumerate(row):
            position[node] = index - (len(row) - 1) / 2


def _place(rows: dict[int, list[str]], nodes: dict[str, Node]) -> dict[str, int]:
    """Each row centred; boxes get their top-left corner, slots their centre x."""
    inner = max(_row_width(row) for row in rows.values())
    centres: dict[str, int] = {}
    for depth, row in rows.items():
        x = MARGIN + (inner - _row_width(row)) // 2
        for node_id in row:
            size = VIA if _is_via(node_id) else WIDTH
            centres[node_id] = x + size // 2
            if node_id in nodes:
                nodes[node_id].x, nodes[node_id].y = x, MARGIN + depth * (HEIGHT + GAP_Y)
            else:
                centres[node_id + "@y"] = MARGIN + depth * (HEIGHT + GAP_Y)
            x += size + GAP_X
    return centres


def _route(edges: list[Edge], nodes: dict[str, Node], centres: dict[str, int], right: int) -> None:
    """SVG paths: curves down between rows (straight through the slots of rows they
    cross); loops around the right-hand side, dashed."""
    loops = 0
    for edge in edges:
        a, b = nodes[edge.source], nodes[edge.target]
        if edge.back:
            lane = right + 20 + 14 * loops
            loops += 1
            sx, sy = a.x + WIDTH, a.y + HEIGHT // 2 + 8
            tx, ty = b.x + WIDTH, b.y + HEIGHT // 2 - 8
            edge.path = f"M{sx},{sy} L{lane},{sy} L{lane},{ty} L{tx + 6},{ty}"
            edge.label_x, edge.label_y = lane - 4, (sy + ty) // 2
            continue
        siblings = [e for e in edges if e.source == edge.source and not e.back]
        index = siblings.index(edge)
        spread = (index - (len(siblings) - 1) / 2) * min(36, WIDTH // max(len(siblings), 1))
        points = [(a.x + WIDTH // 2 + int(spread), a.y + HEIGHT)]
        for via in edge.via:
            top = centres[via + "@y"]
            points += [(centres[via], top), (centres[via], top + HEIGHT)]
        points.append((b.x + WIDTH // 2, b.y - 6))
        path = [f"M{points[0][0]},{points[0][1]}"]
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            if x0 == x1 and y1 - y0 == HEIGHT:  # through a slot
                path.append(f"L{x1},{y1}")
            else:
                middle = (y0 + y1) // 2
                path.append(f"C{x0},{middle} {x1},{middle} {x1},{y1}")
        edge.path = " ".join(path)
        (x0, y0), (x1, y1) = points[0], points[1]
        # Near the lower end of the first stretch, where arrows leaving one box have
        # spread apart: their labels do not overlap.
        edge.label_x, edge.label_y = x0 + (x1 - x0) * 7 // 10, y0 + (y1 - y0) * 3 // 5
