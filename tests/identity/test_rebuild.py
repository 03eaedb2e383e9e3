"""`rebuild_identity` against the store: it agrees with the online path (demo data and
random imports with guards, devices and detaches), keeps OneIDs stable when rules change,
and writes back persons, links, owners, holders, changes and blocked merges."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.rebuild_support import groups_of, identity_state, rebuild, reference_partition
from identity.test_properties import (
    PROPERTY_SETTINGS,
    approve_one,
    assert_identifiers_owned_once,
    assert_oneids_resolve,
    import_batch,
    operations,
    records,
)
from siyu import online
from siyu.demo.generator import generate_demo
from siyu.identity import (
    IdentityError,
    current_oneid,
    detach_record,
    explain_person,
    find_persons,
    list_blocked,
)
from siyu.identity.models import IdentityChange, IdentityRebuild
from siyu.ingest import ingest_files
from siyu.store import Store
from siyu.tenants import IdentityRules, TenantContext, get_tenant, update_settings
from support import customer, identity_map, ingest, label, order, rollback_session, tenant_with

P1, P2, P3 = "13800000001", "13800000002", "13800000003"


def set_rules(session: Session, tenant: TenantContext, rules: IdentityRules) -> TenantContext:
    settings = tenant.settings.model_copy(update={"identity": rules})
    update_settings(session=session, tenant_id=tenant.id, settings=settings)
    session.flush()
    return get_tenant(session=session, name=tenant.name)


def assert_nothing_changed(report: Any) -> None:
    assert report.unchanged == report.persons
    assert (report.created, report.merged, report.split, report.moved_records) == (0, 0, 0, 0)


# -- agreement with the online path --------------------------------------------------------


def test_rebuilding_the_demo_changes_nothing(
    session: Session, tenant: TenantContext, engine_name: str, tmp_path: Path
) -> None:
    files = generate_demo(out_dir=tmp_path / "demo", persons=300, seed=11)
    ingest_files(
        session=session,
        tenant=tenant,
        paths=[files.customers, files.orders, files.refunds, files.events],
    )
    before = identity_state(session, tenant)
    # The online import is the arrival-order definition...
    assert groups_of(before["links"]) == reference_partition(session, tenant)
    methods = ["fast", "portable"] if engine_name == "duckdb" else ["portable"]
    for method in methods:
        report = rebuild(session, tenant, tmp_path / "engine", engine=engine_name, method=method)
        # ...and the rebuild reproduces it exactly: same persons, same OneIDs, same owners.
        assert_nothing_changed(report)
        assert report.records == len(before["links"])
        assert report.persons == len(set(before["links"].values()))
        assert report.replayed_records < report.records  # most components need no replay
        assert identity_state(session, tenant) == before
    runs = session.scalars(select(IdentityRebuild).where(IdentityRebuild.tenant_id == tenant.id))
    assert [(r.engine, r.method) for r in runs] == [(engine_name, m) for m in methods]


@PROPERTY_SETTINGS
@given(operations())
def test_rebuild_after_random_imports_and_detaches_changes_nothing(
    sqlite_store: Store, steps: list[tuple[str, Any]]
) -> None:
    rules = IdentityRules(max_per_type={"phone_sha256": 2, "wechat_unionid": 1})
    with rollback_session(sqlite_store) as session, tempfile.TemporaryDirectory() as tmp:
        tenant = tenant_with(session, rules)
        seen: set[str] = set()
        imported: list[Any] = []
        for action, argument in steps:
            if action == "import":
                import_batch(session, tenant, argument, seen)
                imported.extend(argument)
                continue
            if action == "review":  # approve or dismiss a blocked merge: kept by the rebuild
                if approve_one(session, tenant, argument[0], approve=argument[1]):
                    event(f"reviewed: {'approved' if argument[1] else 'dismissed'}")
                continue
            kind, rest = imported[argument % len(imported)].label.split(":", 1)
            source, record_id = rest.split("/", 1)
            try:
                detach_record(
                    session=session,
                    tenant=tenant,
                    kind=kind,
                    source=source,
                    record_id=record_id,
                    actor="hypothesis",
                    reason="property test",
                )
                event("detached")
            except IdentityError:
                pass
        before = identity_state(session, tenant)
        assert groups_of(before["links"]) == reference_partition(session, tenant)
        report = rebuild(session, tenant, Path(tmp))
        event(f"replayed records: {report.replayed_records > 0}")
        assert_nothing_changed(report)
        after = identity_state(session, tenant)
        assert {k: v for k, v in after.items() if k != "blocked"} == {
            k: v for k, v in before.items() if k != "blocked"
        }
        assert_blocked_refreshed(before["blocked"], after)


def assert_blocked_refreshed(online: set[tuple[Any, ...]], after: dict[str, Any]) -> None:
    """The rebuild lists blocks the online path recorded, under the persons' current OneIDs
    (the online list keeps the OneIDs of when it happened, and blocks later moot)."""
    live = set(after["links"].values())
    assert {b[:1] + b[3:] for b in after["blocked"]} <= {b[:1] + b[3:] for b in online}
    for seq, oneid, other, *_ in after["blocked"]:
        assert oneid == after["links"][seq] and other in live and other != oneid


@PROPERTY_SETTINGS
@given(
    st.lists(st.lists(records(devices=True), min_size=1, max_size=4), min_size=1, max_size=6),
    st.integers(1, 3),
    st.sampled_from([1, 2, 50]),
)
def test_rebuild_under_new_rules_follows_them_and_keeps_every_oneid_resolving(
    sqlite_store: Store, plan: list[list[Any]], max_phones: int, max_customers: int
) -> None:
    with rollback_session(sqlite_store) as session, tempfile.TemporaryDirectory() as tmp:
        tenant = tenant_with(session, IdentityRules())
        seen: set[str] = set()
        for batch in plan:
            import_batch(session, tenant, batch, seen)
        before = identity_state(session, tenant)
        tenant = set_rules(
            session,
            tenant,
            IdentityRules(
                max_per_type={"phone_sha256": max_phones, "wechat_unionid": 1},
                max_customer_records=max_customers,
            ),
        )
        report = rebuild(session, tenant, Path(tmp))
        after = identity_state(session, tenant)
        assert groups_of(after["links"]) == reference_partition(session, tenant)
        event(f"persons changed: {report.unchanged < report.persons}")
        # A person whose records are exactly an old person's keeps that OneID.
        old_groups = {frozenset(g): o for o, g in _by_oneid(before["links"]).items()}
        for oneid, group in _by_oneid(after["links"]).items():
            if frozenset(group) in old_groups:
                assert oneid == old_groups[frozenset(group)]
        assert report.created == len(set(after["links"].values()) - set(before["links"].values()))
        assert_oneids_resolve(session, tenant, seen | set(before["links"].values()))
        assert_identifiers_owned_once(session, tenant)
        assert_nothing_changed(rebuild(session, tenant, Path(tmp)))  # a fixed point


def _by_oneid(links: dict[int, str]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for seq, oneid in links.items():
        found.setdefault(oneid, set()).add(seq)
    return found


# -- stable OneIDs when the rules change ------------------------------------------------------


def test_a_stricter_guard_splits_and_a_looser_one_merges_back(
    session: Session, make_tenant: Any, tmp_path: Path
) -> None:
    tenant = make_tenant(IdentityRules(max_per_type={"phone_sha256": 3}))
    ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1}),
        customer("jd", "B", {"phone": P1, "wechat_unionid": "u-b"}),
        order("pos", "o1", ids={"phone": P2, "wechat_unionid": "u-b"}),
        customer("pos", "C", {"phone": P2, "email": "c@x.cn"}),
        customer("douyin", "D", {"phone": P3, "email": "c@x.cn"}),
    )
    person = identity_map(session, tenant)[label("customer", "tmall", "A")]
    assert set(identity_map(session, tenant).values()) == {person}

    # Two phones at most: D's third phone can no longer join; it leaves as a new person.
    tenant = set_rules(session, tenant, IdentityRules(max_per_type={"phone_sha256": 2}))
    split = rebuild(session, tenant, tmp_path)
    mapping = identity_map(session, tenant)
    newcomer = mapping[label("customer", "douyin", "D")]
    assert newcomer != person
    assert {o for r, o in mapping.items() if r != label("customer", "douyin", "D")} == {person}
    assert (split.persons, split.created, split.split, split.merged) == (2, 1, 1, 0)
    assert (split.unchanged, split.moved_records, split.blocked) == (0, 1, 1)
    assert find_persons(session=session, tenant=tenant, query=P3) == [newcomer]
    [blocked] = list_blocked(session=session, tenant=tenant)
    assert (blocked.record, blocked.guard) == ("customer:douyin/D", "max_per_type:phone_sha256")
    assert (blocked.oneid, blocked.other_oneid) == (newcomer, person)
    changes = explain_person(session=session, tenant=tenant, oneid=newcomer).changes
    assert [(c.action, c.kept_oneid, c.retired_oneid, c.actor) for c in changes] == [
        ("split", newcomer, person, "rebuild")
    ]

    # Back to three: one person again, under the older OneID; the newcomer's resolves to it.
    tenant = set_rules(session, tenant, IdentityRules(max_per_type={"phone_sha256": 3}))
    merged = rebuild(session, tenant, tmp_path)
    assert set(identity_map(session, tenant).values()) == {person}
    assert (merged.persons, merged.created, merged.merged, merged.split) == (1, 0, 1, 0)
    assert current_oneid(session=session, tenant=tenant, oneid=newcomer) == person
    assert list_blocked(session=session, tenant=tenant) == []
    assert explain_person(session=session, tenant=tenant, oneid=newcomer).retired_oneids == [
        newcomer
    ]

    # Nothing left to do: a third run writes nothing.
    changes_before = session.scalar(select(IdentityChange.id).order_by(IdentityChange.id.desc()))
    assert_nothing_changed(rebuild(session, tenant, tmp_path))
    assert (
        session.scalar(select(IdentityChange.id).order_by(IdentityChange.id.desc()))
        == changes_before
    )


def test_review_decisions_survive_a_rebuild(
    session: Session, make_tenant: Any, engine_name: str, tmp_path: Path
) -> None:
    """An approved override stays merged, a dismissed pair apart, and neither comes back to
    the open review list, even when the rebuild runs under other guards."""
    tenant = make_tenant(IdentityRules(max_per_type={"phone_sha256": 1}))
    ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1, "email": "a@x.cn"}),
        customer("jd", "B", {"phone": P2, "email": "a@x.cn"}),
        order("jd", "o1", customer_id="B"),
        customer("pos", "C", {"phone": P3, "email": "c@x.cn"}),
        customer("douyin", "D", {"phone": "13800000004", "email": "c@x.cn"}),
    )
    first, second = sorted(b.id for b in list_blocked(session=session, tenant=tenant))
    for blocked_id, approve in ((first, True), (second, False)):
        online.review_blocked(
            session=session,
            tenant=tenant,
            blocked_id=blocked_id,
            approve=approve,
            actor="reviewer",
            reason="checked",
        )
    before = identity_state(session, tenant)
    mapping = identity_map(session, tenant)
    ab, c, d = mapping["customer:tmall/A"], mapping["customer:pos/C"], mapping["customer:douyin/D"]
    assert mapping["customer:jd/B"] == mapping["order:jd/o1"] == ab and c != d
    # Replay and rebuild agree on the definition (approval keys, cannot-links).
    assert groups_of(before["links"]) == reference_partition(session, tenant)
    methods = ["fast", "portable"] if engine_name == "duckdb" else ["portable"]
    for method in methods:
        report = rebuild(session, tenant, tmp_path / method, engine=engine_name, method=method)
        assert_nothing_changed(report)
        assert report.replayed_records >= 4  # the decided components are always replayed
        assert identity_state(session, tenant) == before
    # Under no phone guard at all, and under a stricter one, the decisions still hold.
    for rules in (IdentityRules(max_per_type={}), IdentityRules(max_per_type={"email": 0})):
        tenant = set_rules(session, tenant, rules)
        report = rebuild(
            session, tenant, tmp_path / "rules", engine=engine_name, method=methods[-1]
        )
        # No guard can bite, yet the resolver decides the approved and the dismissed pair.
        assert report.replayed_records == 5
        mapping = identity_map(session, tenant)
        assert mapping["customer:jd/B"] == mapping["order:jd/o1"] == mapping["customer:tmall/A"]
        assert mapping["customer:pos/C"] != mapping["customer:douyin/D"]
        assert mapping["customer:tmall/A"] == ab
    assert list_blocked(session=session, tenant=tenant) == []
    reviewed = list_blocked(session=session, tenant=tenant, status="reviewed")
    assert sorted((b.id, b.status) for b in reviewed) == [
        (first, "approved"),
        (second, "dismissed"),
    ]


def test_a_dry_run_reports_without_writing(
    session: Session, make_tenant: Any, tmp_path: Path
) -> None:
    tenant = make_tenant(IdentityRules(max_per_type={"phone_sha256": 3}))
    ingest(
        session,
        tenant,
        customer("tmall", "A", {"phone": P1}),
        customer("jd", "B", {"phone": P1, "email": "b@x.cn"}),
        customer("pos", "C", {"phone": P2, "email": "b@x.cn"}),
    )
    tenant = set_rules(session, tenant, IdentityRules(max_per_type={"phone_sha256": 1}))
    before = identity_state(session, tenant)
    report = rebuild(session, tenant, tmp_path, dry_run=True)
    assert report.dry_run and report.run_id is None
    assert (report.created, report.split, report.blocked) == (1, 1, 1)
    assert identity_state(session, tenant) == before
    assert (
        session.scalar(select(IdentityRebuild.id).where(IdentityRebuild.tenant_id == tenant.id))
        is None
    )
