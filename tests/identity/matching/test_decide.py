"""Clustering persons on pooled evidence: no chains through a weak record, pooled gains."""

from __future__ import annotations

import numpy as np

from siyu.identity.matching.decide import PersonPairs, cluster
from siyu.identity.matching.model import prior_bits, probability

PRIOR = 1 / (1 + 2.0**10)  # -10 bits


def persons(
    pairs: list[tuple[str, str]], partial: list[list[float | None]]
) -> tuple[PersonPairs, np.ndarray]:
    """One record pair per pair of persons; None: the field could not be compared."""
    evidence = np.array([[0.0 if x is None else x for x in row] for row in partial])
    source = np.array([[i if x is not None else -1 for x in row] for i, row in enumerate(partial)])
    weight = prior_bits(PRIOR) + evidence.sum(axis=1)
    return PersonPairs(
        oneid_a=[a for a, _b in pairs],
        oneid_b=[b for _a, b in pairs],
        weight=weight,
        probability=probability(weight),
        best=np.arange(len(pairs)),
        source=source,
    ), evidence


def test_a_weak_record_like_two_persons_joins_only_one() -> None:
    # W (a name only) resembles A and B; A and B share the name but not the phone.
    found, partial = persons(
        [("A", "W"), ("B", "W"), ("A", "B")],
        [[14.0, None], [13.0, None], [14.0, -10.0]],
    )
    # Pair by pair, A–W and B–W both pass 0.5 and would chain A to B.
    assert (found.probability[:2] >= 0.5).all()
    result = cluster(found, partial, PRIOR, accept=0.5, keep=0.01)
    assert [m.pair for m in result.merges] == [0]
    # {A, W} against B: the name from W, the phones from A — they disagree.
    [left] = result.left
    assert left.weight == -10 + 14 - 10 and left.probability < 0.5


def test_a_cluster_pools_what_its_persons_know() -> None:
    # P and Q are one person; R agrees with P on one field and with Q on another.
    found, partial = persons(
        [("P", "Q"), ("P", "R"), ("Q", "R")],
        [[15.0, None], [None, 7.0], [6.0, None]],
    )
    assert (found.probability[1:] < 0.5).all()
    result = cluster(found, partial, PRIOR, accept=0.5)
    assert [m.pair for m in result.merges] == [0, 1]
    assert result.merges[1].weight == -10 + 6 + 7


def test_forbidden_pairs_keep_clusters_apart() -> None:
    found, partial = persons([("A", "W"), ("B", "W")], [[14.0, None], [13.0, None]])
    assert len(cluster(found, partial, PRIOR, accept=0.5).merges) == 2
    result = cluster(found, partial, PRIOR, accept=0.5, forbidden=[("A", "B")])
    assert [m.pair for m in result.merges] == [0]
