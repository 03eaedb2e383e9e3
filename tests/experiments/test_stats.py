"""The statistics against published values and independent implementations (statsmodels, scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from siyu.experiments.stats import (
    Sample,
    binary_sample,
    compare_means,
    compare_proportions,
    holm,
)


def sample_of(values: np.ndarray) -> Sample:
    """Sufficient statistics of raw values, computed the plain way."""
    return Sample(
        n=len(values), total=float(values.sum()), m2=float(((values - values.mean()) ** 2).sum())
    )


# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Statistics in Medicine 17:873–890, Table II: method 10 (hybrid score) and method 1 (Wald).
NEWCOMBE_TABLE = [
    # (treatment successes, n, control successes, n), method 10 interval, Wald interval
    ((56, 70, 48, 80), (0.0524, 0.3339), (0.0575, 0.3425)),
    ((9, 10, 3, 10), (0.1705, 0.8090), (0.2605, 0.9395)),
    ((6, 7, 2, 7), (0.0582, 0.8062), (0.1481, 0.9947)),
    ((5, 56, 0, 29), (-0.0381, 0.1926), (0.0146, 0.1640)),
    ((0, 10, 0, 20), (-0.1611, 0.2775), (0.0, 0.0)),
    ((0, 10, 0, 10), (-0.2775, 0.2775), (0.0, 0.0)),
    ((10, 10, 0, 20), (0.6791, 1.0), (1.0, 1.0)),
    ((10, 10, 0, 10), (0.6075, 1.0), (1.0, 1.0)),
]


@pytest.mark.parametrize(("counts", "newcombe", "wald"), NEWCOMBE_TABLE)
def test_difference_intervals_match_newcombes_published_table(
    counts: tuple[int, int, int, int],
    newcombe: tuple[float, float],
    wald: tuple[float, float],
) -> None:
    x1, n1, x0, n0 = counts
    control, treatment = binary_sample(n=n0, successes=x0), binary_sample(n=n1, successes=x1)
    found = compare_proportions(control, treatment, interval="newcombe")
    assert found.difference_ci == pytest.approx(newcombe, abs=5e-5)
    assert compare_proportions(control, treatment, interval="wald").difference_ci == (
        pytest.approx(wald, abs=5e-5)
    )
    assert found.difference == pytest.approx(x1 / n1 - x0 / n0)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_proportions_agree_with_statsmodels(seed: int, confidence: float) -> None:
    rng = np.random.default_rng(seed)
    n0, n1 = (int(v) for v in rng.integers(50, 5000, size=2))
    x0, x1 = int(rng.binomial(n0, 0.1)), int(rng.binomial(n1, rng.uniform(0.05, 0.2)))
    control, treatment = binary_sample(n=n0, successes=x0), binary_sample(n=n1, successes=x1)
    alpha = 1 - confidence
    for method, statsmodels_name in (("newcombe", "newcomb"), ("wald", "wald")):
        found = compare_proportions(
            control,
            treatment,
            confidence=confidence,
            interval=method,  # type: ignore[arg-type]
        )
        expected = confint_proportions_2indep(
            x1, n1, x0, n0, method=statsmodels_name, compare="diff", alpha=alpha
        )
        assert found.difference_ci == pytest.approx(tuple(expected), rel=1e-9, abs=1e-12)
    z, p = proportions_ztest([x1, x0], [n1, n0])  # pooled variance, two-sided
    found = compare_proportions(control, treatment, test="z")
    assert found.statistic == pytest.approx(z, rel=1e-9)
    assert found.p_value == pytest.approx(p, rel=1e-9)


def test_chi_square_and_fisher_match_scipy_on_the_contingency_table() -> None:
    control, treatment = binary_sample(n=400, successes=30), binary_sample(n=380, successes=48)
    table = [[48, 332], [30, 370]]
    chi2 = compare_proportions(control, treatment, test="chi2")
    expected = sp.chi2_contingency(table, correction=True)
    assert chi2.statistic == pytest.approx(expected.statistic)
    assert chi2.p_value == pytest.approx(expected.pvalue)
    # Yates' correction makes χ² more conservative than the uncorrected z-test.
    z = compare_proportions(control, treatment, test="z")
    assert z.p_value is not None and chi2.p_value is not None and chi2.p_value > z.p_value
    assert z.statistic is not None
    # Without the correction, χ² is exactly z squared.
    assert sp.chi2_contingency(table, correction=False).statistic == pytest.approx(z.statistic**2)
    fisher = compare_proportions(control, treatment, test="fisher")
    assert fisher.p_value == pytest.approx(sp.fisher_exact(table).pvalue)


def test_welch_matches_scipys_ttest_on_raw_values() -> None:
    rng = np.random.default_rng(7)
    control = rng.exponential(10.0, size=300)
    treatment = rng.exponential(12.0, size=250) + rng.normal(0, 1, size=250)
    found = compare_means(sample_of(control), sample_of(treatment), confidence=0.9)
    expected = sp.ttest_ind(treatment, control, equal_var=False)
    assert found.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert found.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    ci = expected.confidence_interval(confidence_level=0.9)
    assert found.difference_ci == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert found.difference == pytest.approx(treatment.mean() - control.mean())


def test_welch_on_a_textbook_example() -> None:
    # Wikipedia's "Welch's t-test" example 1: published t = 2.46 (|t|), p = 0.021.
    a = np.array([27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6])
    a = np.append(a, [19.0, 21.7, 21.4])
    b = np.array([27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1])
    b = np.append(b, [22.9, 20.5, 24.4])
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (b.mean() - a.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    found = compare_means(sample_of(a), sample_of(b))
    assert found.statistic == pytest.approx(t)
    assert found.p_value == pytest.approx(2 * sp.t.sf(abs(t), df))
    assert found.statistic == pytest.approx(2.46, abs=0.005)
    assert found.p_value == pytest.approx(0.021, abs=0.0005)


def test_relative_lift_is_the_ratio_with_a_delta_method_interval() -> None:
    control, treatment = (
        binary_sample(n=20000, successes=1000),
        binary_sample(n=20000, successes=1300),
    )
    found = compare_proportions(control, treatment)
    assert found.relative_lift == pytest.approx(0.3)
    # The delta method's relative-variance form: Var(R) ≈ R²·(CV²(t) + CV²(c)).
    p0, p1 = 0.05, 0.065
    ratio = p1 / p0
    cv2 = (p1 * (1 - p1) / 20000) / p1**2 + (p0 * (1 - p0) / 20000) / p0**2
    half = 1.959963984540054 * ratio * math.sqrt(cv2)
    assert found.relative_lift_ci == pytest.approx((0.3 - half, 0.3 + half))


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_intervals_cover_the_truth_about_as_often_as_promised(kind: str) -> None:
    """Simulated experiments with a known effect: ~95 % of the 95 % intervals contain it."""
    rng = np.random.default_rng(2024)
    runs, n = 1500, 2000
    hits = {"difference": 0, "lift": 0}
    for _ in range(runs):
        if kind == "binary":
            c = binary_sample(n=n, successes=int(rng.binomial(n, 0.10)))
            t = binary_sample(n=n, successes=int(rng.binomial(n, 0.13)))
            found = compare_proportions(c, t)
            true_difference, true_lift = 0.03, 0.3
        else:
            c = sample_of(rng.gamma(2.0, 5.0, size=n))  # mean 10
            t = sample_of(rng.gamma(2.0, 6.0, size=n))  # mean 12
            found = compare_means(c, t)
            true_difference, true_lift = 2.0, 0.2
        assert found.difference_ci is not None and found.relative_lift_ci is not None
        hits["difference"] += found.difference_ci[0] <= true_difference <= found.difference_ci[1]
        hits["lift"] += found.relative_lift_ci[0] <= true_lift <= found.relative_lift_ci[1]
    for name, count in hits.items():
        # Binomial sd of the coverage over 1,500 runs is 0.56 %: ±2 points is ~3.5 sd.
        assert 0.93 <= count / runs <= 0.97, (name, count / runs)


def test_holm_matches_statsmodels() -> None:
    p_values = [0.01, 0.04, 0.03, 0.005, 0.2]
    expected = multipletests(p_values, method="holm")[1]
    assert holm(p_values) == pytest.approx(list(expected))
    assert holm([0.01, None, 0.02]) == pytest.approx([0.02, None, 0.02])


def test_undefined_quantities_are_none_not_numbers() -> None:
    empty = Sample(n=0, total=0.0, m2=0.0)
    some = binary_sample(n=10, successes=3)
    assert compare_proportions(empty, some).difference is None
    nothing = compare_proportions(
        binary_sample(n=50, successes=0), binary_sample(n=60, successes=0)
    )
    assert nothing.difference == 0 and nothing.p_value is None  # no conversions anywhere
    assert nothing.relative_lift is None  # the control rate is zero
    assert compare_proportions(
        binary_sample(n=50, successes=0), binary_sample(n=60, successes=0), test="fisher"
    ).p_value == pytest.approx(1.0)
    assert compare_means(Sample(n=1, total=3.0, m2=0.0), sample_of(np.ones(5))).p_value is None
    constant = compare_means(sample_of(np.full(5, 2.0)), sample_of(np.full(7, 3.0)))
    assert constant.difference_ci == (1.0, 1.0) and constant.p_value is None
