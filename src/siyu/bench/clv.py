"""CLV model fits at scale: a population simulated from the published CDNOW parameters.

Persons follow BG/NBD (purchases while alive, dropout after each purchase) with the Fader,
Hardie & Lee (2005) CDNOW parameters and Gamma-Gamma spend (Fader & Hardie 2013); each model
is fitted by siyu's own code, timed, and its parameters compared with the truth.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import numpy as np

from siyu.bench.ingest import machine
from siyu.clv import MODEL_NAMES, PURCHASE_MODELS, RfmSummary
from siyu.clv.registry import estimate

BGNBD_TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GAMMA_GAMMA_TRUTH = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def simulate(*, persons: int, weeks: float, seed: int) -> RfmSummary:
    """RFM summaries of `persons` simulated customers observed for up to `weeks` weeks."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = BGNBD_TRUTH.values()
    rate = rng.gamma(r, 1 / alpha, persons)  # purchases per week while alive
    drop = rng.beta(a, b, persons)  # chance of dropping out after each purchase
    age = rng.uniform(weeks / 3, weeks, persons)  # first purchases spread over the window
    frequency = np.zeros(persons)
    recency = np.zeros(persons)
    clock = np.zeros(persons)
    alive = np.ones(persons, dtype=bool)
    while alive.any():
        gap = rng.exponential(1 / np.maximum(rate, 1e-12))
        clock = np.where(alive, clock + gap, clock)
        bought = alive & (clock <= age)
        frequency += bought
        recency = np.where(bought, clock, recency)
        alive = bought & (rng.random(persons) > drop)
    p, q, gamma = GAMMA_GAMMA_TRUTH.values()
    spend_rate = rng.gamma(q, 1 / gamma, persons)  # ν; mean spend per purchase = p / ν
    monetary = np.where(
        frequency > 0,
        rng.gamma(p * np.maximum(frequency, 1), 1 / spend_rate) / np.maximum(frequency, 1),
        0.0,
    )
    # siyu's summaries count whole purchase days: times in weeks are multiples of 1/7.
    return RfmSummary(
        oneids=[f"p{i}" for i in range(persons)],
        frequency=frequency,
        recency=np.floor(recency * 7) / 7,
        age=np.floor(age * 7) / 7,
        monetary=monetary,
        until=date(2026, 1, 1),
        unit="week",
    )


def run_clv_bench(*, persons: int, weeks: float = 39.0, seed: int = 7) -> dict[str, Any]:
    """Fit every CLV model to `persons` simulated customers; time fits and predictions."""
    summary = simulate(persons=persons, weeks=weeks, seed=seed)
    result: dict[str, Any] = {
        "benchmark": "clv",
        "persons": persons,
        "repeat_buyers": int((summary.frequency > 0).sum()),
    }
    for model in MODEL_NAMES:
        started = time.perf_counter()
        fitted = estimate(model, summary)
        result[f"{model}_fit_s"] = round(time.perf_counter() - started, 3)
        result[f"{model}_params"] = {k: round(v, 3) for k, v in fitted.params.items()}
        truth = GAMMA_GAMMA_TRUTH if model == "gamma-gamma" else BGNBD_TRUTH
        if model != "pareto-nbd":  # the population is BG/NBD: only those two have a truth
            result[f"{model}_truth"] = truth
        if model in PURCHASE_MODELS:
            found = PURCHASE_MODELS[model]
            params = np.array(list(fitted.params.values()))
            started = time.perf_counter()
            found.p_alive(params, summary.frequency, summary.recency, summary.age)
            found.expected_purchases(params, 52.0, summary.frequency, summary.recency, summary.age)
            result[f"{model}_predict_s"] = round(time.perf_counter() - started, 3)
    result["machine"] = machine()
    return result
