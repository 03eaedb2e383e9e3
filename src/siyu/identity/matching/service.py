"""Probabilistic matching use cases: the batch run, online scoring, merging matches."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.orm import Session

from siyu.identity import service as identity_service
from siyu.identity.identifiers import MATCH
from siyu.identity.matching import store
from siyu.identity.matching.decide import PersonPair, Proposal, person_pair, propose
from siyu.identity.matching.links import add_match_keys
from siyu.identity.matching.options import MatchOptions
from siyu.identity.matching.pipeline import (
    ScoredPairs,
    record_block_keys,
    score_records,
)
from siyu.identity.matching.schemas import MatchRunReport
from siyu.identity.models import IdentityChange
from siyu.identity.state import chunks, lock_tenant
from siyu.store.base import utcnow
from siyu.store.bulk import insert_many
from siyu.tenants import TenantContext

MERGE_CHUNK = 200  # accepted matches replayed together (bounded by the online replay limit)


def run_matching(
    *,
    session: Session,
    tenant: TenantContext,
    actor: str = "system",
    accept: float | None = None,
    review: float | None = None,
    dry_run: bool = False,
) -> MatchRunReport:
    """Train the model on all customer records, score every block, merge and queue pairs."""
    started = time.perf_counter()
    lock_tenant(session, tenant.id)
    options = _options(tenant)
    records = store.load_records(session, tenant)
    report = MatchRunReport(records=records.num_rows)
    report.persons_before = report.persons_after = _persons(records.column("oneid").to_pylist())
    if records.num_rows < 2:
        report.skipped = "fewer than two customer records"
        return report
    scored = score_records(records, options=options)
    report.candidates, report.scored = scored.candidates, scored.pairs.num_rows
    proposals = _proposals(session, tenant, scored, options, accept=accept, review=review)
    if not dry_run:
        report.model_id = store.save_model(
            session,
            tenant,
            scored.model,
            {"records": records.num_rows, "candidates": scored.candidates},
        )
        store.replace_keys(
            session, tenant, record_block_keys(records, options, scored.model.places)
        )
        _apply(session, tenant, proposals, report, actor=actor)
        report.persons_after = _persons(
            [o for _s, o in store.customer_links(session, tenant).values()]
        )
    else:
        report.accepted = sum(p.accept for p in proposals)
        report.review = len(proposals) - report.accepted
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def score_customer_records(*, session: Session, tenant: TenantContext) -> ScoredPairs:
    """Train on and score all customer records, changing nothing (evaluation, dry runs)."""
    return score_records(store.load_records(session, tenant), options=_options(tenant))


def match_new_records(
    *, session: Session, tenant: TenantContext, refs: Sequence[tuple[str, str]]
) -> MatchRunReport:
    """Score arriving customer records (source, external_id) against their blocks."""
    started = time.perf_counter()
    report = MatchRunReport()
    found = store.latest_model(session, tenant)
    if found is None:
        report.skipped = "no trained model: run `siyu identity match` first"
        return report
    model_id, model = found
    options = _options(tenant)
    if model.labels != tuple(c.labels for c in options.comparisons):
        # Comparisons changed since (a new version): the model's m and u do not fit them.
        report.skipped = "the trained model predates these comparisons: run `siyu identity match`"
        return report
    lock_tenant(session, tenant.id)
    seqs = sorted(seq for seq, _oneid in store.customer_links_of(session, tenant, refs).values())
    arriving = store.load_records(session, tenant, seqs=seqs)
    keys = record_block_keys(arriving, options, model.places)
    store.replace_keys(session, tenant, keys, seqs=seqs)
    members = store.block_members(
        session, tenant, (k for _s, k in keys), max_block=options.max_block
    )
    records = store.load_records(session, tenant, seqs=sorted(members | set(seqs)))
    report.records = records.num_rows
    scored = score_records(records, model=model, new_rids=seqs, options=options)
    report.candidates, report.scored, report.model_id = (
        scored.candidates,
        scored.pairs.num_rows,
        model_id,
    )
    proposals = _proposals(session, tenant, scored, options)
    _apply(session, tenant, proposals, report, actor="online")
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _options(tenant: TenantContext) -> MatchOptions:
    return MatchOptions(max_block=tenant.settings.identity.matching.max_block)


def _persons(oneids: Sequence[str]) -> int:
    return len(set(oneids))


def _proposals(
    session: Session,
    tenant: TenantContext,
    scored: ScoredPairs,
    options: MatchOptions,
    *,
    accept: float | None = None,
    review: float | None = None,
) -> list[Proposal]:
    rules = tenant.settings.identity.matching
    decided = store.decided_pairs(session, tenant)
    cannot = store.cannot_link_pairs(session, tenant)
    seqs = {s for pair in (*decided, *cannot) for s in pair}
    oneid = store.current_oneids(session, tenant, seqs)
    forbidden = {person_pair(oneid[a], oneid[b]) for a, b in cannot if a in oneid and b in oneid}
    in_review: set[PersonPair] = {
        person_pair(oneid[a], oneid[b]) for (a, b), status in decided.items() if status == "review"
    }
    return propose(
        scored,
        accept=rules.accept_probability if accept is None else accept,
        review=rules.review_probability if review is None else review,
        options=options,
        # A pair waiting for review may still be accepted by a run (then it is updated).
        decided={pair for pair, status in decided.items() if status != "review"},
        forbidden=forbidden,
        in_review=in_review,
    )


def _apply(
    session: Session,
    tenant: TenantContext,
    proposals: Sequence[Proposal],
    report: MatchRunReport,
    *,
    actor: str,
) -> None:
    """Store the proposals as match links; merge the accepted ones."""
    accepted = store.insert_links(session, tenant, proposals, model_id=report.model_id, actor=actor)
    merged = merge_links(session, tenant, accepted, actor=actor)
    report.accepted += len(accepted)
    report.merged += sum(merged)
    report.blocked += len(merged) - sum(merged)
    report.review += len(proposals) - len(accepted)
    report.obsolete += close_obsolete_reviews(session, tenant)


def merge_links(
    session: Session, tenant: TenantContext, links: Sequence[store.Accepted], *, actor: str
) -> list[bool]:
    """Join the records of accepted matches through the identity machinery (shared key,
    replay, guards); per link whether its records are now one person."""
    before = store.current_oneids(session, tenant, [s for x in links for s in (x.seq_a, x.seq_b)])
    for part in chunks(list(links), MERGE_CHUNK):
        add_match_keys(session, tenant.id, [(x.id, x.seq_a, x.seq_b) for x in part])
        seeds = store.current_oneids(session, tenant, [s for x in part for s in (x.seq_a, x.seq_b)])
        identity_service.replay_persons(
            session=session, tenant=tenant, seeds=set(seeds.values()), actor=actor
        )
    after = store.current_oneids(session, tenant, before)
    merged = [after[x.seq_a] == after[x.seq_b] for x in links]
    now = utcnow()
    changes = [
        {
            "tenant_id": tenant.id,
            "action": "match",
            "kept_oneid": after[x.seq_a],
            "retired_oneid": next(
                (before[s] for s in (x.seq_b, x.seq_a) if before[s] != after[s]), None
            ),
            "id_type": MATCH,
            "id_value": str(x.id),
            "link_seq": x.seq_b,
            "actor": actor,
            "detail": {
                "probability": round(x.probability, 6),
                "weight": round(x.weight, 2),
                "rule": x.rule,
                "comparisons": x.comparisons,
            },
            "at": now,
        }
        for x, ok in zip(links, merged, strict=True)
        if ok
    ]
    insert_many(session, IdentityChange, changes)
    return merged


def close_obsolete_reviews(session: Session, tenant: TenantContext) -> int:
    """Review items whose two records became one person some other way."""
    pending = store.links_in_status(session, tenant, "review")
    oneid = store.current_oneids(session, tenant, [s for _i, a, b in pending for s in (a, b)])
    done = [i for i, a, b in pending if oneid.get(a) == oneid.get(b)]
    store.mark(session, tenant, done, status="obsolete", actor="system")
    return len(done)
