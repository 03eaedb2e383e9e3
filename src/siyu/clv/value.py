"""Customer lifetime value: expected purchases × expected spend, discounted monthly.

    CLV = Σ_{m=1..H} E[spend] · (E[Y(m·f)] − E[Y((m−1)·f)]) / (1 + d)^m

with H the horizon in months, d the monthly discount rate, f the model's time units per
month (30.4375 days / unit), E[Y(t)] a person's expected purchases in the t units after the
summary's end (BG/NBD or Pareto/NBD) and E[spend] their expected value per purchase
(Gamma-Gamma). This is the approach of `lifetimes.utils.customer_lifetime_value`: each
month's expected purchases are valued at the person's expected spend and discounted to the
end of that month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siyu.clv import gamma_gamma
from siyu.clv.registry import PurchaseModel
from siyu.clv.summary import UNIT_DAYS, RfmSummary, Unit

Floats = NDArray[np.float64]
DAYS_PER_MONTH = 365.25 / 12


def units_per_month(unit: Unit) -> float:
    """How many of the summary's time units make a month."""
    return DAYS_PER_MONTH / UNIT_DAYS[unit]


@dataclass(frozen=True)
class Predictions:
    """Per person of a summary, over the horizon."""

    expected_purchases: Floats
    p_alive: Floats
    expected_spend: Floats  # per purchase
    clv: Floats


def predict_values(
    *,
    model: PurchaseModel,
    params: Floats,
    spend_params: Floats,
    summary: RfmSummary,
    horizon_months: int,
    discount_rate: float,
) -> Predictions:
    """Expected purchases, P(alive), expected spend and discounted CLV for each person."""
    x, t_x, age = summary.frequency, summary.recency, summary.age
    spend = gamma_gamma.expected_spend(spend_params, x, summary.monetary)
    step = units_per_month(summary.unit)
    clv = np.zeros_like(spend)
    before = np.zeros_like(spend)
    for month in range(1, horizon_months + 1):
        cumulative = model.expected_purchases(params, month * step, x, t_x, age)
        clv += spend * (cumulative - before) / (1 + discount_rate) ** month
        before = cumulative
    return Predictions(
        expected_purchases=before,
        p_alive=model.p_alive(params, x, t_x, age),
        expected_spend=spend,
        clv=clv,
    )
