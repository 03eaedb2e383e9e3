"""The Fellegi–Sunter model: m and u probabilities per comparison level, fitted by EM.

For a pair of records, m = P(level | same person) and u = P(level | different persons).
The match weight is log2 of the prior odds plus the sum of log2(m/u) over the comparisons
the pair can be compared on; the match probability is 2^w / (1 + 2^w). u is estimated from
random pairs (almost all non-matches); m by expectation–maximisation over blocked pairs,
as Splink does. Pure numpy: no store, no engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLOOR = 1e-6  # no level is impossible, not even among non-matches
# A field is wrong on one record in a thousand (a typo, a stale value): no single
# disagreement among matches is rarer, so none vetoes a pair outright (at most ~10 bits).
M_FLOOR = 1e-3


@dataclass
class FSModel:
    """m and u per comparison level, and the prior probability that two records match."""

    names: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float
    # Term frequencies: feature column -> (md5 of a value -> its frequency), for values seen
    # at least twice; tf_levels: comparison -> the levels those frequencies adjust.
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    tf_levels: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Stores' places learnt from the records (store_id -> [province, city]).
    places: dict[str, list[str]] = field(default_factory=dict)

    def bayes_bits(self) -> list[np.ndarray]:
        """log2(m/u) per comparison level."""
        return [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "labels": [list(ls) for ls in self.labels],
            "m": [m.tolist() for m in self.m],
            "u": [u.tolist() for u in self.u],
            "prior": self.prior,
            "tf": self.tf,
            "tf_levels": {k: list(v) for k, v in self.tf_levels.items()},
            "places": self.places,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FSModel:
        return cls(
            names=tuple(data["names"]),
            labels=tuple(tuple(ls) for ls in data["labels"]),
            m=[np.asarray(m, dtype=float) for m in data["m"]],
            u=[np.asarray(u, dtype=float) for u in data["u"]],
            prior=float(data["prior"]),
            tf={k: dict(v) for k, v in data.get("tf", {}).items()},
            tf_levels={k: tuple(v) for k, v in data.get("tf_levels", {}).items()},
            places={k: list(v) for k, v in data.get("places", {}).items()},
        )


def normalised(values: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    """Probabilities from (weighted) counts, none below `floor`."""
    values = np.maximum(values / max(float(values.sum()), 1e-300), floor)
    return np.asarray(values / values.sum())


def level_frequencies(
    gamma: np.ndarray, sizes: Sequence[int], weights: np.ndarray | None = None
) -> list[np.ndarray]:
    """(Weighted) share of each level among the pairs that can be compared, per comparison
    (u from random pairs). Unseen levels get half a count: rare is not impossible."""
    result = []
    for k, size in enumerate(sizes):
        column = gamma[:, k]
        seen = column >= 0
        counts = np.bincount(
            column[seen], weights=None if weights is None else weights[seen], minlength=size
        )[:size].astype(float)
        result.append(normalised((counts + 0.5) / (counts.sum() + 0.5 * size)))
    return result


@dataclass
class EMResult:
    m: list[np.ndarray]
    u: list[np.ndarray]
    lam: float  # share of matches among the pairs fitted
    iterations: int
    # Expected number of matching pairs at each level (what m was normalised from): lets
    # fits over several sets of pairs be pooled by evidence rather than averaged.
    match_counts: list[np.ndarray] = field(default_factory=list)


def expectation_maximisation(
    gamma: np.ndarray,
    *,
    sizes: Sequence[int],
    m: Sequence[np.ndarray],
    u: Sequence[np.ndarray],
    lam: float = 0.3,
    active: Sequence[bool] | None = None,
    fix_u: bool = True,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> EMResult:
    """Fit m (and u unless `fix_u`) and the match share by EM over comparison vectors.

    Inactive comparisons (those a blocking rule forces to agree) are left out entirely;
    their m and u come back unchanged."""
    active = [True] * len(sizes) if active is None else list(active)
    cols = [k for k, on in enumerate(active) if on]
    m = [np.array(x, dtype=float) for x in m]
    u = [np.array(x, dtype=float) for x in u]
    counts_m = [np.zeros(size) for size in sizes]
    if gamma.shape[0] == 0 or not cols:
        return EMResult(m, u, lam, 0, counts_m)
    # Identical comparison vectors share one posterior: fit over distinct patterns.
    patterns, counts = np.unique(gamma[:, cols], axis=0, return_counts=True)
    counts = counts.astype(float)
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported back
        log_m = np.zeros(len(patterns))
        log_u = np.zeros(len(patterns))
        for j, k in enumerate(cols):
            levels = patterns[:, j]
            seen = levels >= 0
            log_m[seen] += np.log(m[k][levels[seen]])
            log_u[seen] += np.log(u[k][levels[seen]])
        logit = np.log(lam) - np.log1p(-lam) + log_m - log_u
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        w_match = counts * post
        w_non = counts * (1.0 - post)
        change = 0.0
        new_lam = float(np.clip(w_match.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        change = max(change, abs(new_lam - lam))
        lam = new_lam
        for j, k in enumerate(cols):
            levels = patterns[:, j]
            seen = levels >= 0
            found = np.bincount(levels[seen], weights=w_match[seen], minlength=sizes[k])
            counts_m[k] = found[: sizes[k]].astype(float)
            new_m = normalised(counts_m[k])
            change = max(change, float(np.abs(new_m - m[k]).max()))
            m[k] = new_m
            if not fix_u:
                new_u = normalised(
                    np.bincount(levels[seen], weights=w_non[seen], minlength=sizes[k])[: sizes[k]]
                )
                change = max(change, float(np.abs(new_u - u[k]).max()))
                u[k] = new_u
        if change < tol:
            break
    return EMResult(m, u, lam, iteration, counts_m)


def initial_m(sizes: Sequence[int]) -> list[np.ndarray]:
    """Starting m: matches mostly agree fully, rarely disagree."""
    result = []
    for size in sizes:
        values = np.array([0.9 * 0.5**i for i in range(size)], dtype=float)
        values[-1] = 0.05
        result.append(normalised(values))
    return result


def partial_weights(
    model: FSModel, gamma: np.ndarray, tf_values: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """log2(m/u) of every pair and comparison, (n_pairs, n_comparisons); 0 where a pair
    cannot be compared. A tf-adjusted level uses the agreed value's frequency as its u."""
    bits = model.bayes_bits()
    out = np.zeros(gamma.shape, dtype=float)
    for k, name in enumerate(model.names):
        levels = gamma[:, k]
        seen = levels >= 0
        out[seen, k] = bits[k][levels[seen]]
        tf = (tf_values or {}).get(name)
        if tf is None:
            continue
        adjust = seen & ~np.isnan(tf) & np.isin(levels, model.tf_levels.get(name, ()))
        rows = np.flatnonzero(adjust)
        if rows.size:
            m = model.m[k][levels[rows]]
            out[rows, k] = np.log2(m / np.maximum(tf[rows], FLOOR))
    return out


def prior_bits(prior: float) -> float:
    return float(np.log2(prior) - np.log2(1.0 - prior))


def probability(weights: np.ndarray) -> np.ndarray:
    """Match probability from match weights (bits)."""
    return np.asarray(1.0 / (1.0 + np.exp2(-np.clip(weights, -1000, 1000))))


def weight_of(probability_: float) -> float:
    """The match weight (bits) at which the match probability is `probability_`."""
    return float(np.log2(probability_) - np.log2(1.0 - probability_))


def estimate_prior(
    bayes_bits: np.ndarray, *, known_matches: int, total_pairs: int, max_iter: int = 100
) -> float:
    """P(two random records match), as the fixed point of: (pairs already one person +
    expected matches among the other candidate pairs) / all pairs. Pairs no blocking rule
    made are taken as non-matches."""
    total = max(total_pairs, 1)
    prior = max(known_matches, 1) / total
    for _ in range(max_iter):
        expected = probability(prior_bits(prior) + bayes_bits).sum()
        new = float(np.clip((known_matches + expected) / total, 1e-12, 0.5))
        if abs(new - prior) <= 1e-9 * max(prior, 1e-12):
            return new
        prior = new
    return prior
