"""Reading journeys: definitions from text with clear errors, counts, versions and their
differences, and the funnel/A-B results built from enrolments, messages and clicks."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from journey_console_support import click_event
from journey_support import NOON, SMS, Recorder, journey, person
from siyu import channels, journeys, records
from siyu.journeys import (
    DefinitionError,
    JourneyDefinition,
    Ports,
    enrol,
    journey_results,
    journey_summaries,
    list_versions,
    parse_definition,
    run_due,
    update_journey,
    version_diff,
)
from siyu.store.base import utcnow
from siyu.tenants import TenantContext
from support import event, ingest, order

STEPS = [
    {"id": "ab", "type": "split", "holdout_percent": 30, "arms": [{"name": "A"}, {"name": "B"}]},
    {"id": "sms", "type": "send", "channel": "sms", "content": SMS},
]


def test_parse_definition_reads_json_and_yaml_alike() -> None:
    data = {"key": "k1", "name": "欢迎", "trigger": {"type": "manual"}, "steps": STEPS}
    from_json = parse_definition(text=json.dumps(data, ensure_ascii=False))
    yaml_text = (
        "key: k1\nname: 欢迎\ntrigger: {type: manual}\nsteps:\n"
        "  - {id: ab, type: split, holdout_percent: 30, arms: [{name: A}, {name: B}]}\n"
        "  - id: sms\n    type: send\n    channel: sms\n"
        "    content: {zh-CN: {template: SMS_1, params: {name: '{{ person.name }}'}}}\n"
    )
    assert parse_definition(text=yaml_text) == from_json == JourneyDefinition.model_validate(data)
    assert journeys.definition_text(from_json).startswith('{\n  "key": "k1"')


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the definition is empty"),
        ('{"key": "k",', "JSON: "),
        ("key: [", "YAML: "),
        ("[1, 2]", "must be an object"),
        (
            '{"key": "k", "name": "n", "trigger": {"type": "event"}, "steps": '
            '[{"id": "s", "type": "send", "channel": "fax", "content": {"zh-CN": {}}}]}',
            "steps[0] (s) → channel: Input should be 'sms'",
        ),
        (
            '{"key": "k", "name": "n", "trigger": {"type": "event"}, "steps": [{"id": "w"}]}',
            "trigger → event_type: Field required",
        ),
        (
            '{"key": "k", "name": "n", "trigger": {"type": "manual"}, "steps": '
            '[{"id": "w", "type": "wait"}]}',
            "steps[0] (w): a wait has exactly one of",
        ),
        (
            '{"key": "k", "name": "n", "trigger": {"type": "manual"}, "steps": '
            '[{"id": "x", "type": "exit", "next": "nowhere"}]}',
            "points to unknown step 'nowhere'",
        ),
    ],
)
def test_parse_definition_says_what_is_wrong_and_where(text: str, problem: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        parse_definition(text=text)
    assert any(problem in found for found in raised.value.problems), raised.value.problems


def test_summaries_versions_and_diffs(session: Session, tenant: TenantContext) -> None:
    definition = journey(session, tenant, [{"id": "bye", "type": "exit"}], key="counted")
    people = [person(session, tenant, f"c{i}", phone=f"1380000100{i}") for i in range(3)]
    enrol(session=session, tenant=tenant, key="counted", oneids=people, now=NOON)
    run_due(session=session, ports=journeys.memory_ports(), worker="w", now=NOON)
    enrol(session=session, tenant=tenant, key="counted", oneids=people[:1], now=NOON)
    found = {s.key: s for s in journey_summaries(session=session, tenant=tenant)}
    assert (found["counted"].enrolled, found["counted"].in_flight) == (4, 1)
    changed = definition.model_copy(update={"name": "counted v2"})
    update_journey(session=session, tenant=tenant, definition=changed)
    versions = list_versions(session=session, tenant=tenant, key="counted")
    assert [(v.version, v.live, v.in_flight) for v in versions] == [(2, True, 0), (1, False, 1)]
    diff = version_diff(session=session, tenant=tenant, key="counted", old=1, new=2)
    assert '-  "name": "test journey",' in diff and '+  "name": "counted v2",' in diff
    with pytest.raises(journeys.JourneyError):
        version_diff(session=session, tenant=tenant, key="counted", old=1, new=9)


def test_results_count_each_stage_per_arm_against_the_holdout(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(session, tenant, STEPS, key="measured", goal={"event_type": "order", "within": "P7D"})
    assert journey_results(session=session, tenant=tenant, key="measured") is None
    # Goals are looked for in recent enrolments only: this one starts now.
    start = utcnow()
    phones = [f"139{i:08d}" for i in range(40)]
    people = [
        person(session, tenant, f"m{i}", phone=p, consent={"sms": True})
        for i, p in enumerate(phones)
    ]
    enrol(session=session, tenant=tenant, key="measured", oneids=people, now=start)
    run_due(session=session, ports=ports, worker="w", now=start)
    channels.set_policy(
        session=session,
        tenant=tenant,
        policy=channels.TouchPolicy(caps=[], quiet_hours=channels.QuietHours(enabled=False)),
    )
    channels.dispatch(
        session=session, adapters=channels.Adapters({"sms": Recorder()}), worker="w", now=start
    )
    found = journeys.list_enrolments(session=session, tenant=tenant, key="measured")
    arm_of = {e.oneid: e.arm for e in found}
    sent = channels.list_messages(session=session, tenant=tenant, origin_prefix="journey:")
    # two people click their message; every third person buys, holdout or not
    later = (start + timedelta(hours=1)).isoformat()
    clicks = [click_event(m, phones[people.index(m.oneid)], later) for m in sent[:2]]
    buyers = list(range(0, 40, 3))
    orders = [
        order(
            "pos", f"o{i}", ids={"phone": phones[i]}, total="88.00", created_at=later, paid_at=later
        )
        for i in buyers
    ]
    ingest(session, tenant, *clicks, *orders)
    report = journey_results(session=session, tenant=tenant, key="measured")
    assert report is not None
    assert report.results.control == "holdout"
    units = {arm.arm: arm.units for arm in report.results.arms}
    assert units == {
        name: sum(1 for a in arm_of.values() if a == name) for name in ("holdout", "A", "B")
    }
    split, sms = report.funnel
    assert (split.step, sms.step) == ("ab", "sms")
    by_arm = {c.arm: c for c in sms.arms}
    assert by_arm["holdout"].entered == 0  # the control gets nothing
    reached = sum(units[a] for a in ("A", "B"))
    assert by_arm["A"].entered + by_arm["B"].entered == reached
    assert by_arm["A"].sent + by_arm["B"].sent == len(sent) == reached
    assert by_arm["A"].clicked + by_arm["B"].clicked == 2
    converted = {arm.arm: arm.metrics["conversion"].total for arm in report.results.arms}
    expected = dict.fromkeys(units, 0)
    for i in buyers:
        expected[str(arm_of[people[i]])] += 1
    assert converted == expected
    revenue = {c.arm: c.revenue for c in split.arms}
    assert revenue == {name: Decimal("88.00") * count for name, count in expected.items()}
    assert "p_value" in report.results.arms[1].vs_control["conversion"].model_dump()


def test_event_properties_reads_one_type_in_pages(session: Session, tenant: TenantContext) -> None:
    items = [
        event("web", f"e{i}", ids={"phone": "13800009999"}, type="seen", properties={"n": i})
        for i in range(5)
    ]
    ingest(session, tenant, *items, event("web", "other", ids={"phone": "13800009999"}))
    found = records.event_properties(
        session=session, tenant=tenant, source="web", type_="seen", batch_size=2
    )
    assert sorted(p["n"] for p in found) == [0, 1, 2, 3, 4]
