"""From scored record pairs to proposals: one per pair of persons, accept or review.

Persons, not records, merge. Two persons are compared on the evidence of all their scored
record pairs: for each field, the pair that agrees best on it (the name from one record,
the masked phone from another), so a person's records pool what each knows — including a
disagreement no record pair could avoid (two different full phones). Pairs of persons
someone already decided on are left out: a rejected pair is a cannot-link.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from siyu.identity.matching.model import prior_bits, probability
from siyu.identity.matching.options import MatchOptions
from siyu.identity.matching.pipeline import ScoredPairs

PersonPair = tuple[str, str]


@dataclass(frozen=True)
class PersonPairs:
    """Pooled evidence per pair of persons (arrays aligned by pair of persons)."""

    oneid_a: list[str]  # oneid_a < oneid_b
    oneid_b: list[str]
    weight: np.ndarray
    probability: np.ndarray
    best: np.ndarray  # row (in the scored pairs) of the best-scored record pair
    source: np.ndarray  # (persons, comparisons): row each field's evidence came from, -1 none


@dataclass(frozen=True)
class Proposal:
    seq_a: int  # the best-scored record pair between the persons, seq_a < seq_b
    seq_b: int
    oneid_a: str
    oneid_b: str
    rule: str
    weight: float  # pooled over the persons' record pairs
    probability: float
    accept: bool  # False: for review
    comparisons: dict[str, dict[str, Any]]


def person_pair(a: str, b: str) -> PersonPair:
    return (a, b) if a < b else (b, a)


def person_pairs(scored: ScoredPairs) -> PersonPairs:
    """Group scored record pairs by pair of persons and pool their evidence per field."""
    pairs = scored.pairs
    left = np.asarray(pairs.column("oneid_l").to_pylist(), dtype=object)
    right = np.asarray(pairs.column("oneid_r").to_pylist(), dtype=object)
    low = np.where(left < right, left, right)
    high = np.where(left < right, right, left)
    keys = np.char.add(np.char.add(low.astype(str), "|"), high.astype(str))
    names, group = np.unique(keys, return_inverse=True)
    n_groups, n_comparisons = len(names), scored.partial.shape[1]
    source = np.full((n_groups, n_comparisons), -1, dtype=np.int64)
    pooled = np.zeros(n_groups)
    model = scored.model
    for k, name in enumerate(model.names):
        levels = pairs.column(f"g_{name}").to_numpy().astype(np.int64)
        comparable = np.flatnonzero(levels >= 0)
        # Strongest agreement first (lowest level), per group: the first row of each group.
        order = comparable[np.lexsort((levels[comparable], group[comparable]))]
        groups_seen, first = np.unique(group[order], return_index=True)
        rows = order[first]
        source[groups_seen, k] = rows
        pooled[groups_seen] += scored.partial[rows, k]
    own = pairs.column("weight").to_numpy()
    order = np.lexsort((-own, group))
    groups_seen, first = np.unique(group[order], return_index=True)
    best = np.empty(n_groups, dtype=np.int64)
    best[groups_seen] = order[first]
    weight = prior_bits(model.prior) + pooled
    split = [str(name).split("|", 1) for name in names]
    return PersonPairs(
        oneid_a=[a for a, _b in split],
        oneid_b=[b for _a, b in split],
        weight=weight,
        probability=probability(weight),
        best=best,
        source=source,
    )


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
    """One proposal per pair of persons whose pooled probability reaches `review`, most
    likely first.

    `decided`: record pairs with a match link already; `forbidden`: person pairs a
    cannot-link keeps apart; `in_review`: person pairs already waiting for review (only
    an accept is proposed for them)."""
    options = options or MatchOptions()
    persons = person_pairs(scored)
    pairs = scored.pairs
    rid_l, rid_r = pairs.column("rid_l").to_pylist(), pairs.column("rid_r").to_pylist()
    oneid_l, oneid_r = pairs.column("oneid_l").to_pylist(), pairs.column("oneid_r").to_pylist()
    rules = pairs.column("rule").to_pylist()
    gammas = [pairs.column(f"g_{c.name}").to_pylist() for c in options.comparisons]
    chosen = np.flatnonzero(persons.probability >= review)
    proposals = []
    for g in chosen[np.argsort(-persons.weight[chosen], kind="stable")].tolist():
        key = (persons.oneid_a[g], persons.oneid_b[g])
        i = int(persons.best[g])
        accepted = bool(persons.probability[g] >= accept)
        if (
            key in forbidden
            or (rid_l[i], rid_r[i]) in decided
            or (not accepted and key in in_review)
        ):
            continue
        proposals.append(
            Proposal(
                seq_a=rid_l[i],
                seq_b=rid_r[i],
                oneid_a=oneid_l[i],
                oneid_b=oneid_r[i],
                rule=options.rules[rules[i]].name,
                weight=float(persons.weight[g]),
                probability=float(persons.probability[g]),
                accept=accepted,
                comparisons=_evidence(scored, persons, g, options, gammas, rid_l, rid_r),
            )
        )
    return proposals


def _evidence(
    scored: ScoredPairs,
    persons: PersonPairs,
    g: int,
    options: MatchOptions,
    gammas: list[list[int]],
    rid_l: list[int],
    rid_r: list[int],
) -> dict[str, dict[str, Any]]:
    """Per field: the level reached, its weight in bits and the records that showed it."""
    found: dict[str, dict[str, Any]] = {}
    for k, c in enumerate(options.comparisons):
        row = int(persons.source[g, k])
        if row >= 0:
            found[c.name] = {
                "level": c.labels[gammas[k][row]],
                "bits": round(float(scored.partial[row, k]), 2),
                "records": [rid_l[row], rid_r[row]],
            }
    return found
