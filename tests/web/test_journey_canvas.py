"""The canvas layout: every step a box, no boxes overlapping, arrows down except loops."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.journeys import JourneyDefinition
from siyu.web.i18n import translator
from siyu.web.journey_canvas import END, HEIGHT, TRIGGER, WIDTH, build_canvas
from siyu.web.journey_forms import add_step, remove_step

_ = translator("en")


def _definition(steps: list[dict[str, Any]]) -> JourneyDefinition:
    return JourneyDefinition.model_validate(
        {"key": "k", "name": "n", "trigger": {"type": "manual"}, "steps": steps}
    )


def _overlap(a: Any, b: Any) -> bool:
    return abs(a.x - b.x) < WIDTH and abs(a.y - b.y) < HEIGHT


# A random journey: each step a send, tag, wait or branch, pointing anywhere (loops too).
step_specs = st.lists(
    st.tuples(st.sampled_from(["send", "tag", "wait", "branch", "exit"]), st.integers(0, 9)),
    min_size=1,
    max_size=9,
)


def _random_steps(specs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    ids = [f"s{i}" for i in range(len(specs))]
    steps: list[dict[str, Any]] = []
    for i, (kind, target) in enumerate(specs):
        jump = ids[target] if target < len(ids) else "end"
        step: dict[str, Any] = {"id": ids[i], "type": kind}
        if kind == "send":
            step.update(channel="sms", content={"zh-CN": {"template": "T"}})
        elif kind == "tag":
            step.update(add=["x"], next=jump)
        elif kind == "wait":
            step["duration"] = "PT1H"
        elif kind == "branch":
            step["cases"] = [{"when": {"field": "person.tier", "value": "gold"}, "next": jump}]
        steps.append(step)
    return steps


@settings(max_examples=60, deadline=None)
@given(step_specs)
def test_every_step_is_a_box_and_no_two_boxes_overlap(specs: list[tuple[str, int]]) -> None:
    definition = _definition(_random_steps(specs))
    canvas = build_canvas(definition, _)
    ids = {node.id for node in canvas.nodes}
    assert {step.id for step in definition.steps} | {TRIGGER} <= ids
    for i, a in enumerate(canvas.nodes):
        assert a.x >= 0 and a.x + WIDTH <= canvas.width and a.y + HEIGHT <= canvas.height
        for b in canvas.nodes[i + 1 :]:
            assert not _overlap(a, b), (a, b)
    by_id = {node.id: node for node in canvas.nodes}
    for edge in canvas.edges:
        assert edge.path.startswith("M")
        if not edge.back:  # forward arrows go down; loops are drawn back up, dashed
            assert by_id[edge.target].y > by_id[edge.source].y


def test_arrows_that_skip_rows_take_a_slot_in_each_row_between() -> None:
    steps = _random_steps([("branch", 9), ("send", 0), ("send", 0), ("tag", 9)])
    canvas = build_canvas(_definition(steps), _)
    skip = next(e for e in canvas.edges if e.source == "s0" and e.target == END)
    assert len(skip.via) == 3  # rows of s1, s2 and s3


def test_forms_add_after_a_step_and_remove_reroutes_arrows() -> None:
    data = {
        "key": "k",
        "name": "n",
        "trigger": {"type": "manual"},
        "steps": _random_steps([("send", 0), ("tag", 2), ("send", 0)]),
    }
    added = add_step(data, {"type": "wait", "id": "s1", "after": "s0", "duration": "P1D"})
    assert [s["id"] for s in added["steps"]] == ["s0", "s1-2", "s1", "s2"]
    removed = remove_step(data, "s2")
    assert removed["steps"][1]["next"] == "end"  # s1 pointed at s2, which was last
    _definition(removed["steps"])
    assert data["steps"][1]["next"] == "s2"  # the caller's data is untouched
