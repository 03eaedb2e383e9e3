"""From scored record pairs to proposals: one per pair of persons, accept or review.

Persons, not records, are what merge: of all the record pairs between two persons only the
best-scored one is proposed (it alone merges them). Pairs and persons someone already
decided on are left out: a rejected pair is a cannot-link, never proposed again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from siyu.identity.matching.pipeline import MatchOptions, ScoredPairs

PersonPair = tuple[str, str]


@dataclass(frozen=True)
class Proposal:
    seq_a: int  # seq_a < seq_b
    seq_b: int
    oneid_a: str
    oneid_b: str
    rule: str
    weight: float
    probability: float
    accept: bool  # False: for review
    comparisons: dict[str, dict[str, Any]]


def person_pair(a: str, b: str) -> PersonPair:
    return (a, b) if a < b else (b, a)


def propose(
    scored: ScoredPairs,
    *,
    accept: float,
    review: float,
    options: MatchOptions | None = None,
    decided: Collection[tuple[int, int]] = (),
    forbidden: Collection[PersonPair] = (),
    in_review: Collection[PersonPair] = (),
) -> list[Proposal]:
    """The best pair per pair of persons scoring at least `review`, best first.

    `decided`: record pairs with a match link already; `forbidden`: person pairs a
    cannot-link keeps apart; `in_review`: person pairs already waiting for review (only
    an accept is proposed for them)."""
    options = options or MatchOptions()
    pairs = scored.pairs
    probability = pairs.column("probability").to_numpy()
    weight = pairs.column("weight").to_numpy()
    order = np.flatnonzero(probability >= review)
    order = order[np.argsort(-weight[order], kind="stable")]
    rid_l, rid_r = pairs.column("rid_l").to_pylist(), pairs.column("rid_r").to_pylist()
    oneid_l, oneid_r = pairs.column("oneid_l").to_pylist(), pairs.column("oneid_r").to_pylist()
    rules = pairs.column("rule").to_pylist()
    gammas = [pairs.column(f"g_{c.name}").to_pylist() for c in options.comparisons]
    seen: set[PersonPair] = set()
    proposals = []
    for i in order.tolist():
        persons = person_pair(oneid_l[i], oneid_r[i])
        accepted = bool(probability[i] >= accept)
        if (
            persons in seen
            or persons in forbidden
            or (rid_l[i], rid_r[i]) in decided
            or (not accepted and persons in in_review)
        ):
            continue
        seen.add(persons)
        proposals.append(
            Proposal(
                seq_a=rid_l[i],
                seq_b=rid_r[i],
                oneid_a=oneid_l[i],
                oneid_b=oneid_r[i],
                rule=options.rules[rules[i]].name,
                weight=float(weight[i]),
                probability=float(probability[i]),
                accept=accepted,
                comparisons={
                    c.name: {
                        "level": c.labels[gammas[k][i]],
                        "bits": round(float(scored.partial[i, k]), 2),
                    }
                    for k, c in enumerate(options.comparisons)
                    if gammas[k][i] >= 0
                },
            )
        )
    return proposals
