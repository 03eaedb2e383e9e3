"""Gauss's hypergeometric function where scipy's fails, against the plain power series."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1

from siyu.clv.special import hyp2f1_one, hyp2f1_safe


def series(a: float, b: float, c: float, z: float) -> float:
    """Σ (a)_k (b)_k / ((c)_k k!) z^k, summed until the terms stop mattering (|z| < 1)."""
    term = total = 1.0
    for k in range(5_000_000):
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        if abs(term) < 1e-17 * abs(total):
            return total
    raise AssertionError("series did not converge")


@pytest.mark.parametrize(
    ("b", "c", "z"),
    [
        (183.27384690830814, 184.39642467568015, 0.9994709780457209),  # scipy: nan
        (174.8103487655095, 176.24244229591866, 0.9995563624028387),  # scipy: inf
        (161.152638375758, 168.22087666002005, 0.9996825022917696),  # scipy: 2e-6 off
        (1.5, 3.2, 0.3),
        (40.0, 41.0, 0.99999),
    ],
)
def test_hyp2f1_one_near_one(b: float, c: float, z: float) -> None:
    assert hyp2f1_one(b, c, z) == pytest.approx(series(1.0, b, c, z), rel=1e-11)


def test_hyp2f1_safe_where_c_minus_a_minus_b_is_an_integer() -> None:
    assert not np.isfinite(hyp2f1(1.0, 1.0, 101.0, 10 / 11))  # the scipy failure handled
    got = hyp2f1_safe(np.array([1.0, 0.3]), 1.0, np.array([101.0, 3.3]), 10 / 11)
    assert got[0] == pytest.approx(series(1.0, 1.0, 101.0, 10 / 11), rel=1e-10)
    assert got[1] == pytest.approx(series(0.3, 1.0, 3.3, 10 / 11), rel=1e-12)
