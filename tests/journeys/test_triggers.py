"""Triggers: events and orders (with conditions, once per record), audience enter and
leave, dates (birthday, anniversary, points and coupon expiry), schedules, definitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from journey_support import NOON, first_run_day, journey, person
from siyu.journeys import (
    Expiring,
    JourneyDefinition,
    MemoryAudiences,
    MemoryLoyalty,
    Ports,
    evaluate,
    list_enrolments,
    load_definition,
    on_records,
    run_triggers,
)
from siyu.journeys.conditions import Condition
from siyu.tenants import TenantContext
from support import event, order

W = "test-worker"


def keys(session: Session, tenant: TenantContext) -> list[str]:
    return sorted(e.oneid for e in list_enrolments(session=session, tenant=tenant, key="j1"))


def test_event_trigger_with_conditions_enrols_once_per_event(
    session: Session, tenant: TenantContext
) -> None:
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={
            "type": "event",
            "event_type": "add_to_cart",
            "where": {"field": "record.properties.price", "op": "gte", "value": "100"},
        },
        reentry={"policy": "concurrent"},
    )
    a, b = person(session, tenant, "c1"), person(session, tenant, "c2")
    cheap = event("pos", "e1", customer_id="c1", type="add_to_cart", properties={"price": 20})
    dear = event("pos", "e2", customer_id="c2", type="add_to_cart", properties={"price": 300})
    other = event("pos", "e3", customer_id="c1", type="page_view", properties={"price": 300})
    records = [("event", a, cheap), ("event", b, dear), ("event", a, other)]
    assert on_records(session=session, tenant=tenant, records=records, now=NOON) == 1
    assert on_records(session=session, tenant=tenant, records=records, now=NOON) == 0  # replay
    assert keys(session, tenant) == [b]


def test_order_trigger_by_status(session: Session, tenant: TenantContext) -> None:
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={"type": "order", "statuses": ["paid", "completed"]},
    )
    a, b = person(session, tenant, "c1"), person(session, tenant, "c2")
    created = order("pos", "o1", customer_id="c1", status="created")
    paid = order("pos", "o2", customer_id="c2", status="paid")
    on_records(session=session, tenant=tenant, records=[("order", a, created), ("order", b, paid)])
    assert keys(session, tenant) == [b]


def test_records_without_live_journeys_or_people_do_nothing(
    session: Session, tenant: TenantContext
) -> None:
    paid = order("pos", "o2", customer_id="c2", status="paid")
    assert on_records(session=session, tenant=tenant, records=[("order", None, paid)]) == 0
    assert on_records(session=session, tenant=tenant, records=[("order", "01X", paid)]) == 0


def test_audience_enter_and_leave(session: Session, tenant: TenantContext, ports: Ports) -> None:
    audiences = ports.audiences
    assert isinstance(audiences, MemoryAudiences)
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["welcome"]}],
        trigger={"type": "audience_enter", "audience": "vip"},
    )
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["bye"]}],
        trigger={"type": "audience_leave", "audience": "vip"},
        key="j2",
    )
    later = datetime.now(UTC) + timedelta(minutes=5)
    run_triggers(session=session, ports=ports, worker=W, now=later)  # reads the feed: cursor set
    audiences.set_members("vip", ["A", "B"])
    audiences.set_members("other", ["C"])
    run_triggers(session=session, ports=ports, worker=W, now=later + timedelta(minutes=2))
    audiences.set_members("vip", ["B"])
    run_triggers(session=session, ports=ports, worker=W, now=later + timedelta(minutes=4))
    assert keys(session, tenant) == ["A", "B"]
    left = list_enrolments(session=session, tenant=tenant, key="j2")
    assert [e.oneid for e in left] == ["A"]


def test_birthday_and_anniversary_dates(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["bday"]}],
        trigger={"type": "date", "attribute": "birthday", "days_before": 3, "at": "09:00"},
    )
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["anniv"]}],
        trigger={"type": "date", "attribute": "anniversary", "at": "09:00"},
        key="j2",
    )
    today = first_run_day(tenant.zone)
    soon = today + timedelta(days=3)
    hit = person(session, tenant, "c1", birthday=soon.replace(year=1990).isoformat())
    person(
        session, tenant, "c2", birthday=(soon + timedelta(days=1)).replace(year=1990).isoformat()
    )
    joined = datetime.combine(
        today.replace(year=today.year - 2), datetime.min.time().replace(hour=12)
    )
    member = person(session, tenant, "c3", registered_at=joined.isoformat())
    person(
        session,
        tenant,
        "c4",
        registered_at=datetime.combine(today, datetime.min.time()).isoformat(),
    )
    fire = datetime.combine(
        today, datetime.min.time().replace(hour=9, minute=1), tzinfo=tenant.zone
    )
    run_triggers(session=session, ports=ports, worker=W, now=fire)
    assert keys(session, tenant) == [hit]
    anniversaries = list_enrolments(session=session, tenant=tenant, key="j2")
    assert [e.oneid for e in anniversaries] == [member]  # not c4, who joined that very day
    run_triggers(session=session, ports=ports, worker=W, now=fire)  # same day again: nothing new
    assert keys(session, tenant) == [hit]


def test_points_and_coupon_expiry_dates(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    loyalty = ports.loyalty
    assert isinstance(loyalty, MemoryLoyalty)
    today = first_run_day(tenant.zone)
    loyalty.expiries += [
        ("points", Expiring("P1", today + timedelta(days=7), {"points": 300})),
        ("points", Expiring("P2", today + timedelta(days=8), {"points": 5})),
        ("coupon", Expiring("P3", today + timedelta(days=7), {"coupon": "C-1"})),
    ]
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={"type": "date", "attribute": "points_expiry", "days_before": 7},
    )
    fire = datetime.combine(today, datetime.min.time().replace(hour=10), tzinfo=tenant.zone)
    run_triggers(session=session, ports=ports, worker=W, now=fire)
    (only,) = list_enrolments(session=session, tenant=tenant, key="j1")
    assert only.oneid == "P1"


def test_schedule_enrols_an_audience_each_week(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    audiences = ports.audiences
    assert isinstance(audiences, MemoryAudiences)
    audiences.set_members("lapsed", ["L1", "L2"])
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={
            "type": "schedule",
            "every": "week",
            "weekday": 0,
            "at": "10:00",
            "audience": "lapsed",
        },
        reentry={"policy": "after_exit"},
    )
    start = datetime.now(tenant.zone)
    monday = (start + timedelta(days=7 - start.weekday())).date()
    fire = datetime.combine(
        monday, datetime.min.time().replace(hour=10, minute=5), tzinfo=tenant.zone
    )
    run_triggers(session=session, ports=ports, worker=W, now=fire)
    assert keys(session, tenant) == ["L1", "L2"]
    run_triggers(session=session, ports=ports, worker=W, now=fire + timedelta(days=1))  # not due
    assert len(keys(session, tenant)) == 2


def test_definition_validation_and_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown step"):
        JourneyDefinition.model_validate(
            {
                "key": "k",
                "name": "n",
                "trigger": {"type": "manual"},
                "steps": [{"id": "a", "type": "exit", "next": "b"}],
            }
        )
    with pytest.raises(ValidationError, match="exactly one"):
        JourneyDefinition.model_validate(
            {
                "key": "k",
                "name": "n",
                "trigger": {"type": "manual"},
                "steps": [{"id": "a", "type": "wait"}],
            }
        )
    yaml_file = tmp_path / "j.yaml"
    yaml_file.write_text(
        "key: welcome\nname: 欢迎\ntrigger: {type: event, event_type: follow}\n"
        "steps:\n  - {id: w, type: wait, duration: PT2H}\n  - {id: s, type: send, channel: sms,"
        " content: {zh-CN: {template: SMS_1}}}\ngoal: {event_type: order, within: P14D}\n",
        encoding="utf-8",
    )
    loaded = load_definition(yaml_file)
    assert loaded.steps[0].duration == timedelta(hours=2)  # type: ignore[union-attr]
    json_file = tmp_path / "j.json"
    json_file.write_text(loaded.model_dump_json(by_alias=True), encoding="utf-8")
    assert load_definition(json_file) == loaded


def test_conditions() -> None:
    facts = {
        "record": {"amount": "12.50", "tags": ["a"], "at": date(2025, 1, 2)},
        "person": {"city": "上海"},
    }
    assert evaluate(
        Condition.model_validate({"field": "record.amount", "op": "gt", "value": 12}), facts
    )
    assert not evaluate(
        Condition.model_validate({"field": "record.amount", "op": "lt", "value": "12"}), facts
    )
    assert evaluate(
        Condition.model_validate({"field": "record.tags", "op": "contains", "value": "a"}), facts
    )
    assert evaluate(
        Condition.model_validate({"not": {"field": "record.nope", "op": "exists"}}), facts
    )
    rule = {
        "all": [
            {"field": "person.city", "op": "in", "value": ["上海", "北京"]},
            {
                "any": [
                    {"field": "record.at", "op": "gte", "value": "2025-01-01"},
                    {"field": "x", "op": "eq", "value": 1},
                ]
            },
        ]
    }
    assert evaluate(Condition.model_validate(rule), facts)
    assert not evaluate(
        Condition.model_validate({"field": "record.amount", "op": "gt", "value": "abc"}), facts
    )
    with pytest.raises(ValidationError):
        Condition.model_validate({"field": "a", "all": []})


def test_coupon_expiry_and_schedule_of_listed_people(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    loyalty = ports.loyalty
    assert isinstance(loyalty, MemoryLoyalty)
    today = first_run_day(tenant.zone, time(8, 0))
    loyalty.expiries.append(("coupon", Expiring("C1", today, {"coupon": "X-1"})))
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={"type": "date", "attribute": "coupon_expiry", "at": "08:00"},
    )
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={"type": "schedule", "every": "day", "at": "08:00", "oneids": ["S1", "S2"]},
        key="j2",
    )
    fire = datetime.combine(
        today, datetime.min.time().replace(hour=8, minute=1), tzinfo=tenant.zone
    )
    assert run_triggers(session=session, ports=ports, worker=W, now=fire).triggered == 3
    (expiring,) = list_enrolments(session=session, tenant=tenant, key="j1")
    assert expiring.oneid == "C1"
    assert sorted(e.oneid for e in list_enrolments(session=session, tenant=tenant, key="j2")) == [
        "S1",
        "S2",
    ]
