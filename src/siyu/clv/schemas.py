"""CLV contracts: a stored fit, a prediction run, one person's prediction."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel


class FitResult(BaseModel):
    """A model fitted to a tenant's purchases up to `until`, in `unit`s of time."""

    id: int
    model: str
    params: dict[str, float]
    log_likelihood: float
    until: date
    unit: str
    persons: int
    converged: bool
    fitted_at: datetime


class PersonPrediction(BaseModel):
    oneid: str
    expected_purchases: float
    p_alive: float
    expected_spend: Decimal
    clv: Decimal


class PredictionReport(BaseModel):
    """What a prediction run wrote: totals and the persons worth the most."""

    model: str
    horizon: int  # months
    discount_rate: float  # per month
    as_of: date
    persons: int
    expected_purchases: float  # sum over persons
    mean_p_alive: float
    total_clv: Decimal
    fit: FitResult
    spend_fit: FitResult
    top: list[PersonPrediction]
