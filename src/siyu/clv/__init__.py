"""Predicted customer value: BG/NBD, Pareto/NBD, Gamma-Gamma and CLV over a horizon."""

from siyu.clv.registry import (
    MODEL_NAMES,
    PURCHASE_MODELS,
    ClvError,
    ModelName,
    PurchaseModelName,
)
from siyu.clv.schemas import FitResult, PersonPrediction, PredictionReport
from siyu.clv.service import (
    PURCHASE_STATUSES,
    export_predictions,
    fit_model,
    latest_fit,
    predict,
    purchase_summary,
)
from siyu.clv.summary import UNIT_DAYS, RfmSummary, Unit, rfm_summary

__all__ = [
    "MODEL_NAMES",
    "PURCHASE_MODELS",
    "PURCHASE_STATUSES",
    "UNIT_DAYS",
    "ClvError",
    "FitResult",
    "ModelName",
    "PersonPrediction",
    "PredictionReport",
    "PurchaseModelName",
    "RfmSummary",
    "Unit",
    "export_predictions",
    "fit_model",
    "latest_fit",
    "predict",
    "purchase_summary",
    "rfm_summary",
]
