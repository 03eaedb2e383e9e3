"""Properties over the parameter space: P(alive) is a probability, expected purchases grow
with the horizon, and expected spend is positive."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.clv import gamma_gamma
from siyu.clv.registry import PURCHASE_MODELS

positive = st.floats(min_value=0.05, max_value=30.0, allow_nan=False)


@st.composite
def customers(draw: st.DrawFn) -> tuple[float, float, float]:
    """(x, t_x, T): x repeat purchases, the last at t_x ≤ T (t_x = 0 when x = 0)."""
    age = draw(st.floats(min_value=0.0, max_value=500.0))
    x = draw(st.integers(min_value=0, max_value=200))
    share = draw(st.floats(min_value=0.0, max_value=1.0))
    return float(x), (share * age if x else 0.0), age


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(sorted(PURCHASE_MODELS)),
    params=st.tuples(positive, positive, positive, positive),
    customer=customers(),
    horizons=st.lists(st.floats(min_value=0.0, max_value=1000.0), min_size=2, max_size=6),
)
def test_p_alive_is_a_probability_and_purchases_grow_with_the_horizon(
    model: str,
    params: tuple[float, float, float, float],
    customer: tuple[float, float, float],
    horizons: list[float],
) -> None:
    found = PURCHASE_MODELS[model]
    theta = np.array(params)
    x, t_x, age = (np.array([v]) for v in customer)
    alive = found.p_alive(theta, x, t_x, age)[0]
    assert 0.0 <= alive <= 1.0
    if model == "bgnbd" and customer[0] == 0:
        assert alive == 1.0  # BG/NBD customers can only drop out right after a purchase
    expected = [found.expected_purchases(theta, h, x, t_x, age)[0] for h in sorted(horizons)]
    assert all(np.isfinite(expected))
    assert expected[0] >= -1e-9
    for shorter, longer in zip(expected, expected[1:], strict=False):
        assert longer >= shorter - 1e-9 * max(1.0, abs(shorter))


@settings(max_examples=200, deadline=None)
@given(
    p=positive,
    q=st.floats(min_value=1.01, max_value=30.0),
    gamma=positive,
    x=st.integers(min_value=0, max_value=200),
    mean=st.floats(min_value=0.0, max_value=1e5),
)
def test_expected_spend_is_positive_and_between_prior_and_own_mean(
    p: float, q: float, gamma: float, x: int, mean: float
) -> None:
    """The posterior mean spend is a weighted average of the population mean and z̄."""
    spend = gamma_gamma.expected_spend(np.array([p, q, gamma]), np.array([x]), np.array([mean]))[0]
    population = p * gamma / (q - 1)
    assert spend > 0
    if x > 0:
        low, high = sorted((population, mean))
        assert low * (1 - 1e-9) <= spend <= high * (1 + 1e-9)
