"""BG/NBD (Fader, Hardie & Lee 2005): purchases while alive ~ Poisson(λ), λ ~ Gamma(r, α);
after each purchase the customer drops out with probability p, p ~ Beta(a, b).

x = repeat purchases, t_x = recency, T = age, all in the summary's time unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, gammaln

from siyu.clv.special import hyp2f1_safe

Floats = NDArray[np.float64]
NAMES = ("r", "alpha", "a", "b")
_NEAR_ONE = 1e-6


def log_likelihood(params: Floats, data: Sequence[Floats]) -> Floats:
    """Per-customer log-likelihood (FHL 2005, eq. 6) for data (x, t_x, T)."""
    r, alpha, a, b = params
    x, t_x, age = data
    repeat = x > 0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + age)
    # log(b + x - 1) only where x > 0 (b may be below 1).
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x)
    return np.asarray(a1 + a2 + np.logaddexp(a3, np.where(repeat, a4, -np.inf)), np.float64)


def _log_odds_dead(params: Floats, x: Floats, t_x: Floats, age: Floats) -> Floats:
    """log[(a / (b + x - 1)) ((α + T) / (α + t_x))^(r + x)]; -inf when x = 0."""
    r, alpha, a, b = params
    term = (
        np.log(a)
        - np.log(b + np.maximum(x, 1) - 1)
        + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
    )
    return np.asarray(np.where(x > 0, term, -np.inf), np.float64)


def p_alive(params: Floats, x: Floats, t_x: Floats, age: Floats) -> Floats:
    """P(still alive at T | x, t_x, T) (FHL 2005, eq. 13 via Fader et al.'s note)."""
    return np.asarray(expit(-_log_odds_dead(params, x, t_x, age)), np.float64)


def expected_purchases(
    params: Floats, horizon: float, x: Floats, t_x: Floats, age: Floats
) -> Floats:
    """E[purchases in (T, T + horizon] | x, t_x, T] (FHL 2005, eq. 10).

    The Gauss hypergeometric term is taken through Euler's transformation,
    (1 - z)^(r + x) 2F1(r + x, b + x; c; z) = (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; c; z)
    with c = a + b + x - 1, whose first two arguments no longer grow with x: the textbook
    form overflows for heavy buyers over long horizons. At a = 1 the closed form is 0/0;
    there it is the mean of a = 1 ± 1e-6 (the first-order errors cancel).
    """
    a = params[2]
    if abs(a - 1) >= _NEAR_ONE:
        return _expected(params, horizon, x, t_x, age)
    below, above = params.copy(), params.copy()
    below[2], above[2] = 1 - _NEAR_ONE, 1 + _NEAR_ONE
    pair = _expected(below, horizon, x, t_x, age), _expected(above, horizon, x, t_x, age)
    return np.asarray((pair[0] + pair[1]) / 2, np.float64)


def _expected(params: Floats, horizon: float, x: Floats, t_x: Floats, age: Floats) -> Floats:
    r, alpha, a, b = params
    c = a + b + x - 1
    z = horizon / (alpha + age + horizon)
    transformed = (1 - z) ** (a - 1) * hyp2f1_safe(a + b - 1 - r, a - 1, c, z)
    numerator = c / (a - 1) * (1 - transformed)
    return np.asarray(numerator * p_alive(params, x, t_x, age), np.float64)
