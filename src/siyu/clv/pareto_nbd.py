"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases while alive ~ Poisson(λ),
λ ~ Gamma(r, α); lifetime ~ Exponential(μ), μ ~ Gamma(s, β).

The likelihood follows Fader & Hardie's notes ("A Note on Deriving the Pareto/NBD Model and
Related Expressions", 2005; "Implementing the Pareto/NBD Model", 2004), worked in logs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, gammaln

from siyu.clv.special import hyp2f1_one

Floats = NDArray[np.float64]
NAMES = ("r", "alpha", "s", "beta")


def _log_a0(params: Floats, x: Floats, t_x: Floats, age: Floats) -> Floats:
    """log A0, where (s / (r + s + x)) A0 = s ∫_{t_x}^{T} (α + τ)^-(r + x) (β + τ)^-(s + 1) dτ.

    A0 = F(t_x) - F(T), F(t) = 2F1(r+s+x, k; r+s+x+1; z(t)) / (m + t)^(r+s+x), with
    m = max(α, β), z(t) = |α - β| / (m + t) ∈ [0, 1), k = s + 1 if α ≥ β else r + x.
    Near z = 1 with many purchases that 2F1 overflows; Euler's transformation gives
    2F1(n, k; n + 1; z) = (1 - z)^(1 - k) 2F1(1, n + 1 - k; n + 1; z), which stays finite in
    logs and has a convergent continued fraction (`special.hyp2f1_one`); the difference
    F(t_x) - F(T) is taken in logs (log1mexp), so it never cancels to a negative number.
    """
    r, alpha, s, beta = params
    n = r + s + x
    high = max(alpha, beta)
    k = s + 1 if alpha >= beta else r + x
    gap = abs(alpha - beta)

    def log_f(t: Floats) -> Floats:
        z = gap / (high + t)
        return np.asarray(
            (1 - k) * np.log1p(-z) + np.log(hyp2f1_one(n + 1 - k, n + 1, z)) - n * np.log(high + t),
            np.float64,
        )

    upper, lower = log_f(t_x), log_f(age)
    ratio = np.minimum(lower - upper, 0.0)  # F is decreasing: F(T) ≤ F(t_x)
    with np.errstate(divide="ignore"):
        return np.asarray(upper + np.log(-np.expm1(ratio)), np.float64)


def log_likelihood(params: Floats, data: Sequence[Floats]) -> Floats:
    """Per-customer log-likelihood for data (x, t_x, T)."""
    r, alpha, s, beta = params
    x, t_x, age = data
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    died = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, age)
    return np.asarray(head + np.logaddexp(alive, died), np.float64)


def p_alive(params: Floats, x: Floats, t_x: Floats, age: Floats) -> Floats:
    """P(still alive at T | x, t_x, T) = 1 / (1 + (s / (r+s+x)) (α+T)^(r+x) (β+T)^s A0)."""
    r, alpha, s, beta = params
    log_odds = (
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + age)
        + s * np.log(beta + age)
        + _log_a0(params, x, t_x, age)
    )
    return np.asarray(expit(-log_odds), np.float64)


def expected_purchases(
    params: Floats, horizon: float, x: Floats, t_x: Floats, age: Floats
) -> Floats:
    """E[purchases in (T, T + horizon] | x, t_x, T]
    = P(alive) (r + x)(β + T) / ((α + T)(s - 1)) [1 - ((β + T) / (β + T + horizon))^(s - 1)].

    The bracket over (s - 1) is computed as -expm1((s - 1) log u) / (s - 1), which tends to
    -log u at s = 1 instead of 0/0.
    """
    r, alpha, s, beta = params
    log_u = np.log(beta + age) - np.log(beta + age + horizon)
    decay = -log_u if abs(s - 1) < 1e-9 else -np.expm1((s - 1) * log_u) / (s - 1)
    rate = (r + x) * (beta + age) / (alpha + age)
    return np.asarray(rate * decay * p_alive(params, x, t_x, age), np.float64)
