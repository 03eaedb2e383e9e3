"""The models' closed forms against independent derivations by numerical integration.

Each model is a mixture: an individual-level likelihood (simple, written out here from the
model's story) integrated over the heterogeneity distributions with scipy's quadrature.
Mixing densities are integrated after the substitution λ = w^(1/r), which removes the
λ^(r-1) singularity at 0 when r < 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import betaln, gammaln

from siyu.clv import bgnbd, gamma_gamma, pareto_nbd

CASES = [(0, 0.0, 10.0), (1, 2.5, 10.0), (4, 8.0, 12.0), (7, 20.0, 30.0), (2, 5.0, 5.0)]


Measure = tuple[Callable[[float], tuple[float, float]], float]


def gamma_mix(shape: float, rate: float) -> Measure:
    """Gamma(shape, rate) via λ = w^(1/shape): λ^(shape-1) dλ = dw / shape, no singularity."""
    coef = np.exp(shape * np.log(rate) - gammaln(shape + 1))
    return (lambda w: (w ** (1 / shape), coef * np.exp(-rate * w ** (1 / shape)))), np.inf


def beta_mix(a: float, b: float) -> Measure:
    """Beta(a, b) via p = w^(1/a), the same trick at p = 0 (b > 1 here, so none at p = 1)."""
    coef = np.exp(-betaln(a, b)) / a
    return (lambda w: (w ** (1 / a), coef * (1 - w ** (1 / a)) ** (b - 1))), 1.0


def mixture(individual: Callable[[float, float], float], first: Measure, second: Measure) -> float:
    """∫∫ individual(θ1, θ2) dF1 dF2 over two independent mixing distributions."""
    (point1, top1), (point2, top2) = first, second

    def integrand(w2: float, w1: float) -> float:
        (theta1, weight1), (theta2, weight2) = point1(w1), point2(w2)
        return individual(theta1, theta2) * weight1 * weight2

    value, _error = integrate.dblquad(integrand, 0, top1, 0, top2, epsabs=0, epsrel=1e-10)
    return float(value)


def arrays(x: float, t_x: float, age: float) -> list[np.ndarray]:
    return [np.array([float(x)]), np.array([t_x]), np.array([age])]


# -- BG/NBD ----------------------------------------------------------------------------


def bgnbd_individual(x: int, t_x: float, age: float) -> Callable[[float, float], float]:
    """Purchases ~ Poisson(λ) while alive; after each purchase, dropout with probability p."""

    def likelihood(lam: float, p: float) -> float:
        alive = (1 - p) ** x * lam**x * np.exp(-lam * age)
        died = p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * t_x) if x > 0 else 0.0
        return float(alive + died)

    return likelihood


def test_bgnbd_without_repeat_purchases_is_the_gamma_survival_term() -> None:
    """By hand: x = 0 leaves only 'no purchase in (0, T]' = (α / (α + T))^r."""
    r, alpha, a, b, age = 0.5, 2.0, 0.7, 3.0, 6.0
    got = bgnbd.log_likelihood(np.array([r, alpha, a, b]), arrays(0, 0.0, age))[0]
    assert got == pytest.approx(r * np.log(alpha / (alpha + age)), abs=1e-12)


@pytest.mark.parametrize(("x", "t_x", "age"), CASES)
def test_bgnbd_p_alive_and_expected_purchases_match_integration(
    x: int, t_x: float, age: float
) -> None:
    params = np.array([0.8, 3.0, 0.9, 2.5])
    r, alpha, a, b = params
    lam, p = gamma_mix(r, alpha), beta_mix(a, b)
    horizon = 9.0
    evidence = mixture(bgnbd_individual(x, t_x, age), lam, p)

    def alive(lam_: float, p_: float) -> float:
        return float((1 - p_) ** x * lam_**x * np.exp(-lam_ * age))

    def future(lam_: float, p_: float) -> float:
        # Alive at T, the purchases in the next `horizon` follow the same geometric story.
        return alive(lam_, p_) * (1 - np.exp(-lam_ * p_ * horizon)) / p_

    got_alive = bgnbd.p_alive(params, *arrays(x, t_x, age))[0]
    got_future = bgnbd.expected_purchases(params, horizon, *arrays(x, t_x, age))[0]
    assert got_alive == pytest.approx(mixture(alive, lam, p) / evidence, rel=1e-7)
    assert got_future == pytest.approx(mixture(future, lam, p) / evidence, rel=1e-6)


# -- Pareto/NBD -------------------------------------------------------------------------


def pareto_individual(x: int, t_x: float, age: float) -> Callable[[float, float], float]:
    """Purchases ~ Poisson(λ) while alive; lifetime ~ Exponential(μ)."""

    def likelihood(lam: float, mu: float) -> float:
        total = lam + mu
        alive = lam**x * np.exp(-total * age)
        died = lam**x * mu / total * (np.exp(-total * t_x) - np.exp(-total * age))
        return float(alive + died)

    return likelihood


# α > β, α < β and α = β take different branches of the closed form.
PARETO_PARAMS = [(0.55, 10.6, 0.6, 11.7), (1.5, 12.0, 0.8, 4.0), (0.7, 5.0, 1.3, 5.0)]


def both_models() -> list[tuple[str, tuple[float, ...]]]:
    bg = [(0.8, 3.0, 0.9, 2.5), (2.0, 10.0, 1.5, 4.0)]
    return [("bgnbd", p) for p in bg] + [("pareto-nbd", p) for p in PARETO_PARAMS]


@pytest.mark.parametrize(("model", "params"), both_models())
@pytest.mark.parametrize(("x", "t_x", "age"), CASES)
def test_log_likelihood_matches_integration(
    model: str, params: tuple[float, ...], x: int, t_x: float, age: float
) -> None:
    r, alpha, third, fourth = params
    if model == "bgnbd":
        individual, second = bgnbd_individual(x, t_x, age), beta_mix(third, fourth)
        closed = bgnbd.log_likelihood
    else:
        individual, second = pareto_individual(x, t_x, age), gamma_mix(third, fourth)
        closed = pareto_nbd.log_likelihood
    expected = np.log(mixture(individual, gamma_mix(r, alpha), second))
    got = closed(np.array(params), arrays(x, t_x, age))[0]
    assert got == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("params", PARETO_PARAMS)
@pytest.mark.parametrize(("x", "t_x", "age"), CASES[1:4])
def test_pareto_nbd_p_alive_and_expected_purchases_match_integration(
    params: tuple[float, ...], x: int, t_x: float, age: float
) -> None:
    r, alpha, s, beta = params
    lam, mu = gamma_mix(r, alpha), gamma_mix(s, beta)
    horizon = 15.0
    evidence = mixture(pareto_individual(x, t_x, age), lam, mu)

    def alive(lam_: float, mu_: float) -> float:
        return float(lam_**x * np.exp(-(lam_ + mu_) * age))

    def future(lam_: float, mu_: float) -> float:
        return alive(lam_, mu_) * lam_ / mu_ * (1 - np.exp(-mu_ * horizon))

    got_alive = pareto_nbd.p_alive(np.array(params), *arrays(x, t_x, age))[0]
    got_future = pareto_nbd.expected_purchases(np.array(params), horizon, *arrays(x, t_x, age))
    assert got_alive == pytest.approx(mixture(alive, lam, mu) / evidence, rel=1e-7)
    assert got_future[0] == pytest.approx(mixture(future, lam, mu) / evidence, rel=1e-6)


@pytest.mark.parametrize(
    ("params", "x", "t_x", "age"),
    [
        ((0.6, 0.05, 0.7, 80.0), 300, 4.0, 400.0),  # β ≫ α, many purchases: z close to 1
        ((0.6, 90.0, 0.7, 0.02), 250, 1.0, 300.0),  # α ≫ β
        ((3.0, 40.0, 2.0, 1.0), 1000, 700.0, 730.0),  # a heavy daily buyer
    ],
)
def test_pareto_nbd_stays_accurate_where_the_textbook_form_breaks_down(
    params: tuple[float, ...], x: int, t_x: float, age: float
) -> None:
    """Against the likelihood's one-dimensional form, integrated with the peak factored out:
    L = Γ(r+x) α^r β^s / Γ(r) [(α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ].
    """
    r, alpha, s, beta = params
    n = r + x

    def scaled(tau: float) -> float:
        return float(((alpha + t_x) / (alpha + tau)) ** n * (beta + tau) ** -(s + 1))

    integral, _error = integrate.quad(scaled, t_x, age, epsabs=0, epsrel=1e-12, limit=500)
    log_died = np.log(s) - n * np.log(alpha + t_x) + np.log(integral)
    log_alive = -n * np.log(alpha + age) - s * np.log(beta + age)
    head = gammaln(n) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    expected = head + np.logaddexp(log_alive, log_died)
    got = pareto_nbd.log_likelihood(np.array(params), arrays(x, t_x, age))[0]
    assert np.isfinite(got)
    assert got == pytest.approx(expected, rel=1e-9)


# -- Gamma-Gamma ------------------------------------------------------------------------


@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (1.2, 2.5, 3.0)])
@pytest.mark.parametrize(("x", "mean"), [(1, 11.77), (2, 22.35), (9, 4.1), (30, 120.0)])
def test_gamma_gamma_density_matches_integration(
    params: tuple[float, float, float], x: int, mean: float
) -> None:
    """z̄ of x values ~ Gamma(p, ν) each is Gamma(p x, ν x); ν ~ Gamma(q, γ)."""
    p, q, gamma = params
    nu = stats.gamma(q, scale=1 / gamma)

    def density(rate: float) -> float:
        return float(stats.gamma.pdf(mean, p * x, scale=1 / (rate * x)) * nu.pdf(rate))

    # Only where to look: the integrand peaks near the rate that makes z̄ typical.
    peak = p / mean
    value, _error = integrate.quad(
        density, 0, 50 * peak, points=[peak], epsabs=0, epsrel=1e-11, limit=400
    )
    got = gamma_gamma.log_likelihood(np.array(params), [np.array([x]), np.array([mean])])[0]
    assert got == pytest.approx(np.log(value), abs=1e-7)


def test_gamma_gamma_expected_spend_is_the_posterior_mean() -> None:
    """E[value | x, z̄] = E[p / ν | x, z̄], with ν's posterior Gamma(p x + q, γ + x z̄)."""
    p, q, gamma, x, mean = 6.25, 3.74, 15.44, 3, 40.0
    posterior = stats.gamma(p * x + q, scale=1 / (gamma + x * mean))
    expected = posterior.expect(lambda nu: p / nu)
    got = gamma_gamma.expected_spend(np.array([p, q, gamma]), np.array([x]), np.array([mean]))
    assert got[0] == pytest.approx(expected, rel=1e-8)
