"""Matching through the store: merges, explain, review decisions, undo, guards, online."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from matching_people import canonical, synthetic_people
from siyu import identity, ingest
from siyu.identity.matching.models import MatchModel
from siyu.tenants import IdentityRules, MatchRules, TenantContext
from support import MakeTenant

PERSONS = 300
NEVER = 2.0  # an accept threshold no probability reaches: everything goes to review


@dataclass
class World:
    tenant: TenantContext
    people: list[tuple[dict[str, Any], dict[str, Any]]]

    def oneid(self, session: Session, record: dict[str, Any]) -> str:
        found = identity.oneids_of_records(
            session=session,
            tenant=self.tenant,
            kind="customer",
            refs=[(record["source"], record["external_id"])],
        )
        return found[(record["source"], record["external_id"])]

    def together(self, session: Session, person: int) -> bool:
        pos, platform = self.people[person]
        return self.oneid(session, pos) == self.oneid(session, platform)


def build_world(session: Session, tenant: TenantContext, persons: int = PERSONS) -> World:
    people = synthetic_people(persons, seed=11)
    records = [canonical(r) for pair in people for r in pair]
    for start in range(0, len(records), 1000):
        report, _results = ingest.ingest_records(
            session=session, tenant=tenant, items=records[start : start + 1000], origin="test"
        )
        assert report.quarantined == 0
    return World(tenant, people)


@pytest.fixture
def world(session: Session, make_tenant: MakeTenant) -> World:
    return build_world(session, make_tenant(IdentityRules()))


def test_strong_identifiers_alone_link_nobody(session: Session, world: World) -> None:
    assert not any(world.together(session, p) for p in range(PERSONS))


def test_batch_merges_probable_matches_and_explains_why(session: Session, world: World) -> None:
    report = identity.run_matching(session=session, tenant=world.tenant, accept=0.9)
    assert report.records == 2 * PERSONS
    assert report.merged > 0.85 * PERSONS and report.blocked == 0
    merged = [p for p in range(PERSONS) if world.together(session, p)]
    assert len(merged) == report.merged  # every merge joined one true person's records
    pos, platform = world.people[merged[0]]
    oneid = world.oneid(session, pos)
    why = identity.explain_person(session=session, tenant=world.tenant, oneid=oneid)
    (change,) = [c for c in why.changes if c.action == "match"]
    assert change.identifier is not None and change.identifier.startswith("match=")
    detail: dict[str, Any] = change.detail
    assert float(detail["probability"]) >= 0.9  # type: ignore[arg-type]
    comparisons = detail["comparisons"]
    assert isinstance(comparisons, dict) and "name" in comparisons
    assert any(line.startswith("probabilistic match #") for line in why.why)


def test_dry_run_changes_nothing(session: Session, world: World) -> None:
    report = identity.run_matching(session=session, tenant=world.tenant, dry_run=True)
    assert report.accepted > 0 and report.model_id is None
    assert not any(world.together(session, p) for p in range(PERSONS))
    assert identity.list_review(session=session, tenant=world.tenant) == []


def test_review_decisions_are_remembered(session: Session, world: World) -> None:
    report = identity.run_matching(session=session, tenant=world.tenant, accept=NEVER)
    assert report.accepted == 0 and report.review > 0.85 * PERSONS
    queue = identity.list_review(session=session, tenant=world.tenant, limit=1000)
    assert len(queue) == report.review
    first, second = queue[0], queue[1]
    assert first.probability >= second.probability
    assert {first.a.source, first.b.source} == {"pos", "douyin"}
    assert first.a.fields  # side by side for the reviewer
    accepted = identity.decide_review(
        session=session, tenant=world.tenant, link_id=first.id, accept=True, actor="test"
    )
    assert accepted.merged and accepted.status == "accepted"
    rejected = identity.decide_review(
        session=session,
        tenant=world.tenant,
        link_id=second.id,
        accept=False,
        actor="test",
        reason="different people",
    )
    assert not rejected.merged and rejected.status == "rejected"
    with pytest.raises(identity.MatchError):
        identity.decide_review(
            session=session, tenant=world.tenant, link_id=second.id, accept=True, actor="test"
        )
    # A second run, now merging everything likely: the rejected pair stays apart and is
    # not proposed again; the accepted one stays merged; nothing is queued twice.
    again = identity.run_matching(session=session, tenant=world.tenant, accept=0.5)
    assert again.merged > 0
    assert rejected.oneid_a != rejected.oneid_b
    a_now = identity.current_oneid(session=session, tenant=world.tenant, oneid=rejected.oneid_a)
    b_now = identity.current_oneid(session=session, tenant=world.tenant, oneid=rejected.oneid_b)
    assert a_now != b_now
    items = identity.list_review(session=session, tenant=world.tenant, status="rejected")
    assert [i.id for i in items] == [second.id] and items[0].reason == "different people"
    pending = identity.list_review(session=session, tenant=world.tenant, limit=1000)
    pairs = [(i.a.seq, i.b.seq) for i in pending]
    assert len(pairs) == len(set(pairs))
    assert (second.a.seq, second.b.seq) not in pairs


def test_a_match_is_undone_by_detach_and_not_redone(session: Session, world: World) -> None:
    identity.run_matching(session=session, tenant=world.tenant, accept=0.9)
    person = next(p for p in range(PERSONS) if world.together(session, p))
    pos, platform = world.people[person]
    result = identity.detach_record(
        session=session,
        tenant=world.tenant,
        kind="customer",
        source=platform["source"],
        record_id=platform["external_id"],
        actor="test",
        reason="not her",
    )
    assert result.new_oneid != result.old_oneid
    assert not world.together(session, person)
    assert identity.list_blocked(session=session, tenant=world.tenant) == []  # key is gone
    rejected = identity.list_review(session=session, tenant=world.tenant, status="rejected")
    assert len(rejected) == 1 and rejected[0].reason == "detached"
    identity.run_matching(session=session, tenant=world.tenant, accept=0.5)
    assert not world.together(session, person)


def test_rejecting_an_accepted_match_splits_it(session: Session, world: World) -> None:
    identity.run_matching(session=session, tenant=world.tenant, accept=0.9)
    (link, *_rest) = identity.list_review(session=session, tenant=world.tenant, status="accepted")
    person = int(link.a.record_id[2:])
    assert world.together(session, person)
    decision = identity.decide_review(
        session=session, tenant=world.tenant, link_id=link.id, accept=False, actor="test"
    )
    assert not decision.merged
    assert not world.together(session, person)
    identity.run_matching(session=session, tenant=world.tenant, accept=0.5)
    assert not world.together(session, person)


def test_a_match_survives_replays_and_changed_identifiers(session: Session, world: World) -> None:
    identity.run_matching(session=session, tenant=world.tenant, accept=0.9)
    person = next(p for p in range(PERSONS) if world.together(session, p))
    pos, platform = world.people[person]
    # The POS record comes again with a new e-mail: its keys change, its neighbourhood is
    # replayed from the links' keys, and the accepted match is one of them.
    changed = canonical(pos)
    changed["identifiers"]["email"] = f"p{person}@example.com"
    report, _ = ingest.ingest_records(
        session=session, tenant=world.tenant, items=[changed], origin="test"
    )
    assert report.updated == 1
    assert world.together(session, person)


def test_merge_guards_apply_to_matches(session: Session, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(IdentityRules(max_customer_records=1))
    world = build_world(session, tenant)
    report = identity.run_matching(session=session, tenant=tenant, accept=0.9)
    assert report.accepted > 0 and report.merged == 0 and report.blocked == report.accepted
    blocked = identity.list_blocked(session=session, tenant=tenant, limit=1000)
    assert len(blocked) == report.blocked
    assert {b.guard for b in blocked} == {"max_customer_records"}
    assert all(b.identifier.startswith("match=") for b in blocked)
    assert not any(world.together(session, p) for p in range(PERSONS))


def test_arriving_records_are_scored_online(session: Session, make_tenant: MakeTenant) -> None:
    rules = IdentityRules(probabilistic=True, matching=MatchRules(accept_probability=0.9))
    tenant = make_tenant(rules)
    world = build_world(session, tenant)
    # Importing with the setting on but no model yet: nothing to score with.
    assert not any(world.together(session, p) for p in range(PERSONS))
    identity.run_matching(session=session, tenant=tenant, accept=NEVER, review=NEVER)
    newcomer = {**world.people[0][0], "external_id": "PC-NEW", "birthday": None}
    newcomer = {k: v for k, v in newcomer.items() if v is not None}
    report, results = ingest.ingest_records(
        session=session, tenant=tenant, items=[canonical(newcomer)], origin="test"
    )
    # Same name, phone... that is a strong identifier: it links by the phone already.
    assert results[0].oneid == world.oneid(session, world.people[0][0])
    platform = {**world.people[1][1], "external_id": "DY-NEW"}
    report, results = ingest.ingest_records(
        session=session, tenant=tenant, items=[canonical(platform)], origin="test"
    )
    # It scores against its block: person 1's POS record (masked phone) and the Douyin
    # record it repeats; both merge with it (the batch run above accepted nothing).
    assert report.probable_matches == 2 and report.match_reviews == 0
    assert results[0].oneid == world.oneid(session, world.people[1][0])
    assert world.together(session, 1)


def test_online_scoring_is_off_by_default(session: Session, world: World) -> None:
    identity.run_matching(session=session, tenant=world.tenant, accept=NEVER, review=NEVER)
    platform = {**world.people[1][1], "external_id": "DY-NEW"}
    report, _ = ingest.ingest_records(
        session=session, tenant=world.tenant, items=[canonical(platform)], origin="test"
    )
    assert report.probable_matches == report.match_reviews == 0


def test_online_without_a_model_is_skipped(session: Session, world: World) -> None:
    report = identity.match_new_records(
        session=session, tenant=world.tenant, refs=[("douyin", "DY00001")]
    )
    assert report.skipped and report.scored == 0


def test_online_with_a_model_of_other_comparisons_is_skipped(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(IdentityRules(probabilistic=True))
    world = build_world(session, tenant, persons=60)
    identity.run_matching(session=session, tenant=tenant, accept=NEVER, review=NEVER)
    # A model stored by a version with one comparison fewer (m and u per level of each).
    stored = session.scalars(select(MatchModel).where(MatchModel.tenant_id == tenant.id)).one()
    params = dict(stored.params)
    for key in ("names", "labels", "m", "u"):
        params[key] = params[key][:-1]
    stored.params = params
    session.flush()
    platform = world.people[1][1]
    report = identity.match_new_records(
        session=session, tenant=tenant, refs=[(platform["source"], platform["external_id"])]
    )
    assert report.skipped and "siyu identity match" in report.skipped and report.scored == 0
