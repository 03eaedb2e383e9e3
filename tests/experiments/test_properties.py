"""Properties of the intervals and tests, over generated experiments (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.experiments.stats import Sample, binary_sample, compare_means, compare_proportions, holm


@st.composite
def proportions(draw: st.DrawFn) -> tuple[Sample, Sample]:
    n0, n1 = draw(st.integers(1, 5000)), draw(st.integers(1, 5000))
    return (
        binary_sample(n=n0, successes=draw(st.integers(0, n0))),
        binary_sample(n=n1, successes=draw(st.integers(0, n1))),
    )


@st.composite
def means(draw: st.DrawFn) -> tuple[Sample, Sample]:
    def one() -> Sample:
        n = draw(st.integers(2, 10_000))
        mean = draw(st.floats(-1e4, 1e4))
        variance = draw(st.floats(1e-3, 1e6))
        return Sample(n=n, total=mean * n, m2=variance * (n - 1))

    return one(), one()


confidences = st.sampled_from([0.8, 0.9, 0.95, 0.99])
intervals = st.sampled_from(["newcombe", "wald"])


def contains(bounds: tuple[float, float] | None, value: float | None) -> bool:
    assert bounds is not None and value is not None
    slack = 1e-9 * max(1.0, abs(value))
    return bounds[0] - slack <= value <= bounds[1] + slack


@given(proportions(), confidences, intervals)
def test_proportion_intervals_contain_their_estimates(
    arms: tuple[Sample, Sample], confidence: float, interval: str
) -> None:
    control, treatment = arms
    found = compare_proportions(control, treatment, confidence=confidence, interval=interval)  # type: ignore[arg-type]
    assert contains(found.difference_ci, found.difference)
    assert found.difference_ci is not None
    if interval == "newcombe":  # a difference of proportions lies in [-1, 1]
        assert -1 - 1e-12 <= found.difference_ci[0] <= found.difference_ci[1] <= 1 + 1e-12
    if found.relative_lift is not None:
        assert contains(found.relative_lift_ci, found.relative_lift)
    for test in ("z", "chi2", "fisher"):
        p = compare_proportions(control, treatment, test=test).p_value  # type: ignore[arg-type]
        assert p is None or 0 <= p <= 1


@given(means(), confidences)
def test_mean_intervals_contain_their_estimates(
    arms: tuple[Sample, Sample], confidence: float
) -> None:
    found = compare_means(*arms, confidence=confidence)
    assert contains(found.difference_ci, found.difference)
    if found.relative_lift is not None:
        assert contains(found.relative_lift_ci, found.relative_lift)
    assert found.p_value is not None and 0 <= found.p_value <= 1


@given(proportions(), intervals, st.integers(2, 20))
def test_proportion_intervals_shrink_as_the_sample_grows(
    arms: tuple[Sample, Sample], interval: str, factor: int
) -> None:
    """The same rates on `factor` times the units: a narrower (never wider) interval."""
    control, treatment = arms
    bigger = [binary_sample(n=s.n * factor, successes=s.successes * factor) for s in arms]
    small = compare_proportions(control, treatment, interval=interval).difference_ci  # type: ignore[arg-type]
    large = compare_proportions(*bigger, interval=interval).difference_ci  # type: ignore[arg-type]
    assert small is not None and large is not None
    width_small, width_large = small[1] - small[0], large[1] - large[0]
    if width_small > 0:
        assert width_large < width_small
    else:  # Wald with both rates at 0 or 1: no spread at any size
        assert width_large == 0


@given(means(), st.integers(2, 20))
def test_mean_intervals_shrink_as_the_sample_grows(
    arms: tuple[Sample, Sample], factor: int
) -> None:
    bigger = [
        Sample(n=s.n * factor, total=s.total * factor, m2=s.variance * (s.n * factor - 1))
        for s in arms
    ]
    small, large = compare_means(*arms).difference_ci, compare_means(*bigger).difference_ci
    assert small is not None and large is not None
    assert large[1] - large[0] < small[1] - small[0]


@given(proportions(), confidences)
def test_higher_confidence_means_a_wider_interval(
    arms: tuple[Sample, Sample], confidence: float
) -> None:
    lower = compare_proportions(*arms, confidence=confidence).difference_ci
    higher = compare_proportions(*arms, confidence=min(0.999, confidence + 0.04)).difference_ci
    assert lower is not None and higher is not None
    assert higher[0] <= lower[0] + 1e-12 and higher[1] >= lower[1] - 1e-12


@given(proportions())
def test_swapping_the_arms_mirrors_the_difference(arms: tuple[Sample, Sample]) -> None:
    control, treatment = arms
    forward = compare_proportions(control, treatment)
    backward = compare_proportions(treatment, control)
    assert forward.difference is not None and backward.difference is not None
    assert forward.difference == -backward.difference
    assert forward.difference_ci is not None and backward.difference_ci is not None
    assert abs(forward.difference_ci[0] + backward.difference_ci[1]) < 1e-12
    assert forward.p_value == backward.p_value or abs(forward.p_value - backward.p_value) < 1e-12  # type: ignore[operator]


@settings(max_examples=200)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), max_size=12))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values: list[float | None]) -> None:
    adjusted = holm(p_values)
    pairs = [(p, a) for p, a in zip(p_values, adjusted, strict=True) if p is not None]
    assert all(a is None for p, a in zip(p_values, adjusted, strict=True) if p is None)
    for p, a in pairs:
        assert a is not None and p <= a <= 1
    for p, a in pairs:
        for q, b in pairs:
            if p < q:
                assert a <= b  # type: ignore[operator]
