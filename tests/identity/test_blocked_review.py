"""Reviewing blocked merges: approve (an override the guards cannot refuse) and dismiss
(kept apart for good), through the online path (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from siyu import online
from siyu.identity import (
    IdentityError,
    current_oneid,
    detach_record,
    explain_person,
    list_blocked,
    merges_since,
    person_identifiers,
    phone_sha256,
)
from siyu.tenants import IdentityRules, TenantContext, get_tenant, update_settings
from support import MakeTenant, customer, event, identity_map, ingest, order

P1, P2, P3 = "13800000001", "13800000002", "13800000003"
ONE_PHONE = IdentityRules(max_per_type={"phone_sha256": 1})


def _blocked_pair(session: Session, tenant: TenantContext) -> tuple[str, str, int]:
    """Two customers sharing an e-mail, each with its own phone: the second is blocked."""
    a = ingest(session, tenant, customer("tmall", "A", {"phone": P1, "email": "f@x.cn"}))[0]
    b = ingest(session, tenant, customer("jd", "B", {"phone": P2, "email": "f@x.cn"}))[0]
    assert a.oneid and b.oneid and a.oneid != b.oneid
    (item,) = list_blocked(session=session, tenant=tenant)
    assert (item.record, item.oneid, item.other_oneid) == ("customer:jd/B", b.oneid, a.oneid)
    return a.oneid, b.oneid, item.id


def _review(
    session: Session, tenant: TenantContext, blocked_id: int, *, approve: bool, reason: str = "ok"
) -> online.identity.BlockedDecision:
    return online.review_blocked(
        session=session,
        tenant=tenant,
        blocked_id=blocked_id,
        approve=approve,
        actor="reviewer",
        reason=reason,
    )


def test_approve_merges_the_persons_and_records_the_override(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    a, b, item = _blocked_pair(session, tenant)
    ingest(session, tenant, order("jd", "o1", customer_id="B"))
    last_change = max(
        (m.id for m in merges_since(session=session, tenant=tenant, after=0)), default=0
    )

    decision = _review(session, tenant, item, approve=True, reason="same shopper, two phones")

    assert (decision.status, decision.oneid, decision.retired_oneids) == ("approved", a, [b])
    mapping = identity_map(session, tenant)
    assert {mapping["customer:tmall/A"], mapping["customer:jd/B"], mapping["order:jd/o1"]} == {a}
    assert current_oneid(session=session, tenant=tenant, oneid=b) == a  # the retired resolves
    held = {
        (i.id_type, i.value) for i in person_identifiers(session=session, tenant=tenant, oneid=a)
    }
    assert {("phone_sha256", phone_sha256(P1)), ("phone_sha256", phone_sha256(P2))} <= held
    # Out of the open list, kept for audit with who decided, when and why.
    assert list_blocked(session=session, tenant=tenant) == []
    (reviewed,) = list_blocked(session=session, tenant=tenant, status="reviewed")
    assert (reviewed.id, reviewed.status, reviewed.decided_by) == (item, "approved", "reviewer")
    assert reviewed.reason == "same shopper, two phones" and reviewed.decided_at is not None
    assert reviewed.other_record == "customer:tmall/A"
    # explain shows the override with its identifier, approver and reason.
    found = explain_person(session=session, tenant=tenant, oneid=b)
    assert (found.oneid, found.requested) == (a, b)
    (approval,) = [c for c in found.changes if c.action == "approve"]
    assert (approval.kept_oneid, approval.retired_oneid) == (a, b)
    assert (approval.identifier, approval.actor) == ("email=f@x.cn", "reviewer")
    assert approval.detail["reason"] == "same shopper, two phones"
    assert approval.detail["guard"] == "max_per_type:phone_sha256"
    assert any("approved override of blocked merge" in line for line in found.why)
    # Other domains learn of the merge from identity's merge feed (loyalty's member merge).
    feed = merges_since(session=session, tenant=tenant, after=last_change)
    assert [(m.kept_oneid, m.retired_oneid) for m in feed] == [(a, b)]


def test_after_an_approval_the_guard_still_refuses_growth_but_not_known_identifiers(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    a, _b, item = _blocked_pair(session, tenant)
    _review(session, tenant, item, approve=True)
    # Records carrying phones the person already holds join it (two phones, limit one)...
    known = ingest(session, tenant, event("web", "e1", ids={"phone": P2}))[0]
    assert known.oneid == a
    # ...a record bringing a third phone is refused and listed, as any over-limit merge.
    third = ingest(session, tenant, customer("pos", "C", {"phone": P3, "email": "f@x.cn"}))[0]
    assert third.oneid != a
    (refused,) = list_blocked(session=session, tenant=tenant)
    assert (refused.record, refused.guard) == ("customer:pos/C", "max_per_type:phone_sha256")


def test_approve_keeps_the_older_oneid_even_when_the_newer_person_is_larger(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    a, b, item = _blocked_pair(session, tenant)
    ingest(session, tenant, *(order("jd", f"o{i}", customer_id="B") for i in range(4)))
    decision = _review(session, tenant, item, approve=True)
    assert decision.oneid == a
    assert set(identity_map(session, tenant).values()) == {a}
    assert current_oneid(session=session, tenant=tenant, oneid=b) == a


def test_dismiss_keeps_them_apart_and_is_not_listed_again(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    a, b, item = _blocked_pair(session, tenant)
    decision = _review(session, tenant, item, approve=False, reason="different people")
    assert (decision.status, decision.oneid, decision.other_oneid) == ("dismissed", b, a)
    assert list_blocked(session=session, tenant=tenant) == []
    (kept,) = list_blocked(session=session, tenant=tenant, status="dismissed")
    assert (kept.decided_by, kept.reason) == ("reviewer", "different people")
    # B's record changes: B and A are replayed; they stay apart, and the refusal the
    # reviewer already decided is not listed again.
    ingest(
        session, tenant, customer("jd", "B", {"phone": P2, "email": "f@x.cn", "member_no": "m1"})
    )
    mapping = identity_map(session, tenant)
    assert (mapping["customer:jd/B"], mapping["customer:tmall/A"]) == (b, a)
    assert list_blocked(session=session, tenant=tenant) == []
    # Even with the guard gone, a dismissed pair stays apart (a cannot-link, like a reject).
    update_settings(
        session=session,
        tenant_id=tenant.id,
        settings=tenant.settings.model_copy(update={"identity": IdentityRules(max_per_type={})}),
    )
    relaxed = get_tenant(session=session, name=tenant.name)
    ingest(session, relaxed, event("web", "e1", ids={"email": "f@x.cn", "member_no": "m1"}))
    mapping = identity_map(session, tenant)
    assert mapping["customer:jd/B"] != mapping["customer:tmall/A"]
    (new,) = list_blocked(session=session, tenant=tenant)
    assert (new.record, new.guard) == ("event:web/e1", "cannot_link")


def test_deciding_twice_or_a_stale_item_is_refused_clearly(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    _a, _b, item = _blocked_pair(session, tenant)
    _review(session, tenant, item, approve=True)
    with pytest.raises(IdentityError, match=rf"#{item} is already approved \(by reviewer\)"):
        _review(session, tenant, item, approve=True)
    with pytest.raises(IdentityError, match="already approved"):
        _review(session, tenant, item, approve=False)
    with pytest.raises(IdentityError, match="no open blocked merge #999999"):
        _review(session, tenant, 999_999, approve=True)


def test_an_item_a_later_change_resolved_is_refused(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    _a, _b, first = _blocked_pair(session, tenant)
    # B's order is refused from A too: two items between the same two persons.
    ingest(session, tenant, order("jd", "o1", customer_id="B", ids={"email": "f@x.cn"}))
    second = next(x.id for x in list_blocked(session=session, tenant=tenant) if x.id != first)
    _review(session, tenant, first, approve=True)
    with pytest.raises(IdentityError, match=rf"no open blocked merge #{second}: .*resolved"):
        _review(session, tenant, second, approve=True)


def test_detached_records_are_not_merged_back_by_an_approval(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    a, b, first = _blocked_pair(session, tenant)
    _review(session, tenant, first, approve=False)  # kept apart by hand
    ingest(session, tenant, order("jd", "o1", customer_id="B", ids={"email": "f@x.cn"}))
    (second,) = list_blocked(session=session, tenant=tenant)
    with pytest.raises(IdentityError, match="split apart by hand"):
        _review(session, tenant, second.id, approve=True)
    assert {b, a} == set(identity_map(session, tenant).values())
    assert [x.status for x in list_blocked(session=session, tenant=tenant)] == ["open"]


def test_detaching_an_approved_record_revokes_the_approval(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(ONE_PHONE)
    a, _b, item = _blocked_pair(session, tenant)
    _review(session, tenant, item, approve=True)
    result = detach_record(
        session=session,
        tenant=tenant,
        kind="customer",
        source="jd",
        record_id="B",
        actor="reviewer",
        reason="wrong after all",
    )
    assert result.new_oneid != a
    mapping = identity_map(session, tenant)
    assert mapping["customer:jd/B"] != mapping["customer:tmall/A"] == a
    (revoked,) = list_blocked(session=session, tenant=tenant, status="revoked")
    assert revoked.id == item
    assert list_blocked(session=session, tenant=tenant) == []


def test_unknown_status_is_refused(session: Session, tenant: TenantContext) -> None:
    with pytest.raises(IdentityError, match="unknown status"):
        list_blocked(session=session, tenant=tenant, status="maybe")
