"""Treatment-vs-control comparisons from sufficient statistics (distributions from scipy).

Every comparison needs only each arm's count, mean and sum of squared deviations, so the
store aggregates in SQL and journeys can hand over totals instead of millions of rows.
scipy is imported inside the functions: `scipy.stats` takes over a second to import, and
every `siyu` command and the store's migrations import this package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Interval = Literal["newcombe", "wald"]
BinaryTest = Literal["z", "chi2", "fisher"]
Bounds = tuple[float, float]


@dataclass(frozen=True)
class Sample:
    """One metric in one arm: count, sum and sum of squared deviations from the mean."""

    n: int
    total: float
    m2: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Sample variance (n − 1 in the denominator)."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def successes(self) -> int:
        """For a 0/1 metric: how many units had 1 (sums of 0/1 floats are exact)."""
        return round(self.total)


@dataclass(frozen=True)
class Comparison:
    """Treatment minus control, its relative lift, and the test's statistic and p-value.

    A value that the data cannot define (an empty arm, a zero control mean, no variance
    at all) is None rather than a made-up number.
    """

    difference: float | None
    difference_ci: Bounds | None
    relative_lift: float | None
    relative_lift_ci: Bounds | None
    statistic: float | None
    p_value: float | None


def binary_sample(*, n: int, successes: int) -> Sample:
    """The sufficient statistics of `successes` ones among `n` 0/1 values."""
    mean = successes / n if n else 0.0
    return Sample(
        n=n, total=float(successes), m2=successes * (1 - mean) ** 2 + (n - successes) * mean**2
    )


def z_quantile(confidence: float) -> float:
    """The two-sided normal critical value for `confidence` (1.96 for 0.95)."""
    from scipy import stats

    return float(stats.norm.ppf(0.5 + confidence / 2))


def compare_proportions(
    control: Sample,
    treatment: Sample,
    *,
    confidence: float = 0.95,
    interval: Interval = "newcombe",
    test: BinaryTest = "z",
) -> Comparison:
    """Difference in proportions (Newcombe or Wald CI), relative lift, z/χ²/Fisher p-value."""
    if control.n == 0 or treatment.n == 0:
        return Comparison(None, None, None, None, None, None)
    control = binary_sample(n=control.n, successes=control.successes)  # exact 0/1 counts
    treatment = binary_sample(n=treatment.n, successes=treatment.successes)
    p0, p1 = control.mean, treatment.mean
    difference = p1 - p0
    if interval == "newcombe":
        bounds = _newcombe(control, treatment, confidence)
    else:
        se = math.sqrt(p1 * (1 - p1) / treatment.n + p0 * (1 - p0) / control.n)
        half = z_quantile(confidence) * se
        bounds = (difference - half, difference + half)
    lift, lift_ci = _relative_lift(
        p0, p0 * (1 - p0) / control.n, p1, p1 * (1 - p1) / treatment.n, confidence
    )
    statistic, p_value = _proportion_test(control, treatment, test)
    return Comparison(difference, bounds, lift, lift_ci, statistic, p_value)


def compare_means(control: Sample, treatment: Sample, *, confidence: float = 0.95) -> Comparison:
    """Difference in means with Welch's t-test (unequal variances) and its CI; relative lift."""
    if control.n < 2 or treatment.n < 2:
        return Comparison(None, None, None, None, None, None)
    difference = treatment.mean - control.mean
    v0, v1 = control.variance / control.n, treatment.variance / treatment.n
    lift, lift_ci = _relative_lift(control.mean, v0, treatment.mean, v1, confidence)
    se = math.sqrt(v0 + v1)
    if se == 0:  # both arms constant: the difference is known exactly, nothing to test
        return Comparison(difference, (difference, difference), lift, lift_ci, None, None)
    from scipy import stats

    # Welch–Satterthwaite degrees of freedom.
    df = (v0 + v1) ** 2 / (v0**2 / (control.n - 1) + v1**2 / (treatment.n - 1))
    statistic = difference / se
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    p_value = float(2 * stats.t.sf(abs(statistic), df))
    return Comparison(
        difference, (difference - half, difference + half), lift, lift_ci, statistic, p_value
    )


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (family-wise error); None entries stay None, uncounted."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        # Monotone: an adjusted p-value is never below the one of a smaller raw p-value.
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[i] = running
    return adjusted


def _newcombe(control: Sample, treatment: Sample, confidence: float) -> Bounds:
    """Newcombe's hybrid score interval (1998, method 10) from two Wilson intervals."""
    p0, p1 = control.mean, treatment.mean
    l0, u0 = _wilson(control, confidence)
    l1, u1 = _wilson(treatment, confidence)
    difference = p1 - p0
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return lower, upper


def _wilson(sample: Sample, confidence: float) -> Bounds:
    from scipy import stats

    found = stats.binomtest(sample.successes, sample.n).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(found.low), float(found.high)


def _relative_lift(
    control_mean: float,
    control_var: float,
    treatment_mean: float,
    treatment_var: float,
    confidence: float,
) -> tuple[float | None, Bounds | None]:
    """(t − c)/c with a delta-method normal CI; `*_var` are the variances of the means.

    Var(t/c) ≈ Var(t)/c² + t²·Var(c)/c⁴ for independent arms (first-order Taylor).
    """
    if control_mean == 0:
        return None, None
    ratio = treatment_mean / control_mean
    # The same variance written so that a tiny control mean cannot underflow c² or c⁴.
    se = math.hypot(math.sqrt(treatment_var), ratio * math.sqrt(control_var)) / abs(control_mean)
    lift = ratio - 1
    if not (math.isfinite(lift) and math.isfinite(se)):
        return None, None  # a control mean so near zero that the ratio overflows
    half = z_quantile(confidence) * se
    return lift, (lift - half, lift + half)


def _proportion_test(
    control: Sample, treatment: Sample, test: BinaryTest
) -> tuple[float | None, float | None]:
    """(statistic, p-value) of the chosen two-sided test; None when the data cannot say."""
    import numpy as np
    from scipy import stats

    x0, x1 = control.successes, treatment.successes
    if test == "z":
        pooled = (x0 + x1) / (control.n + treatment.n)
        se = math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
        if se == 0:  # every unit 0 (or every unit 1): no difference can be tested
            return None, None
        z = (treatment.mean - control.mean) / se
        return z, float(2 * stats.norm.sf(abs(z)))
    table = np.array([[x1, treatment.n - x1], [x0, control.n - x0]])
    if test == "fisher":
        return None, float(stats.fisher_exact(table).pvalue)
    if x0 + x1 in (0, control.n + treatment.n):  # a zero margin: χ² is undefined
        return None, None
    found = stats.chi2_contingency(table, correction=True)
    return float(found.statistic), float(found.pvalue)
