"""Programs and members: enrolment by API, by rule and by import; merges follow OneID."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from loyalty_support import T0, Member, at, enrolled, make_program, paid, person, refund
from siyu import identity, loyalty
from siyu.tenants import TenantContext
from support import Files, customer, ingest


def test_enrolment_gives_one_card_and_enrolling_again_changes_nothing(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant)
    oneid = person(session, tenant, "c1", phone="13800000001")
    first = loyalty.enrol_member(session=session, tenant=tenant, program="main", oneid=oneid)
    again = loyalty.enrol_member(session=session, tenant=tenant, program="main", oneid=oneid)
    assert first.member_id == again.member_id
    assert first.card_no == f"MAIN{first.member_id:010d}"
    assert (first.enrolled_via, first.tier.tier, first.balance.spendable) == ("api", "base", 0)
    with pytest.raises(loyalty.NotFoundError, match="no person"):
        loyalty.enrol_member(session=session, tenant=tenant, program="main", oneid="NOPE")
    events = loyalty.events_since(session=session, tenant=tenant)
    assert [(e.type, e.oneid) for e in events] == [("enrolled", oneid)]


def test_a_tenant_runs_several_programs_each_with_its_own_scope(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, "main", pending_days=0)
    make_program(session, tenant, "offline", pending_days=0, channels=["pos"])
    make_program(session, tenant, "tmall", pending_days=0, channels=["tmall"])
    member = enrolled(session, tenant, program="main")
    loyalty.enrol_member(session=session, tenant=tenant, program="offline", oneid=member.oneid)
    outcomes = loyalty.apply_order(
        session=session, tenant=tenant, order=paid("o1", "10.00"), oneid=member.oneid, now=T0
    )
    assert [(o.program, o.earned) for o in outcomes] == [("main", 10), ("offline", 10)]


def test_auto_enrolment_on_the_first_paid_order_when_the_rule_is_on(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, "rule", auto_enrol_on_paid_order=True)
    make_program(session, tenant, "manual")
    oneid = person(session, tenant, "c1")
    unpaid = loyalty.apply_order(
        session=session, tenant=tenant, order=paid("o0", "10.00", status="created"),
        oneid=oneid, now=T0,
    )  # fmt: skip
    assert [o.member for o in unpaid] == [False, False]
    outcomes = loyalty.apply_order(
        session=session, tenant=tenant, order=paid("o1", "10.00"), oneid=oneid, now=T0
    )
    by_program = {o.program: o for o in outcomes}
    assert by_program["rule"].enrolled and by_program["rule"].earned == 10
    assert not by_program["manual"].member and by_program["manual"].note == "not a member"
    view = loyalty.get_member(session=session, tenant=tenant, program="rule", oneid=oneid)
    assert view.enrolled_via == "rule:first_paid_order" and view.enrolled_at == T0


def _two_members_then_merge(session: Session, tenant: TenantContext) -> tuple[Member, Member]:
    """Two persons, each a member with points, growth and a tier; then identity merges them."""
    a = enrolled(session, tenant, "a", phone="13800000001")
    b = enrolled(session, tenant, "b", member_no="M-2")
    a.order(paid("oa", "100.00", customer_id="a"))
    b.order(paid("ob", "600.00", customer_id="b", when=at(2)), now=at(2))
    b.redeem(50, "rb", now=at(20))
    # one record carrying both identifiers: identity merges b into a (a is older)
    ingest(
        session, tenant, customer("wechat_mp", "w1", {"phone": "13800000001", "member_no": "M-2"})
    )
    assert identity.current_oneid(session=session, tenant=tenant, oneid=b.oneid) == a.oneid
    return a, b


def test_memberships_merge_when_persons_merge(session: Session, tenant: TenantContext) -> None:
    make_program(
        session, tenant, pending_days=7,
        tiers={"tiers": [{"code": "base", "name": "Member", "threshold": 0},
                         {"code": "gold", "name": "Gold", "threshold": 500}]},
    )  # fmt: skip
    a, b = _two_members_then_merge(session, tenant)
    # Asking by the retired OneID answers with the merged membership.
    view = loyalty.get_member(
        session=session, tenant=tenant, program="main", oneid=b.oneid, now=at(30)
    )
    assert view.oneid == a.oneid and view.merged_from == [b.oneid]
    assert (view.balance.available, view.tier.tier, view.tier.growth) == (650, "gold", 700)
    assert view.enrolled_at == T0  # the earliest enrolment
    kinds = [(e.kind, e.member_id) for e in a.history()]
    assert ("merge_in", view.member_id) in kinds and ("merge_out", kinds[-1][1]) not in kinds[:1]
    assert {"earn", "spend", "merge_out", "merge_in"} <= {k for k, _ in kinds}  # history kept
    assert a.verify() == []
    events = [e.type for e in loyalty.events_since(session=session, tenant=tenant)]
    assert "members_merged" in events and "tier_changed" in events


def test_a_refund_after_a_merge_reverses_from_the_merged_membership(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=7)
    a, b = _two_members_then_merge(session, tenant)
    outcome = a.refund(refund("rf", "ob", "300.00"), now=at(30))
    assert outcome.reversed == 300
    assert a.view(at(30)).balance.available == 350
    assert a.verify() == []


def test_the_scheduler_merges_memberships_without_waiting_for_a_visit(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant)
    a, b = _two_members_then_merge(session, tenant)
    report = loyalty.run_due(session=session, tenant=tenant, now=at(30))
    assert report.merges >= 1
    merged = [
        e
        for e in loyalty.events_since(session=session, tenant=tenant)
        if e.type == "members_merged"
    ]
    assert len(merged) == 1 and merged[0].oneid == a.oneid
    assert loyalty.run_due(session=session, tenant=tenant, now=at(31)).merges == 0


def test_importing_existing_members_with_balances_tiers_and_growth(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    make_program(
        session, tenant, expiry={"kind": "never"},
        tiers={"tiers": [{"code": "base", "name": "Member", "threshold": 0},
                         {"code": "gold", "name": "Gold", "threshold": 1000}]},
    )  # fmt: skip
    one = person(session, tenant, "c1", member_no="OLD-1")
    two = person(session, tenant, "c2", phone="13800000002")
    three = person(session, tenant, "c3")
    rows = [
        {"id:member_no": "old-1", "card_no": "VIP001", "points": "1200", "tier": "gold",
         "tier_expires_at": "2025-06-30T23:59:59+08:00", "growth": "1500",
         "enrolled_at": "2019-03-01T00:00:00+08:00"},
        {"id:phone": "13800000002", "points": "80",
         "points_expire_at": "2024-12-31T23:59:59+08:00"},
        {"oneid": three, "points": "abc"},
        {"id:phone": "13999999999", "points": "5"},
        {"oneid": three, "tier": "platinum"},
        {"oneid": three, "enrolled_at": "2020-01-01T00:00:00"},
        {"points": "5"},
    ]  # fmt: skip
    path = files.csv("members.csv", rows, bom=True)
    report = loyalty.import_members(
        session=session, tenant=tenant, program="main", path=path, now=T0
    )
    assert (report.imported, report.rejected) == (2, 5)
    rejected = {r.line: (r.field, r.reason) for r in report.rows if r.status == "rejected"}
    assert rejected[4][0] == "points" and "integer" in str(rejected[4][1])
    assert rejected[5][0] == "id:phone" and "no person" in str(rejected[5][1])
    assert rejected[6] == ("tier", "unknown tier 'platinum' in program 'main'")
    assert rejected[7][0] == "enrolled_at"
    assert rejected[8][0] == "oneid"
    vip = loyalty.get_member(session=session, tenant=tenant, program="main", oneid=one, now=T0)
    assert (vip.card_no, vip.balance.available, vip.tier.tier, vip.tier.growth) == (
        "VIP001",
        1200,
        "gold",
        1500,
    )
    assert vip.enrolled_via == "import" and vip.enrolled_at.year == 2019
    assert (
        vip.tier.expires_at is not None
        and vip.tier.expires_at.isoformat() == "2025-06-30T15:59:59+00:00"
    )
    other = loyalty.get_member(session=session, tenant=tenant, program="main", oneid=two, now=T0)
    assert other.balance.expiring[0][1] == 80
    again = loyalty.import_members(
        session=session, tenant=tenant, program="main", path=path, now=at(1)
    )
    assert (again.imported, again.unchanged, again.rejected) == (0, 2, 5)
    assert (
        loyalty.get_member(
            session=session, tenant=tenant, program="main", oneid=one
        ).balance.available
        == 1200
    )


def test_enrolment_by_csv_needs_the_person_to_exist(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    make_program(session, tenant)
    path = tmp_path / "m.csv"
    path.write_text("oneid,points\n01UNKNOWN,5\n", encoding="utf-8")
    report = loyalty.import_members(session=session, tenant=tenant, program="main", path=path)
    assert report.rows[0].reason == "no person found for '01UNKNOWN'; import customer records first"
