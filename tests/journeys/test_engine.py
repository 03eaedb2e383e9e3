"""The engine: every step type, waits, branches, splits, goals, re-entry, versions,
pause, retries with backoff and the dead-letter list, traces."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from journey_support import NOON, SMS, Recorder, journey, person
from siyu import channels
from siyu.journeys import (
    JourneyDefinition,
    JourneyError,
    MemoryLoyalty,
    MemoryTags,
    Ports,
    enrol,
    get_enrolment,
    get_journey,
    list_dead_letters,
    on_records,
    pause_journey,
    retry_dead_letter,
    run_due,
    split_point,
    start_journey,
    update_journey,
)
from siyu.tenants import TenantContext
from support import order

W = "test-worker"


def run(session: Session, ports: Ports, now: Any, times: int = 1) -> None:
    for _ in range(times):
        run_due(session=session, ports=ports, worker=W, now=now)


def view(session: Session, tenant: TenantContext, enrolment_id: int) -> Any:
    return get_enrolment(session=session, tenant=tenant, enrolment_id=enrolment_id)


def test_send_tag_grant_webhook_task_exit_run_in_order(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    oneid = person(session, tenant, "c1", phone="13800000001", name="王芳", staff_id="guide7")
    journey(
        session,
        tenant,
        [
            {"id": "coupon", "type": "grant", "coupon": "BDAY", "points": 50},
            {"id": "sms", "type": "send", "channel": "sms", "content": SMS},
            {"id": "tag", "type": "tag", "add": ["vip"], "remove": ["new"]},
            {
                "id": "hook",
                "type": "webhook",
                "url": "http://127.0.0.1:9/x",
                "body": {"c": "{{ coupon }}"},
            },
            {
                "id": "task",
                "type": "task",
                "content": {"zh-CN": {"text": "回访 {{ person.points }}"}},
            },
            {"id": "bye", "type": "exit"},
            {"id": "never", "type": "tag", "add": ["unreachable"]},
        ],
    )
    ids = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)
    seen = view(session, tenant, ids[0])
    assert seen.status == "exited"
    assert [t.result for t in seen.trace] == [
        "granted",
        "queued",
        "tagged",
        "queued",
        "task",
        "exited",
    ]
    assert isinstance(ports.tags, MemoryTags) and ports.tags.of[oneid] == {"vip"}
    assert isinstance(ports.loyalty, MemoryLoyalty) and ports.loyalty.points[oneid] == 50
    coupon = ports.loyalty.coupons[oneid][0]
    queued = {m["channel"]: m for m in seen.messages}
    assert set(queued) == {"sms", "webhook", "wecom_staff"}
    keys = channels.messages_by_key(
        session=session, tenant=tenant, keys=[m["key"] for m in seen.messages]
    )
    hook = next(m for m in keys.values() if m.channel == "webhook")
    assert hook.status == "queued"
    # the webhook body and task text render at send time with the granted coupon
    recorders = {c: Recorder(c) for c in ("sms", "webhook", "wecom_staff")}
    channels.set_policy(
        session=session,
        tenant=tenant,
        policy=channels.TouchPolicy(require_explicit_consent=False),
    )
    channels.dispatch(session=session, adapters=channels.Adapters(recorders), worker=W, now=NOON)
    assert recorders["webhook"].sent[0].payload["body"] == {"c": coupon}
    assert recorders["wecom_staff"].sent[0].payload["text"] == "回访 50"
    assert recorders["wecom_staff"].sent[0].recipient == {"userid": "guide7"}
    assert recorders["sms"].sent[0].payload["params"] == {"name": "王芳"}


def test_wait_duration_and_until_time_of_day(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    oneid = person(session, tenant, "c1")
    journey(
        session,
        tenant,
        [
            {"id": "w1", "type": "wait", "duration": "P2D"},
            {"id": "w2", "type": "wait", "until_time": "10:00"},
            {"id": "t", "type": "tag", "add": ["done"]},
        ],
    )
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)
    first = view(session, tenant, eid)
    assert first.status == "active" and first.step == "w2"
    assert first.due_at == NOON + timedelta(days=2)
    run(session, ports, NOON + timedelta(days=1))  # not due yet: nothing happens
    assert view(session, tenant, eid).step == "w2"
    run(session, ports, NOON + timedelta(days=2))
    second = view(session, tenant, eid)
    # 11:00 Shanghai on day 2: the next 10:00 is the following morning (02:00 UTC)
    assert second.due_at is not None
    assert second.due_at.astimezone(tenant.zone).strftime("%d %H:%M") == "06 10:00"
    run(session, ports, second.due_at)
    assert view(session, tenant, eid).status == "completed"
    assert ports.tags.of[oneid] == {"done"}  # type: ignore[attr-defined]


def _await_order(session: Session, tenant: TenantContext) -> None:
    journey(
        session,
        tenant,
        [
            {
                "id": "w",
                "type": "wait",
                "until_event": {
                    "event_type": "order",
                    "timeout": "P3D",
                    "on_timeout": "nudge",
                    "where": {"field": "record.paid_amount", "op": "gte", "value": 100},
                },
            },
            {"id": "thanks", "type": "tag", "add": ["bought"], "next": "end"},
            {"id": "nudge", "type": "tag", "add": ["nudged"]},
        ],
    )


def test_wait_for_event_resumes_when_it_arrives(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    _await_order(session, tenant)
    oneid = person(session, tenant, "c1")
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)
    assert view(session, tenant, eid).status == "waiting"
    small = order("pos", "o1", customer_id="c1", total="50.00")
    big = order("pos", "o2", customer_id="c1", total="150.00")
    on_records(session=session, tenant=tenant, records=[("order", oneid, small)], now=NOON)
    assert view(session, tenant, eid).status == "waiting"  # 50 < 100: still waiting
    on_records(
        session=session,
        tenant=tenant,
        records=[("order", oneid, big)],
        now=NOON + timedelta(hours=1),
    )
    run(session, ports, NOON + timedelta(hours=1))
    seen = view(session, tenant, eid)
    assert seen.status == "completed"
    assert [t.result for t in seen.trace][:3] == ["waiting", "event", "tagged"]
    assert ports.tags.of[oneid] == {"bought"}  # type: ignore[attr-defined]


def test_wait_for_event_times_out(session: Session, tenant: TenantContext, ports: Ports) -> None:
    _await_order(session, tenant)
    oneid = person(session, tenant, "c1")
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)
    run(session, ports, NOON + timedelta(days=3))
    seen = view(session, tenant, eid)
    assert seen.status == "completed"
    assert "timeout" in [t.result for t in seen.trace]
    assert ports.tags.of[oneid] == {"nudged"}  # type: ignore[attr-defined]


def test_branch_on_record_and_profile(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(
        session,
        tenant,
        [
            {
                "id": "b",
                "type": "branch",
                "cases": [
                    {"when": {"field": "person.city", "op": "eq", "value": "上海"}, "next": "sh"},
                    {"when": {"field": "data.vip", "op": "eq", "value": True}, "next": "vip"},
                ],
                "next": "other",
            },
            {"id": "sh", "type": "tag", "add": ["sh"], "next": "end"},
            {"id": "vip", "type": "tag", "add": ["vip"], "next": "end"},
            {"id": "other", "type": "tag", "add": ["other"]},
        ],
    )
    shanghai = person(session, tenant, "c1", city="上海")
    beijing = person(session, tenant, "c2", city="北京")
    plain = person(session, tenant, "c3")
    enrol(session=session, tenant=tenant, key="j1", oneids=[shanghai, plain], now=NOON)
    enrol(session=session, tenant=tenant, key="j1", oneids=[beijing], data={"vip": True}, now=NOON)
    run(session, ports, NOON)
    tags = ports.tags.of  # type: ignore[attr-defined]
    assert (tags[shanghai], tags[beijing], tags[plain]) == ({"sh"}, {"vip"}, {"other"})


def test_split_is_stable_weighted_and_holds_out(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(
        session,
        tenant,
        [
            {
                "id": "s",
                "type": "split",
                "holdout_percent": 20,
                "arms": [
                    {"name": "A", "weight": 3, "next": "a"},
                    {"name": "B", "weight": 1, "next": "b"},
                ],
            },
            {"id": "a", "type": "tag", "add": ["A"], "next": "end"},
            {"id": "b", "type": "tag", "add": ["B"], "next": "end"},
        ],
        goal={"event_type": "order", "within": "P7D"},
    )
    oneids = [f"01PERSON{n:018d}" for n in range(2000)]
    enrol(session=session, tenant=tenant, key="j1", oneids=oneids, now=NOON)
    run(session, ports, NOON, times=3)
    arms = Counter(
        e.arm
        for e in __import__("siyu.journeys", fromlist=["x"]).list_enrolments(
            session=session, tenant=tenant, key="j1", limit=5000
        )
    )
    assert sum(arms.values()) == 2000
    # 20 % holdout, the rest 3:1 — within a few standard deviations
    assert 320 <= arms["holdout"] <= 480
    assert 1090 <= arms["A"] <= 1310 and 330 <= arms["B"] <= 470
    # the same person always lands in the same place
    assert split_point(1, "x", "s") == split_point(1, "x", "s")
    holdout = [o for o in oneids if ports.tags.of.get(o) is None]  # type: ignore[attr-defined]
    assert len(holdout) == arms["holdout"]


def test_holdout_waits_out_the_goal_window_and_converts(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(
        session,
        tenant,
        [{"id": "s", "type": "split", "holdout_percent": 99.9, "arms": [{"name": "A"}]}],
        goal={"event_type": "order", "within": "P7D", "exit_on_goal": True},
    )
    oneid = person(session, tenant, "c1")
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)
    if split_point(get_journey(session=session, tenant=tenant, key="j1").id, oneid, "s") >= 0.999:
        pytest.skip("this person landed in arm A (0.1 % chance)")
    held = view(session, tenant, eid)
    assert held.status == "holdout" and held.due_at == NOON + timedelta(days=7)
    paid = order(
        "pos", "o1", customer_id="c1", total="88.00", created_at="2025-03-05T10:00:00+08:00"
    )
    on_records(
        session=session,
        tenant=tenant,
        records=[("order", oneid, paid)],
        now=NOON + timedelta(days=2),
    )
    seen = view(session, tenant, eid)
    assert (
        seen.status == "converted"
        and seen.goal_value is not None
        and str(seen.goal_value) == "88.00"
    )


def test_goal_exits_in_flight_and_later_orders_do_not_count(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(
        session,
        tenant,
        [
            {"id": "w", "type": "wait", "duration": "P30D"},
            {"id": "t", "type": "tag", "add": ["late"]},
        ],
        goal={
            "event_type": "order",
            "within": "P14D",
            "where": {"field": "record.paid_amount", "op": "gt", "value": 0},
        },
    )
    a, b = person(session, tenant, "c1"), person(session, tenant, "c2")
    ids = enrol(session=session, tenant=tenant, key="j1", oneids=[a, b], now=NOON).enrolled
    run(session, ports, NOON)
    in_window = order("pos", "o1", customer_id="c1", created_at="2025-03-10T10:00:00+08:00")
    too_late = order("pos", "o2", customer_id="c2", created_at="2025-03-30T10:00:00+08:00")
    on_records(
        session=session,
        tenant=tenant,
        records=[("order", a, in_window), ("order", b, too_late)],
        now=NOON + timedelta(days=27),
    )
    first, second = view(session, tenant, ids[0]), view(session, tenant, ids[1])
    assert first.status == "converted" and first.goal_at is not None
    assert second.status == "active" and second.goal_at is None
    run(session, ports, NOON + timedelta(days=30))
    assert ports.tags.of.get(a) is None and ports.tags.of[b] == {"late"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"policy": "once"}, [True, False, False]),
        ({"policy": "after_exit"}, [True, False, True]),
        ({"policy": "after_days", "days": 10}, [True, False, False]),
        ({"policy": "concurrent"}, [True, True, True]),
    ],
)
def test_reentry_policies(
    session: Session,
    tenant: TenantContext,
    ports: Ports,
    policy: dict[str, Any],
    expected: list[bool],
) -> None:
    journey(session, tenant, [{"id": "w", "type": "wait", "duration": "P1D"}], reentry=policy)
    oneid = person(session, tenant, "c1")

    def again(now: Any) -> bool:
        return enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=now).count == 1

    got = [again(NOON), again(NOON + timedelta(hours=1))]  # second while still in flight
    run(session, ports, NOON)
    run(session, ports, NOON + timedelta(days=1))  # finishes
    got.append(again(NOON + timedelta(days=2)))  # after exit, 2 days after the first entry
    assert got == expected


def test_repeating_a_request_enrols_nobody_twice(session: Session, tenant: TenantContext) -> None:
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        reentry={"policy": "concurrent"},
    )
    oneid = person(session, tenant, "c1")
    first = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], request_id="r1")
    again = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], request_id="r1")
    assert (first.count, again.count, again.skipped) == (1, 0, 1)


def test_editing_a_live_journey_makes_a_version_in_flight_people_keep(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    v1 = journey(
        session,
        tenant,
        [{"id": "w", "type": "wait", "duration": "P1D"}, {"id": "t", "type": "tag", "add": ["v1"]}],
    )
    early = person(session, tenant, "c1")
    late = person(session, tenant, "c2")
    (e1,) = enrol(session=session, tenant=tenant, key="j1", oneids=[early], now=NOON).enrolled
    run(session, ports, NOON)
    v2 = JourneyDefinition.model_validate(
        {
            **v1.model_dump(mode="json", exclude_none=True, by_alias=True),
            "steps": [{"id": "t", "type": "tag", "add": ["v2"]}],
        }
    )
    assert update_journey(session=session, tenant=tenant, definition=v2).live_version == 2
    (e2,) = enrol(session=session, tenant=tenant, key="j1", oneids=[late], now=NOON).enrolled
    assert get_journey(session=session, tenant=tenant, key="j1").in_flight == {1: 1, 2: 1}
    run(session, ports, NOON + timedelta(days=1))
    assert (view(session, tenant, e1).version, view(session, tenant, e2).version) == (1, 2)
    assert ports.tags.of[early] == {"v1"} and ports.tags.of[late] == {"v2"}  # type: ignore[attr-defined]
    assert get_journey(session=session, tenant=tenant, key="j1", version=1).definition == v1


def test_pause_holds_people_and_refuses_entries(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(
        session,
        tenant,
        [{"id": "w", "type": "wait", "duration": "PT1H"}, {"id": "t", "type": "tag", "add": ["x"]}],
    )
    oneid = person(session, tenant, "c1")
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)
    pause_journey(session=session, tenant=tenant, key="j1")
    with pytest.raises(JourneyError):
        enrol(session=session, tenant=tenant, key="j1", oneids=[oneid])
    run(session, ports, NOON + timedelta(hours=2))
    assert view(session, tenant, eid).step == "t"  # held
    start_journey(session=session, tenant=tenant, key="j1")
    run(session, ports, NOON + timedelta(hours=2))
    assert view(session, tenant, eid).status == "completed"


def test_failing_step_retries_with_backoff_then_dead_letters(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    journey(session, tenant, [{"id": "g", "type": "grant", "points": 10}])
    oneid = person(session, tenant, "c1")
    loyalty = ports.loyalty
    assert isinstance(loyalty, MemoryLoyalty)
    loyalty.fail_next = 5
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    now = NOON
    delays = []
    for _ in range(5):
        run(session, ports, now)
        seen = view(session, tenant, eid)
        if seen.due_at is not None:
            delays.append((seen.due_at - now).total_seconds())
            now = seen.due_at
    assert delays == [10, 20, 40, 80]  # exponential backoff
    seen = view(session, tenant, eid)
    assert seen.status == "failed" and "loyalty service unavailable" in (seen.last_error or "")
    letters = list_dead_letters(session=session, tenant=tenant)
    assert [(d["enrolment_id"], d["step"], d["attempts"]) for d in letters] == [(eid, "g", 5)]
    retry_dead_letter(session=session, tenant=tenant, dead_letter_id=letters[0]["id"], now=now)
    run(session, ports, now + timedelta(seconds=1))
    assert view(session, tenant, eid).status == "completed"
    assert loyalty.points[oneid] == 10
    assert list_dead_letters(session=session, tenant=tenant) == []


def test_a_step_run_again_sends_no_second_message(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    """A crash after queueing but before the enrolment moved on re-runs the step: the
    message key is the same, so the outbox keeps one message."""
    journey(
        session,
        tenant,
        [
            {"id": "sms", "type": "send", "channel": "sms", "content": SMS},
            {"id": "g", "type": "grant", "points": 1},
        ],
    )
    oneid = person(session, tenant, "c1", phone="13800000001")
    ports.loyalty.fail_next = 1  # type: ignore[attr-defined]
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)  # send queued, grant failed: the whole pass is retried later
    run(session, ports, NOON + timedelta(minutes=1))
    seen = view(session, tenant, eid)
    assert seen.status == "completed"
    assert len(seen.messages) == 1


def test_tag_step_can_mark_the_tag_in_wecom(
    session: Session, tenant: TenantContext, ports: Ports
) -> None:
    oneid = person(session, tenant, "c1")
    journey(session, tenant, [{"id": "t", "type": "tag", "add": ["etVIP"], "wecom": True}])
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run(session, ports, NOON)
    (queued,) = view(session, tenant, eid).messages
    assert queued["channel"] == "wecom_tag"
    found = channels.messages_by_key(session=session, tenant=tenant, keys=[queued["key"]])
    assert found[queued["key"]].category == "transactional"
