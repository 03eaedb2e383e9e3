"""From scored record pairs to proposals: one per pair of persons, accept or review.

Persons, not records, merge. Two persons are compared on the evidence of all their scored
record pairs: for each field, the pair that agrees best on it (the name from one record,
the masked phone from another), so a person's records pool what each knows — including a
disagreement no record pair could avoid (two different full phones). Pairs of persons
someone already decided on are left out: a rejected pair is a cannot-link.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from siyu.identity.matching.model import prior_bits, probability, weight_of
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


@dataclass(frozen=True)
class Merge:
    """Two clusters of persons joined: the best-scored pair of persons between them (its
    index in `PersonPairs`) and the evidence pooled over every pair between the clusters."""

    pair: int
    weight: float
    probability: float


@dataclass(frozen=True)
class Clustering:
    merges: list[Merge]  # in the order made, strongest first
    # Pairs of final clusters still above the lower threshold: (best person pair, pooled).
    left: list[Merge]


def cluster(
    persons: PersonPairs,
    partial: np.ndarray,
    prior: float,
    *,
    accept: float,
    keep: float | None = None,
    forbidden: Collection[PersonPair] = (),
) -> Clustering:
    """Join persons into clusters, strongest evidence first, while the evidence between two
    clusters — for each field, the best agreement over all their persons' pairs — reaches
    `accept`.

    A weak record that resembles two persons joins one: the pair of clusters that would
    chain them is scored as a whole, so the two persons' own disagreement (two different
    phones, addresses) counts against it, and a person's records pool what each of them
    knows. `keep`: also return the pairs of final clusters from this probability up (for
    review). Clusters a `forbidden` pair would join stay apart."""
    n_pairs, n_fields = persons.source.shape
    # One row per pair of clusters (at first, of persons): pooled evidence per field (NaN:
    # no pair could compare it), its weight and its best-scored pair of persons. A merge
    # folds rows together; no row is ever created.
    evidence = np.full((n_pairs, n_fields), np.nan)
    rows, cols = np.nonzero(persons.source >= 0)
    evidence[rows, cols] = partial[persons.source[rows, cols], cols]
    base = prior_bits(prior)
    weight = persons.weight.astype(float).copy()
    best = np.arange(n_pairs)
    alive = np.ones(n_pairs, dtype=bool)
    names, ids = np.unique(
        np.asarray([*persons.oneid_a, *persons.oneid_b], dtype=object).astype(str),
        return_inverse=True,
    )
    ends = list(zip(ids[:n_pairs].tolist(), ids[n_pairs:].tolist(), strict=True))
    edges: dict[int, dict[int, int]] = {i: {} for i in range(len(names))}
    for row, (a, b) in enumerate(ends):  # cluster -> neighbour cluster -> row
        edges[a][b] = edges[b][a] = row
    members: dict[int, list[int]] = {i: [i] for i in range(len(names))}
    index = {str(name): i for i, name in enumerate(names.tolist())} if forbidden else {}
    banned = {(index[a], index[b]) for a, b in forbidden if a in index and b in index}
    banned |= {(b, a) for a, b in banned}
    accept_bits = _bits(accept)
    heap = [(-float(weight[r]), r) for r in np.flatnonzero(weight >= accept_bits).tolist()]
    heapq.heapify(heap)
    merges: list[Merge] = []
    while heap:
        neg, row = heapq.heappop(heap)
        if not alive[row] or weight[row] != -neg:
            continue  # stale: the row was folded or re-pooled since
        a, b = ends[row]
        if banned and any((x, y) in banned for x in members[a] for y in members[b]):
            continue
        merges.append(Merge(int(best[row]), -neg, _probability(-neg)))
        alive[row] = False
        if len(edges[a]) < len(edges[b]):
            a, b = b, a  # fold the smaller neighbourhood into the larger one
        members[a] += members.pop(b)
        del edges[a][b]
        mine, theirs = [], []
        for x, r in edges.pop(b).items():
            if x == a:
                continue
            del edges[x][b]
            if x in edges[a]:
                mine.append(edges[a][x])
                theirs.append(r)
                alive[r] = False
            else:  # the row moves over to `a`, unchanged
                edges[a][x] = edges[x][a] = r
                ends[r] = (a, x)
        if mine:
            keep_rows, gone = np.array(mine), np.array(theirs)
            evidence[keep_rows] = np.fmax(evidence[keep_rows], evidence[gone])
            weight[keep_rows] = base + np.nansum(evidence[keep_rows], axis=1)
            better = persons.weight[best[gone]] > persons.weight[best[keep_rows]]
            best[keep_rows[better]] = best[gone[better]]
            for r in keep_rows[weight[keep_rows] >= accept_bits].tolist():
                heapq.heappush(heap, (-float(weight[r]), r))
    left = []
    if keep is not None:
        for r in np.flatnonzero(alive & (weight >= _bits(keep))).tolist():
            w = float(weight[r])
            left.append(Merge(int(best[r]), w, _probability(w)))
    return Clustering(merges, left)


def _bits(probability_: float) -> float:
    """The weight of a threshold; one no probability reaches (≥ 1) is infinite."""
    if probability_ >= 1:
        return math.inf
    return -math.inf if probability_ <= 0 else weight_of(probability_)


def _probability(weight: float) -> float:
    return float(probability(np.array([weight]))[0])


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
    """Proposals, most likely first: an accept for each join of two clusters of persons
    (see `cluster`) at `accept`, then one for review per pair of final clusters whose
    pooled probability reaches `review`.

    `decided`: record pairs with a match link already; `forbidden`: person pairs a
    cannot-link keeps apart; `in_review`: person pairs already waiting for review (only
    an accept is proposed for them)."""
    options = options or MatchOptions()
    persons = person_pairs(scored)
    joins = cluster(
        persons,
        scored.partial,
        scored.model.prior,
        accept=accept,
        keep=review,
        forbidden=forbidden,
    )
    pairs = scored.pairs
    rid_l, rid_r = pairs.column("rid_l").to_pylist(), pairs.column("rid_r").to_pylist()
    oneid_l, oneid_r = pairs.column("oneid_l").to_pylist(), pairs.column("oneid_r").to_pylist()
    rules = pairs.column("rule").to_pylist()
    gammas = [pairs.column(f"g_{c.name}").to_pylist() for c in options.comparisons]
    reviews = sorted(joins.left, key=lambda m: -m.weight)
    proposals = []
    for merge, accepted in [(m, True) for m in joins.merges] + [(m, False) for m in reviews]:
        g = merge.pair
        key = (persons.oneid_a[g], persons.oneid_b[g])
        i = int(persons.best[g])
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
                weight=merge.weight,
                probability=merge.probability,
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
