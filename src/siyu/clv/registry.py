"""The CLV models by name: what each estimates and the functions that compute it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from siyu.clv import bgnbd, gamma_gamma, pareto_nbd
from siyu.clv.fitting import Estimate, RowLogLikelihood, maximise
from siyu.clv.summary import RfmSummary

Floats = NDArray[np.float64]
ModelName = Literal["bgnbd", "pareto-nbd", "gamma-gamma"]
PurchaseModelName = Literal["bgnbd", "pareto-nbd"]
MODEL_NAMES: tuple[ModelName, ...] = ("bgnbd", "pareto-nbd", "gamma-gamma")
SPEND_MODEL: ModelName = "gamma-gamma"


class ClvError(ValueError):
    """A CLV operation that cannot be done with the data at hand; the message says why."""


@dataclass(frozen=True)
class PurchaseModel:
    """A model of how many purchases a person makes and whether they are still a customer."""

    names: tuple[str, ...]
    log_likelihood: RowLogLikelihood
    p_alive: Callable[[Floats, Floats, Floats, Floats], Floats]
    expected_purchases: Callable[[Floats, float, Floats, Floats, Floats], Floats]


PURCHASE_MODELS: dict[str, PurchaseModel] = {
    "bgnbd": PurchaseModel(
        bgnbd.NAMES, bgnbd.log_likelihood, bgnbd.p_alive, bgnbd.expected_purchases
    ),
    "pareto-nbd": PurchaseModel(
        pareto_nbd.NAMES,
        pareto_nbd.log_likelihood,
        pareto_nbd.p_alive,
        pareto_nbd.expected_purchases,
    ),
}


def estimate(model: ModelName, summary: RfmSummary) -> Estimate:
    """Fit `model` to a summary by maximum likelihood."""
    if model == SPEND_MODEL:
        # Spend is only observed on repeat purchases; persons whose repeat purchases were
        # all free (mean 0) have no density under a Gamma and are left out of the fit.
        keep = spend_rows(summary)
        if int(keep.sum()) < 2:
            raise ClvError("Gamma-Gamma needs at least 2 persons with paid repeat purchases")
        columns = [summary.frequency[keep], summary.monetary[keep]]
        return maximise(gamma_gamma.log_likelihood, gamma_gamma.NAMES, columns)
    if len(summary) < 2 or not (summary.frequency > 0).any():
        raise ClvError(f"{model} needs at least 2 persons and some repeat purchases")
    found = PURCHASE_MODELS[model]
    columns = [summary.frequency, summary.recency, summary.age]
    return maximise(found.log_likelihood, found.names, columns)


def spend_rows(summary: RfmSummary) -> NDArray[np.bool_]:
    """The persons Gamma-Gamma is fitted on: repeat purchases with a positive mean value."""
    return np.asarray((summary.frequency > 0) & (summary.monetary > 0), np.bool_)


def fitted_persons(model: ModelName, summary: RfmSummary) -> int:
    """How many persons' data a fit of `model` uses."""
    return int(spend_rows(summary).sum()) if model == SPEND_MODEL else len(summary)
