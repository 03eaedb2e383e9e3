"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005 "RFM and CLV"; Fader & Hardie 2013):
a customer's transaction values ~ Gamma(p, ν), ν ~ Gamma(q, γ); fitted on customers with
repeat purchases, x = repeat purchases, z̄ = their mean value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

Floats = NDArray[np.float64]
NAMES = ("p", "q", "gamma")


def log_likelihood(params: Floats, data: Sequence[Floats]) -> Floats:
    """Per-customer log density of z̄ given x (x > 0, z̄ > 0)."""
    p, q, gamma = params
    x, mean = data
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(mean)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * mean),
        np.float64,
    )


def expected_spend(params: Floats, x: Floats, mean: Floats) -> Floats:
    """E[value of a transaction | x, z̄] = p (γ + x z̄) / (p x + q - 1).

    For x = 0 this is the population mean p γ / (q - 1) (finite only for q > 1).
    """
    p, q, gamma = params
    return np.asarray(p * (gamma + x * mean) / (p * x + q - 1), np.float64)
