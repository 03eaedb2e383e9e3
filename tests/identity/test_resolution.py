"""OneID resolution through the import path and the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from siyu.identity import (
    IdentityError,
    RecordIdentity,
    current_oneid,
    detach_record,
    explain_person,
    find_persons,
    list_blocked,
    person_identifiers,
    person_records,
    phone_sha256,
    resolve_records,
)
from siyu.ingest import ingest_records
from siyu.tenants import IdentityRules, TenantContext
from support import MakeTenant, customer, event, identity_map, ingest, label, order, partition

P1, P2, P3 = "13800000001", "13800000002", "13800000003"
H1 = phone_sha256(P1)


def oneid(session: Session, tenant: TenantContext, record: str) -> str:
    return identity_map(session, tenant)[record]


def live_oneids(session: Session, tenant: TenantContext) -> set[str]:
    return set(identity_map(session, tenant).values())


# -- linking ------------------------------------------------------------------------------


def test_records_sharing_a_strong_identifier_are_one_person(
    session: Session, tenant: TenantContext
) -> None:
    results = ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1, "tmall_ouid": "ou-1"}),
        customer("jd", "B", {"phone_sha256": H1}),  # hashed copy of the same phone
        order("pos", "o1", ids={"phone": "+86 138-0000-0001"}),
        event("wechat_mp", "e1", ids={"tmall_ouid": "ou-1"}),
        order("tmall", "o2", customer_id="A"),  # the implicit key: same source's customer
        customer("douyin", "Z", {"phone": P2}),  # someone else
        order("jd", "o3", customer_id="A"),  # "A" of jd is not "A" of tmall
    )
    person = results[0].oneid
    assert person is not None
    assert [r.oneid for r in results[:5]] == [person] * 5
    assert results[5].oneid not in (None, person)
    assert results[6].oneid not in (None, person, results[5].oneid)
    assert partition(session, tenant) == {
        frozenset(
            {
                "customer:tmall/A",
                "customer:jd/B",
                "order:pos/o1",
                "event:wechat_mp/e1",
                "order:tmall/o2",
            }
        ),
        frozenset({"customer:douyin/Z"}),
        frozenset({"order:jd/o3"}),
    }
    assert find_persons(session=session, tenant=tenant, query="138 0000 0001") == [person]


def test_resolve_records_directly(session: Session, tenant: TenantContext) -> None:
    report = resolve_records(
        session=session,
        tenant=tenant,
        records=[
            RecordIdentity(
                kind="customer", source="pos", record_id="1", keys=(("email", "a@b.cn"),)
            ),
            RecordIdentity(kind="event", source="web", record_id="2", keys=(("email", "a@b.cn"),)),
            RecordIdentity(kind="event", source="web", record_id="3", keys=(("email", "c@d.cn"),)),
        ],
    )
    assert len(report.oneids) == 3
    assert report.oneids[0] == report.oneids[1] != report.oneids[2]
    assert report.new_persons == 2
    assert report.merges == 0
    again = resolve_records(
        session=session,
        tenant=tenant,
        records=[
            RecordIdentity(kind="event", source="web", record_id="2", keys=(("email", "a@b.cn"),))
        ],
    )
    assert again.oneids == [report.oneids[0]]
    assert again.new_persons == 0


def test_chains_merge_into_one_person(session: Session, tenant: TenantContext) -> None:
    # A-B share a phone, B-C share an e-mail: one person, whatever the batches.
    ingest(session, tenant, customer("tmall", "A", {"phone": P1}))
    ingest(session, tenant, customer("jd", "B", {"phone": P1, "email": "b@x.cn"}))
    ingest(session, tenant, customer("pos", "C", {"email": "B@X.CN", "member_no": "m9"}))
    ingest(session, tenant, event("web", "e1", ids={"member_no": "M9"}))
    assert partition(session, tenant) == {
        frozenset({"customer:tmall/A", "customer:jd/B", "customer:pos/C", "event:web/e1"})
    }


def test_merge_keeps_the_older_oneid_and_the_retired_one_still_resolves(
    session: Session, tenant: TenantContext
) -> None:
    old = ingest(session, tenant, customer("tmall", "A", {"phone": P1}))[0].oneid
    young = ingest(session, tenant, customer("pos", "C", {"email": "c@x.cn"}))[0].oneid
    assert old and young and old != young
    # The bridging record names the younger person's identifier first.
    _report, results = ingest_records(
        session=session,
        tenant=tenant,
        items=[customer("jd", "B", {"email": "c@x.cn", "phone": P1})],
        origin="test",
    )
    assert _report.merges == 1
    assert results[0].oneid == old
    assert live_oneids(session, tenant) == {old}
    assert current_oneid(session=session, tenant=tenant, oneid=young) == old
    assert current_oneid(session=session, tenant=tenant, oneid=old) == old
    assert current_oneid(session=session, tenant=tenant, oneid="01NOSUCHONEID0000000000000") is None

    explained = explain_person(session=session, tenant=tenant, oneid=young)
    assert explained.requested == young
    assert explained.oneid == old
    assert explained.retired_oneids == [young]
    merges = [c for c in explained.changes if c.action == "merge"]
    assert len(merges) == 1
    assert merges[0].kept_oneid == old
    assert merges[0].retired_oneid == young
    assert merges[0].identifier == "email=c@x.cn"  # the identifier that caused it
    assert merges[0].record == "customer:jd/B"  # ...and the record that brought it


def test_a_merge_moves_identifiers_to_the_kept_person(
    session: Session, tenant: TenantContext
) -> None:
    ingest(session, tenant, customer("tmall", "A", {"phone": P1}))
    young = ingest(session, tenant, customer("pos", "C", {"email": "c@x.cn"}))[0].oneid
    kept = ingest(session, tenant, customer("jd", "B", {"email": "c@x.cn", "phone": P1}))[0].oneid
    assert kept and young
    held = {
        (i.id_type, i.value) for i in person_identifiers(session=session, tenant=tenant, oneid=kept)
    }
    assert ("email", "c@x.cn") in held and ("phone_sha256", H1) in held
    assert person_identifiers(session=session, tenant=tenant, oneid=young) == []
    assert [r.record_id for r in person_records(session=session, tenant=tenant, oneid=kept)] == [
        "A",
        "C",
        "B",
    ]


# -- guards -------------------------------------------------------------------------------


def test_max_per_type_blocks_the_merge_and_records_it(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(IdentityRules(max_per_type={"phone_sha256": 1}))
    first = ingest(session, tenant, customer("tmall", "A", {"phone": P1, "email": "f@x.cn"}))
    _report, results = ingest_records(
        session=session,
        tenant=tenant,
        items=[customer("jd", "B", {"phone": P2, "email": "f@x.cn"})],
        origin="test",
    )
    a, b = first[0].oneid, results[0].oneid
    assert a and b and a != b
    assert _report.blocked_merges == 1
    assert _report.merges == 0
    blocked = list_blocked(session=session, tenant=tenant)
    assert len(blocked) == 1
    assert blocked[0].guard == "max_per_type:phone_sha256"
    assert blocked[0].record == "customer:jd/B"
    assert blocked[0].identifier == "email=f@x.cn"
    assert (blocked[0].oneid, blocked[0].other_oneid) == (b, a)
    assert blocked[0].status == "open"
    # The shared e-mail stays with its first owner; the blocked person keeps only its own.
    held_b = {
        (i.id_type, i.value) for i in person_identifiers(session=session, tenant=tenant, oneid=b)
    }
    assert held_b == {("source_customer", "jd/B"), ("phone_sha256", phone_sha256(P2))}
    assert [v.id for v in explain_person(session=session, tenant=tenant, oneid=a).blocked] == [
        blocked[0].id
    ]
    # Later records of the blocked identifier keep going to its owner.
    assert ingest(session, tenant, event("web", "e1", ids={"email": "f@x.cn"}))[0].oneid == a


def test_default_guard_one_unionid_per_person(session: Session, tenant: TenantContext) -> None:
    a = ingest(session, tenant, customer("wechat_mp", "A", {"wechat_unionid": "u1", "phone": P1}))
    b = ingest(session, tenant, customer("wecom", "B", {"wechat_unionid": "u2", "phone": P1}))
    assert a[0].oneid != b[0].oneid
    guards = [v.guard for v in list_blocked(session=session, tenant=tenant)]
    assert guards == ["max_per_type:wechat_unionid"]


def test_max_customer_records_caps_a_person_but_not_its_orders(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(IdentityRules(max_customer_records=2))
    ids = {"wechat_unionid": "u-cap"}
    results = ingest(
        session,
        tenant,
        customer("wechat_mp", "c1", ids),
        customer("wecom", "c2", ids),
        order("wechat_mp", "o1", ids=ids),
        order("wechat_mp", "o2", ids=ids),
        customer("pos", "c3", ids),
    )
    person = results[0].oneid
    assert [r.oneid for r in results[:4]] == [person] * 4  # orders are not counted
    assert results[4].oneid != person
    blocked = list_blocked(session=session, tenant=tenant)
    assert [(b.record, b.guard) for b in blocked] == [("customer:pos/c3", "max_customer_records")]


# -- weak identifiers ---------------------------------------------------------------------


def test_a_shared_device_never_joins_two_identified_persons(
    session: Session, tenant: TenantContext
) -> None:
    results = ingest(
        session,
        tenant,
        customer("app", "A", {"phone": P1, "device_id": "dev-family"}),
        customer("app", "B", {"phone": P2, "device_id": "DEV-FAMILY"}),
        event("app", "e1", ids={"device_id": "dev-family", "phone": P3}),
    )
    assert len({r.oneid for r in results}) == 3
    for result in results[:2]:
        assert result.oneid
        weak = [
            (i.id_type, i.value)
            for i in person_identifiers(session=session, tenant=tenant, oneid=result.oneid)
            if i.strength == "weak"
        ]
        assert weak == [("device_id", "dev-family")]
    # An anonymous event on the family device belongs to neither.
    anonymous = ingest(session, tenant, event("app", "e2", ids={"device_id": "dev-family"}))
    assert anonymous[0].oneid not in {r.oneid for r in results}


def test_an_anonymous_event_joins_the_single_identified_holder_of_its_device(
    session: Session, tenant: TenantContext
) -> None:
    person = ingest(session, tenant, customer("app", "A", {"phone": P1, "device_id": "d1"}))
    event_result = ingest(session, tenant, event("app", "e1", ids={"device_id": "D1"}))
    assert event_result[0].oneid == person[0].oneid
    # A device no identified person holds starts a person of its own.
    alone = ingest(session, tenant, event("app", "e2", ids={"device_id": "d2"}))
    assert alone[0].oneid != person[0].oneid


def test_a_login_absorbs_the_anonymous_history_of_its_device(
    session: Session, tenant: TenantContext
) -> None:
    before = ingest(
        session,
        tenant,
        event("web", "v1", ids={"device_id": "d-anon"}),
        event("web", "v2", ids={"device_id": "d-anon"}),
    )
    assert before[0].oneid == before[1].oneid
    login = ingest(
        session, tenant, customer("web", "u1", {"email": "u@x.cn", "device_id": "d-anon"})
    )
    assert login[0].oneid == before[0].oneid  # the anonymous person is older: its OneID stays
    assert partition(session, tenant) == {
        frozenset({"event:web/v1", "event:web/v2", "customer:web/u1"})
    }


# -- detach (unmerge) ---------------------------------------------------------------------


def _three_sharing_a_phone(session: Session, tenant: TenantContext) -> str:
    results = ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1}),
        customer("jd", "B", {"phone": P1, "email": "b@x.cn"}),
        order("jd", "ob", customer_id="B"),
        customer("pos", "C", {"phone": P1}),
    )
    person = results[0].oneid
    assert person and {r.oneid for r in results} == {person}
    return person


def test_detach_splits_a_record_off_and_records_the_split(
    session: Session, tenant: TenantContext
) -> None:
    person = _three_sharing_a_phone(session, tenant)
    result = detach_record(
        session=session,
        tenant=tenant,
        kind="customer",
        source="jd",
        record_id="B",
        actor="ops@brand",
        reason="family phone",
    )
    assert result.old_oneid == person
    assert result.new_oneid != person
    assert result.record.record_id == "B"
    assert partition(session, tenant) == {
        frozenset({"customer:tmall/A", "customer:pos/C"}),
        frozenset({"customer:jd/B", "order:jd/ob"}),  # B's own order goes with it
    }
    mapping = identity_map(session, tenant)
    assert mapping["customer:jd/B"] == result.new_oneid
    assert mapping["customer:tmall/A"] == person  # the old OneID still names a live person
    assert current_oneid(session=session, tenant=tenant, oneid=person) == person
    assert result.persons == {person: 2, result.new_oneid: 2}

    changes = explain_person(session=session, tenant=tenant, oneid=result.new_oneid).changes
    detach = [c for c in changes if c.action == "detach"]
    assert len(detach) == 1
    assert detach[0].actor == "ops@brand"
    assert detach[0].detail["reason"] == "family phone"
    assert detach[0].retired_oneid == person
    assert detach[0].kept_oneid == result.new_oneid


def test_a_later_record_with_both_sides_identifiers_does_not_re_merge(
    session: Session, tenant: TenantContext
) -> None:
    person = _three_sharing_a_phone(session, tenant)
    split = detach_record(
        session=session,
        tenant=tenant,
        kind="customer",
        source="jd",
        record_id="B",
        actor="ops",
        reason="wrong merge",
    )
    # An order that names B (implicit key) and carries the phone the other side owns.
    _report, results = ingest_records(
        session=session,
        tenant=tenant,
        items=[order("jd", "o-both", customer_id="B", ids={"phone": P1, "email": "b@x.cn"})],
        origin="test",
    )
    assert _report.merges == 0
    mapping = identity_map(session, tenant)
    assert mapping["customer:jd/B"] == split.new_oneid
    assert mapping["customer:tmall/A"] == mapping["customer:pos/C"] == person
    assert split.new_oneid != person
    assert results[0].oneid in (person, split.new_oneid)
    blocked = list_blocked(session=session, tenant=tenant)
    assert {b.guard for b in blocked} == {"cannot_link"}
    cannot = [b for b in blocked if b.record == "order:jd/o-both"]
    assert len(cannot) == 1
    assert {cannot[0].oneid, cannot[0].other_oneid} == {person, split.new_oneid}
    # Re-importing everything again changes nothing either.
    ingest(session, tenant, customer("jd", "B", {"phone": P1, "email": "b@x.cn"}))
    assert identity_map(session, tenant) == mapping


def test_detaching_the_oldest_record_splits_that_record_off(
    session: Session, tenant: TenantContext
) -> None:
    person = _three_sharing_a_phone(session, tenant)
    result = detach_record(
        session=session,
        tenant=tenant,
        kind="customer",
        source="tmall",
        record_id="A",
        actor="ops",
        reason="not the same person",
    )
    mapping = identity_map(session, tenant)
    detached = mapping["customer:tmall/A"]
    others = {mapping[r] for r in ("customer:jd/B", "order:jd/ob", "customer:pos/C")}
    assert detached not in others  # A shares a person with none of its former records
    assert result.new_oneid == detached
    assert result.new_oneid != result.old_oneid == person
    # The OneID stays with the rest of the person, and still resolves to a live person.
    assert mapping["customer:jd/B"] == person
    assert current_oneid(session=session, tenant=tenant, oneid=person) == person


def test_detach_refuses_unknown_and_lone_records(session: Session, tenant: TenantContext) -> None:
    ingest(session, tenant, customer("tmall", "lone", {"phone": P3}))
    with pytest.raises(IdentityError, match="no customer record"):
        detach_record(
            session=session,
            tenant=tenant,
            kind="customer",
            source="tmall",
            record_id="nope",
            actor="ops",
            reason="-",
        )
    with pytest.raises(IdentityError, match="already a person of its own"):
        detach_record(
            session=session,
            tenant=tenant,
            kind="customer",
            source="tmall",
            record_id="lone",
            actor="ops",
            reason="-",
        )


# -- explanations and relinking -----------------------------------------------------------


def test_explain_person_lists_records_identifiers_and_why(
    session: Session, tenant: TenantContext
) -> None:
    results = ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1, "device_id": "dev-9"}),
        order("tmall", "o1", customer_id="A"),
        customer("pos", "M", {"phone_sha256": H1, "member_no": "vip1"}),
    )
    person = results[0].oneid
    assert person
    explained = explain_person(session=session, tenant=tenant, oneid=person)
    assert explained.oneid == explained.requested == person
    assert [(r.kind, r.source, r.record_id) for r in explained.records] == [
        ("customer", "tmall", "A"),
        ("order", "tmall", "o1"),
        ("customer", "pos", "M"),
    ]
    held = {(i.id_type, i.value, i.strength) for i in explained.identifiers}
    assert held == {
        ("source_customer", "tmall/A", "strong"),
        ("source_customer", "pos/M", "strong"),
        ("phone_sha256", H1, "strong"),
        ("member_no", "VIP1", "strong"),
        ("device_id", "dev-9", "weak"),
    }
    assert explained.why == [
        f"phone_sha256={H1} joins 2 records: customer:tmall/A, customer:pos/M",
        "source_customer=tmall/A joins 2 records: customer:tmall/A, order:tmall/o1",
    ]
    assert explained.changes == []  # records joined on arrival: no person was retired
    with pytest.raises(IdentityError):
        explain_person(session=session, tenant=tenant, oneid="01NOSUCHONEID0000000000000")


def test_an_updated_customer_record_with_a_new_identifier_links_persons(
    session: Session, tenant: TenantContext
) -> None:
    a = ingest(session, tenant, customer("tmall", "A", {"phone": P1}))[0].oneid
    b = ingest(session, tenant, customer("jd", "B", {"phone": P2, "email": "b@x.cn"}))[0].oneid
    assert a and b and a != b
    updated = ingest(session, tenant, customer("tmall", "A", {"phone": P1, "email": "b@x.cn"}))
    assert updated[0].outcome == "updated"
    assert updated[0].oneid == a  # A's person is the older one
    assert partition(session, tenant) == {frozenset({"customer:tmall/A", "customer:jd/B"})}
    assert current_oneid(session=session, tenant=tenant, oneid=b) == a
    explained = explain_person(session=session, tenant=tenant, oneid=a)
    assert explained.retired_oneids == [b]
    merges = [c for c in explained.changes if c.action == "merge"]
    assert [(c.kept_oneid, c.retired_oneid, c.actor) for c in merges] == [(a, b, "import")]


def test_an_updated_record_losing_its_link_leaves_the_person(
    session: Session, tenant: TenantContext
) -> None:
    first = ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1}),
        customer("jd", "B", {"phone": P1}),
    )
    person = first[0].oneid
    assert person and len(partition(session, tenant)) == 1
    corrected = ingest(session, tenant, customer("jd", "B", {"phone": P2}))  # B's phone fixed
    assert corrected[0].outcome == "updated"
    assert partition(session, tenant) == {
        frozenset({"customer:tmall/A"}),
        frozenset({"customer:jd/B"}),
    }
    mapping = identity_map(session, tenant)
    assert mapping["customer:tmall/A"] == person  # the older part keeps the OneID
    assert corrected[0].oneid == mapping["customer:jd/B"] != person

    def phones(oneid: str) -> set[str]:
        held = person_identifiers(session=session, tenant=tenant, oneid=oneid)
        return {i.value for i in held if i.id_type == "phone_sha256"}

    assert phones(person) == {H1}
    assert phones(mapping["customer:jd/B"]) == {phone_sha256(P2)}


def test_the_latest_version_in_a_batch_decides_a_known_records_identifiers(
    session: Session, tenant: TenantContext
) -> None:
    ingest(session, tenant, customer("tmall", "A", {"phone": P1}))
    # Two new versions in one batch: the second restores the stored identifiers, so the
    # UnionID the first version brought must not stay with the person.
    ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1, "wechat_unionid": "u-1"}),
        customer("tmall", "A", {"phone": P1}, name="fixed"),
    )
    ingest(session, tenant, customer("jd", "B", {"wechat_unionid": "u-1"}))
    assert partition(session, tenant) == {
        frozenset({"customer:tmall/A"}),
        frozenset({"customer:jd/B"}),
    }


def test_tenants_never_share_persons(
    session: Session, tenant: TenantContext, make_tenant: MakeTenant
) -> None:
    other = make_tenant()
    mine = ingest(session, tenant, customer("tmall", "A", {"phone": P1}))[0].oneid
    theirs = ingest(session, other, customer("tmall", "A", {"phone": P1}))[0].oneid
    assert mine != theirs
    assert set(identity_map(session, other)) == {label("customer", "tmall", "A")}
    assert set(identity_map(session, other).values()) == {theirs}
    assert current_oneid(session=session, tenant=other, oneid=str(mine)) is None


def test_detaching_the_bridge_of_a_merge_splits_all_three(
    session: Session, tenant: TenantContext
) -> None:
    ingest(session, tenant, customer("tmall", "A", {"phone": P1}))
    ingest(session, tenant, customer("pos", "C", {"email": "c@x.cn"}))
    bridge = ingest(session, tenant, customer("jd", "B", {"phone": P1, "email": "c@x.cn"}))
    result = detach_record(
        session=session,
        tenant=tenant,
        kind="customer",
        source="jd",
        record_id="B",
        actor="ops",
        reason="bridge was wrong",
    )
    assert result.old_oneid == bridge[0].oneid
    assert partition(session, tenant) == {
        frozenset({"customer:tmall/A"}),
        frozenset({"customer:pos/C"}),
        frozenset({"customer:jd/B"}),
    }
    mapping = identity_map(session, tenant)
    assert mapping["customer:tmall/A"] == result.old_oneid  # the oldest part keeps the OneID
    assert mapping["customer:jd/B"] == result.new_oneid


def test_detaching_an_order_takes_it_off_its_customer(
    session: Session, tenant: TenantContext
) -> None:
    results = ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1}),
        order("tmall", "o1", customer_id="A"),
        order("tmall", "o2", customer_id="A"),
    )
    person = results[0].oneid
    result = detach_record(
        session=session,
        tenant=tenant,
        kind="order",
        source="tmall",
        record_id="o2",
        actor="ops",
        reason="gift order",
    )
    mapping = identity_map(session, tenant)
    assert mapping["order:tmall/o1"] == mapping["customer:tmall/A"] == person
    assert mapping["order:tmall/o2"] == result.new_oneid != person
    # A new version of the order (same customer_ref) stays detached.
    ingest(session, tenant, order("tmall", "o2", customer_id="A", status="completed"))
    assert identity_map(session, tenant)["order:tmall/o2"] == result.new_oneid


def test_results_name_the_final_oneid_when_a_batch_relinks(
    session: Session, tenant: TenantContext
) -> None:
    # One batch: a record, a newer version of it with identifiers, and a record that the
    # newer version links to. Every result names the OneID the record ends up with.
    results = ingest(
        session,
        tenant,
        customer("tmall", "c0", {}),
        customer("tmall", "c0", {"wechat_unionid": "u-7"}),
        customer("tmall", "c1", {"wechat_unionid": "u-7", "phone": P2}),
    )
    mapping = identity_map(session, tenant)
    assert mapping["customer:tmall/c0"] == mapping["customer:tmall/c1"]
    assert [r.oneid for r in results] == [mapping["customer:tmall/c0"]] * 3


def test_results_of_known_records_follow_a_merge_in_the_same_batch(
    session: Session, tenant: TenantContext
) -> None:
    old = ingest(session, tenant, customer("tmall", "A", {"phone": P1}))[0].oneid
    young = ingest(session, tenant, customer("jd", "B", {"email": "b@x.cn"}))[0].oneid
    again = ingest(
        session,
        tenant,
        customer("jd", "B", {"email": "b@x.cn"}),  # unchanged, its person retires below
        customer("pos", "bridge", {"phone": P1, "email": "b@x.cn"}),
    )
    assert young != old
    assert again[0].outcome == "unchanged"
    assert [r.oneid for r in again] == [old, old]
