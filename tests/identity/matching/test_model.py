"""The Fellegi–Sunter model: EM recovers m and u, weights, priors, term frequencies."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.identity.matching.model import (
    FSModel,
    estimate_prior,
    expectation_maximisation,
    initial_m,
    level_frequencies,
    partial_weights,
    prior_bits,
    probability,
    weight_of,
)

SIZES = (3, 4, 2, 3)
TRUE_M = [
    np.array([0.85, 0.10, 0.05]),
    np.array([0.70, 0.20, 0.05, 0.05]),
    np.array([0.95, 0.05]),
    np.array([0.60, 0.30, 0.10]),
]
TRUE_U = [
    np.array([0.01, 0.09, 0.90]),
    np.array([0.02, 0.08, 0.20, 0.70]),
    np.array([0.50, 0.50]),
    np.array([0.05, 0.15, 0.80]),
]


def synthetic(n: int, lam: float, seed: int, missing: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Comparison vectors drawn from the mixture; some fields not comparable (-1)."""
    rng = np.random.default_rng(seed)
    match = rng.random(n) < lam
    gamma = np.empty((n, len(SIZES)), dtype=np.int8)
    for k, size in enumerate(SIZES):
        gamma[match, k] = rng.choice(size, size=match.sum(), p=TRUE_M[k])
        gamma[~match, k] = rng.choice(size, size=(~match).sum(), p=TRUE_U[k])
        gamma[rng.random(n) < missing, k] = -1
    return gamma, match


def test_em_recovers_m_and_u_and_the_match_share() -> None:
    gamma, match = synthetic(200_000, lam=0.2, seed=1)
    flat_u = [np.full(size, 1 / size) for size in SIZES]
    result = expectation_maximisation(
        gamma, sizes=SIZES, m=initial_m(SIZES), u=flat_u, lam=0.5, fix_u=False
    )
    assert result.lam == pytest.approx(match.mean(), abs=0.01)
    for k in range(len(SIZES)):
        assert np.abs(result.m[k] - TRUE_M[k]).max() < 0.02, k
        assert np.abs(result.u[k] - TRUE_U[k]).max() < 0.02, k


def test_em_with_u_from_random_pairs_recovers_m() -> None:
    # Splink's recipe: u from (almost all non-matching) random pairs, then m by EM.
    random_pairs, _ = synthetic(100_000, lam=0.0005, seed=2)
    u = level_frequencies(random_pairs, SIZES)
    for k in range(len(SIZES)):
        assert np.abs(u[k] - TRUE_U[k]).max() < 0.01
    blocked, _ = synthetic(50_000, lam=0.4, seed=3)
    result = expectation_maximisation(gamma=blocked, sizes=SIZES, m=initial_m(SIZES), u=u)
    assert result.lam == pytest.approx(0.4, abs=0.02)
    for k in range(len(SIZES)):
        assert np.abs(result.m[k] - TRUE_M[k]).max() < 0.03, k
        assert np.array_equal(result.u[k], u[k])  # fixed


def test_inactive_comparisons_are_left_out_of_em() -> None:
    gamma, _ = synthetic(20_000, lam=0.3, seed=4)
    gamma[:, 0] = 0  # a blocking rule on field 0: every pair agrees there
    start = initial_m(SIZES)
    result = expectation_maximisation(
        gamma, sizes=SIZES, m=start, u=TRUE_U, active=[False, True, True, True]
    )
    assert np.array_equal(result.m[0], start[0])
    assert result.lam == pytest.approx(0.3, abs=0.03)


def test_match_counts_pool_evidence_across_fits() -> None:
    gamma, match = synthetic(30_000, lam=0.5, seed=5)
    result = expectation_maximisation(gamma, sizes=SIZES, m=initial_m(SIZES), u=TRUE_U)
    comparable = (gamma[match, 2] >= 0).sum()
    assert result.match_counts[2].sum() == pytest.approx(comparable, rel=0.03)


def model_of(prior: float) -> FSModel:
    return FSModel(
        names=("a", "b", "c", "d"),
        labels=(("x", "y", "z"), ("x", "y", "z", "w"), ("x", "y"), ("x", "y", "z")),
        m=TRUE_M,
        u=TRUE_U,
        prior=prior,
        tf={},
        tf_levels={"a": (0,)},
    )


def test_weights_are_sums_of_log_likelihood_ratios() -> None:
    model = model_of(0.01)
    gamma = np.array([[0, 0, 0, 0], [2, 3, 1, 2], [-1, -1, -1, -1]], dtype=np.int8)
    partial = partial_weights(model, gamma)
    expected_first = sum(np.log2(TRUE_M[k][0] / TRUE_U[k][0]) for k in range(4))
    assert partial[0].sum() == pytest.approx(expected_first)
    assert partial[1].sum() < 0 < partial[0].sum()
    assert (partial[2] == 0).all()  # nothing comparable: no evidence either way
    weights = prior_bits(model.prior) + partial.sum(axis=1)
    assert probability(weights)[2] == pytest.approx(0.01)
    assert probability(np.array([weight_of(0.9)]))[0] == pytest.approx(0.9)


def test_term_frequency_replaces_u_of_agreeing_levels() -> None:
    model = model_of(0.01)
    gamma = np.array([[0, -1, -1, -1], [0, -1, -1, -1], [1, -1, -1, -1]], dtype=np.int8)
    # a common value (10% of people) and a rare one (0.01%); level 1 is not adjusted
    tf = {"a": np.array([0.1, 0.0001, 0.5])}
    partial = partial_weights(model, gamma, tf)
    assert partial[0, 0] == pytest.approx(np.log2(0.85 / 0.1))
    assert partial[1, 0] == pytest.approx(np.log2(0.85 / 0.0001))
    assert partial[2, 0] == pytest.approx(np.log2(0.10 / 0.09))


def test_model_round_trips_through_json() -> None:
    model = model_of(0.002)
    model.tf = {"name_full_py": {"abc": 0.01, "*": 0.0001}}
    model.places = {"S001": ["上海市", "上海市"]}
    again = FSModel.from_json(model.to_json())
    assert again.prior == model.prior and again.tf == model.tf and again.places == model.places
    assert all(np.array_equal(a, b) for a, b in zip(again.m, model.m, strict=True))


def test_prior_counts_known_and_expected_matches() -> None:
    # 1,000 records: 300 pairs already one person, and 200 candidate pairs that are
    # certain (huge Bayes factor) plus 10,000 hopeless ones.
    bayes = np.concatenate([np.full(200, 60.0), np.full(10_000, -60.0)])
    prior = estimate_prior(bayes, known_matches=300, total_pairs=1000 * 999 // 2)
    assert prior == pytest.approx(500 / (1000 * 999 / 2), rel=1e-6)
