"""Training the model from the records themselves: u from random pairs, m by EM, prior."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.identity.matching.blocking import rule_pairs
from siyu.identity.matching.comparisons import comparison_vectors, gamma_matrix
from siyu.identity.matching.model import (
    M_FLOOR,
    FSModel,
    estimate_prior,
    expectation_maximisation,
    initial_m,
    level_frequencies,
    normalised,
    partial_weights,
    prior_bits,
    probability,
)
from siyu.identity.matching.options import MatchOptions

# A comparison fewer matching training pairs than this could show keeps its starting m:
# an estimate from a handful of pairs is noise (every training rule may block on it).
MIN_EVIDENCE = 30.0


def train(
    con: duckdb.DuckDBPyConnection,
    *,
    feats: str,
    options: MatchOptions,
    tf: dict[str, dict[str, float]],
    candidates: tuple[np.ndarray, dict[str, np.ndarray]],
    known_matches: int,
    total_pairs: int,
) -> FSModel:
    """u from random pairs, m by EM per training rule, then the prior and u refined together.

    `candidates` are the comparison vectors (and term frequencies) of the candidate pairs
    in different persons: the pairs whose matches the prior counts."""
    comparisons = options.comparisons
    sizes = [len(c.levels) for c in comparisons]
    ids = con.sql(f"SELECT rid, oneid FROM {feats} ORDER BY rid").to_arrow_table()
    con.register("random_pairs", _random_pairs(ids, options))
    random_gamma = gamma_matrix(
        comparison_vectors(
            con, pairs="random_pairs", feats=feats, comparisons=comparisons, ordered=False
        ),
        comparisons,
    )
    u = level_frequencies(random_gamma, sizes)
    model = FSModel(
        names=tuple(c.name for c in comparisons),
        labels=tuple(c.labels for c in comparisons),
        m=_fit_m(con, feats=feats, options=options, u=u),
        u=u,
        prior=0.0,
        tf=tf,
        tf_levels={
            c.name: tuple(i for i, lvl in enumerate(c.levels) if lvl.tf)
            for c in comparisons
            if any(lvl.tf for lvl in c.levels)
        },
    )
    gamma, tf_values = candidates
    for _ in range(3):
        model.prior = estimate_prior(
            partial_weights(model, gamma, tf_values).sum(axis=1),
            known_matches=known_matches,
            total_pairs=total_pairs,
        )
        # The random sample still holds a few matches the strong identifiers missed; they
        # are most of its rarest agreements (a masked phone). Weight each pair by its
        # chance of being a non-match, so u describes non-matches.
        chance = probability(prior_bits(model.prior) + partial_weights(model, random_gamma).sum(1))
        model.u = level_frequencies(random_gamma, sizes, weights=1.0 - chance)
    model.prior = estimate_prior(
        partial_weights(model, gamma, tf_values).sum(axis=1),
        known_matches=known_matches,
        total_pairs=total_pairs,
    )
    return model


def _fit_m(
    con: duckdb.DuckDBPyConnection, *, feats: str, options: MatchOptions, u: list[np.ndarray]
) -> list[np.ndarray]:
    """m by EM over each training rule's pairs (u fixed), pooled over the rules by the
    expected matching pairs each saw at each level."""
    comparisons = options.comparisons
    sizes = [len(c.levels) for c in comparisons]
    pooled = [np.zeros(size) for size in sizes]
    for rule in options.training:
        pairs = rule_pairs(
            con, feats=feats, rule=rule, max_block=options.max_block, limit=options.training_pairs
        )
        con.register("rule_pairs", pairs)
        gamma = gamma_matrix(
            comparison_vectors(
                con, pairs="rule_pairs", feats=feats, comparisons=comparisons, ordered=False
            ),
            comparisons,
        )
        # A comparison the rule's key reads agrees on every pair the rule makes: it says
        # nothing about matches there, so it sits out this rule's EM.
        active = [not (c.uses & set(rule.columns)) for c in comparisons]
        result = expectation_maximisation(
            gamma, sizes=sizes, m=initial_m(sizes), u=u, active=active, fix_u=True
        )
        for k, on in enumerate(active):
            if on:
                pooled[k] += result.match_counts[k]
    start = initial_m(sizes)
    return [
        normalised(pooled[k], M_FLOOR) if pooled[k].sum() >= MIN_EVIDENCE else start[k]
        for k in range(len(sizes))
    ]


def _random_pairs(ids: pa.Table, options: MatchOptions) -> pa.Table:
    """Random record pairs of different persons (reproducible from the seed)."""
    rids = ids.column("rid").to_numpy()
    n = len(rids)
    count = min(options.random_pairs, n * (n - 1) // 2)
    rng = np.random.default_rng(options.seed)
    i = rng.integers(0, max(n, 1), size=count)
    j = rng.integers(0, max(n - 1, 1), size=count)
    j = j + (j >= i)  # never a record with itself
    # Pairs already one person are known matches: leaving them out keeps u about
    # non-matches (they would dominate the rarest agreement levels).
    persons = pc.dictionary_encode(ids.column("oneid")).combine_chunks().indices.to_numpy()
    keep = persons[i] != persons[j]
    i, j = i[keep], j[keep]
    return pa.table({"rid_l": np.minimum(rids[i], rids[j]), "rid_r": np.maximum(rids[i], rids[j])})


def pairs_within_persons(records: pa.Table) -> int:
    """Record pairs already one person (known matches)."""
    counts = pc.value_counts(records.column("oneid")).field("counts").to_numpy()
    return int((counts * (counts - 1) // 2).sum())
