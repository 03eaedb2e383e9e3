"""Journeys' ports wired to the real domains (`wired_ports`): audience triggers read real
membership changes, tag steps give real tags, grant steps write the loyalty ledger once, and
expiry triggers read real lots and coupons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from journey_support import NOON, first_run_day, journey, person
from loyalty_support import make_program
from siyu import audiences, journeys, loyalty, tags
from siyu.journeys import enrol, get_enrolment, list_enrolments, run_due, run_triggers
from siyu.tenants import TenantContext
from support import event, ingest

W = "test-worker"


def test_audience_enter_trigger_enrols_people_entering_a_real_audience(
    session: Session, tenant: TenantContext
) -> None:
    ports = journeys.wired_ports()
    audiences.create_audience(
        session=session,
        tenant=tenant,
        audience=audiences.AudienceIn(
            name="clicked", rule={"event": "message_clicked", "within_days": 7}
        ),
        by="ops",
    )
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["welcome"]}],
        trigger={"type": "audience_enter", "audience": "clicked"},
    )
    a = person(session, tenant, "a1")
    b = person(session, tenant, "b1")
    later = datetime.now(UTC) + timedelta(minutes=5)
    run_triggers(session=session, ports=ports, worker=W, now=later)  # cursor: from now on
    now = datetime.now(UTC).isoformat()
    ingest(
        session,
        tenant,
        event("pos", "e1", customer_id="a1", type="message_clicked", occurred_at=now),
    )
    ingest(session, tenant, event("pos", "e2", customer_id="b1", type="page_view", occurred_at=now))
    assert audiences.members(session=session, tenant=tenant, name="clicked") == [a]
    for minutes in (2, 4):  # the second poll re-reads the overlap: nobody enrols twice
        run_triggers(session=session, ports=ports, worker=W, now=later + timedelta(minutes=minutes))
    enrolled = list_enrolments(session=session, tenant=tenant, key="j1")
    assert [e.oneid for e in enrolled] == [a]
    assert b not in [e.oneid for e in enrolled]


def test_audience_members_feed_a_schedule(session: Session, tenant: TenantContext) -> None:
    ports = journeys.wired_ports()
    a = person(session, tenant, "a1", city="上海")
    person(session, tenant, "b1", city="杭州")
    audiences.create_audience(
        session=session,
        tenant=tenant,
        audience=audiences.AudienceIn(name="sh", rule={"attribute": "city", "value": "上海"}),
        by="ops",
    )
    audiences.on_records(session=session, tenant=tenant, oneids=[a])
    assert ports.audiences.members(session=session, tenant=tenant, audience="sh") == [a]


def test_tag_step_gives_a_real_tag_once_per_key(session: Session, tenant: TenantContext) -> None:
    ports = journeys.wired_ports()
    oneid = person(session, tenant, "c1")
    tags.create_tag(session=session, tenant=tenant, tag=tags.TagIn(key="new"), by="ops")
    tags.give_tag(session=session, tenant=tenant, key="new", oneids=[oneid], by="ops")
    journey(session, tenant, [{"id": "t", "type": "tag", "add": ["vip"], "remove": ["new"]}])
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run_due(session=session, ports=ports, worker=W, now=NOON)
    assert get_enrolment(session=session, tenant=tenant, enrolment_id=eid).status == "completed"
    held = tags.tags_of_person(session=session, tenant=tenant, oneid=oneid)
    assert [(t.key, t.given_by_kind) for t in held] == [("vip", "journey")]
    assert held[0].given_by.startswith(f"journey:j{eid}:t:")
    [removed] = list(tags.tag_history(session=session, tenant=tenant, key="new"))
    assert (removed.removed_by_kind, removed.removed_by) == ("journey", held[0].given_by)
    # The step run again (a crash before the enrolment moved on) changes nothing more,
    # even after someone gave the removed tag back.
    tags.give_tag(session=session, tenant=tenant, key="new", oneids=[oneid], by="ops")
    key = held[0].given_by.removeprefix("journey:")
    ports.tags.apply(
        session=session, tenant=tenant, oneid=oneid, add=["vip"], remove=["new"], key=key
    )
    assert sorted(
        t.key for t in tags.tags_of_person(session=session, tenant=tenant, oneid=oneid)
    ) == [
        "new",
        "vip",
    ]
    assert ports.tags.tags(session=session, tenant=tenant, oneids=[oneid]) == {
        oneid: ["new", "vip"]
    }


def test_grant_step_writes_the_ledger_once(session: Session, tenant: TenantContext) -> None:
    ports = journeys.wired_ports()
    make_program(session, tenant)
    loyalty.create_coupon_template(
        session=session,
        tenant=tenant,
        code="BDAY",
        name="生日券",
        rules=loyalty.CouponRules(kind="fixed", amount=Decimal("10.00"), valid_days=30),
    )
    oneid = person(session, tenant, "c1")
    loyalty.enrol_member(session=session, tenant=tenant, program="main", oneid=oneid)
    journey(session, tenant, [{"id": "g", "type": "grant", "points": 50, "coupon": "BDAY"}])
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run_due(session=session, ports=ports, worker=W, now=NOON)
    assert get_enrolment(session=session, tenant=tenant, enrolment_id=eid).status == "completed"
    member = loyalty.get_member(session=session, tenant=tenant, program="main", oneid=oneid)
    assert member.balance.available == 50
    [entry] = loyalty.member_history(session=session, tenant=tenant, program="main", oneid=oneid)
    assert (entry.cause, entry.points, entry.actor) == ("journey", 50, "journey")
    [coupon] = loyalty.person_coupons(session=session, tenant=tenant, oneid=oneid)
    # The same step again (same key): no second entry, no second coupon, same answer.
    again = ports.loyalty.grant(
        session=session, tenant=tenant, oneid=oneid, points=50, coupon="BDAY",
        reason=entry.reason or "", key=entry.key.removesuffix(":points"),
    )  # fmt: skip
    assert (again.coupon_code, again.points_balance) == (coupon.code, 50)
    assert (
        len(loyalty.member_history(session=session, tenant=tenant, program="main", oneid=oneid))
        == 1
    )
    assert len(loyalty.person_coupons(session=session, tenant=tenant, oneid=oneid)) == 1
    assert ports.loyalty.balances(session=session, tenant=tenant, oneids=[oneid, "nobody"]) == {
        oneid: {"tier": member.tier.tier, "points": 50}
    }


def test_points_to_a_person_who_is_not_a_member_fail_the_step(
    session: Session, tenant: TenantContext
) -> None:
    ports = journeys.wired_ports()
    make_program(session, tenant)
    oneid = person(session, tenant, "c1")
    journey(session, tenant, [{"id": "g", "type": "grant", "points": 5}])
    (eid,) = enrol(session=session, tenant=tenant, key="j1", oneids=[oneid], now=NOON).enrolled
    run_due(session=session, ports=ports, worker=W, now=NOON)
    seen = get_enrolment(session=session, tenant=tenant, enrolment_id=eid)
    assert seen.status != "completed" and seen.attempts >= 1


def test_expiry_triggers_read_real_points_and_coupons(
    session: Session, tenant: TenantContext
) -> None:
    ports = journeys.wired_ports()
    make_program(session, tenant, expiry={"kind": "rolling_days", "days": 10})
    fire_day = first_run_day(tenant.zone)
    target = fire_day + timedelta(days=7)
    earned = datetime.combine(target - timedelta(days=10), datetime.min.time(), tzinfo=tenant.zone)
    expiring, later = person(session, tenant, "c1"), person(session, tenant, "c2")
    for oneid, at in (
        (expiring, earned + timedelta(hours=12)),
        (later, earned + timedelta(days=1, hours=12)),
    ):
        loyalty.enrol_member(session=session, tenant=tenant, program="main", oneid=oneid, now=at)
        loyalty.adjust_points(
            session=session, tenant=tenant, program="main", oneid=oneid, points=300,
            reason="gift", actor="ops", now=at,
        )  # fmt: skip
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["expiring"]}],
        trigger={"type": "date", "attribute": "points_expiry", "days_before": 7},
    )
    fire = datetime.combine(fire_day, datetime.min.time().replace(hour=10), tzinfo=tenant.zone)
    run_triggers(session=session, ports=ports, worker=W, now=fire)
    [only] = list_enrolments(session=session, tenant=tenant, key="j1")
    assert only.oneid == expiring
    found = ports.loyalty.expiring(session=session, tenant=tenant, kind="points", on=target)
    assert [(e.oneid, e.detail) for e in found] == [(expiring, {"points": 300})]
    # Coupons: a template valid for 3 days from issue expires on the third day.
    loyalty.create_coupon_template(
        session=session,
        tenant=tenant,
        code="C3",
        name="3天券",
        rules=loyalty.CouponRules(kind="fixed", amount=Decimal("5.00"), valid_days=3),
    )
    issued_at = datetime.combine(fire_day, datetime.min.time().replace(hour=9), tzinfo=tenant.zone)
    loyalty.issue_coupon(
        session=session, tenant=tenant, template="C3", oneid=later, key="k1", via="ops",
        now=issued_at,
    )  # fmt: skip
    day = fire_day + timedelta(days=3)
    coupons = ports.loyalty.expiring(session=session, tenant=tenant, kind="coupon", on=day)
    assert [(e.oneid, e.detail) for e in coupons] == [(later, {"coupons": ["C3"]})]
    assert ports.loyalty.expiring(session=session, tenant=tenant, kind="coupon", on=target) == []
