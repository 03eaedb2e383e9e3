"""CLV tables: stored model fits and per-person predictions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, Money, TenantScoped, UtcDateTime, utcnow


class ClvFit(TenantScoped, Base):
    """One maximum-likelihood fit of a model to a tenant's purchases up to `until`."""

    __tablename__ = "clv_fits"
    __table_args__ = (Index("ix_clv_fits_latest", "tenant_id", "model", "fitted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(16))  # bgnbd | pareto-nbd | gamma-gamma
    params: Mapped[dict[str, float]] = mapped_column(JSON)
    log_likelihood: Mapped[float] = mapped_column(Float)
    until: Mapped[date] = mapped_column(Date)
    unit: Mapped[str] = mapped_column(String(8))
    persons: Mapped[int] = mapped_column(Integer)  # persons the model was fitted on
    converged: Mapped[bool] = mapped_column(Boolean)
    fitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ClvPrediction(TenantScoped, Base):
    """A person's predicted purchases, P(alive) and value over `horizon` months.

    One row per (model, horizon, person); a new prediction run replaces the old rows.
    """

    __tablename__ = "clv_predictions"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(16), primary_key=True)
    horizon: Mapped[int] = mapped_column(Integer, primary_key=True)
    oneid: Mapped[str] = mapped_column(String(26), primary_key=True)
    expected_purchases: Mapped[float] = mapped_column(Float)
    p_alive: Mapped[float] = mapped_column(Float)
    expected_spend: Mapped[Decimal] = mapped_column(Money)  # per purchase (Gamma-Gamma)
    clv: Mapped[Decimal] = mapped_column(Money)  # discounted value over the horizon
    discount_rate: Mapped[float] = mapped_column(Float)  # per month
    as_of: Mapped[date] = mapped_column(Date)  # purchases up to this day were used
    fit_id: Mapped[int] = mapped_column(Integer)  # the purchase model's fit
    spend_fit_id: Mapped[int] = mapped_column(Integer)  # the Gamma-Gamma fit
    fitted_at: Mapped[datetime] = mapped_column(UtcDateTime)  # when fit_id was fitted
