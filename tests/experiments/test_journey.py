"""A journey's funnel and A/B/holdout results from per-person outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy.orm import Session

from siyu import experiments
from siyu.experiments import PersonOutcome, ReportOptions, Stage
from siyu.tenants import TenantContext
from support import Files

SMS, WAIT, COUPON = "welcome_sms", "wait_3d", "coupon"


def person(arm: str, converted: bool = False, revenue: str = "0", **steps: Stage) -> PersonOutcome:
    return PersonOutcome(arm=arm, steps=steps, converted=converted, revenue=Decimal(revenue))


def test_funnel_counts_each_stage_and_what_followed() -> None:
    persons = [
        person("A", True, "99.90", welcome_sms=Stage.CLICKED, wait_3d=Stage.ENTERED),
        person("A", False, "0", welcome_sms=Stage.DELIVERED, wait_3d=Stage.ENTERED),
        person("A", True, "20.05", welcome_sms=Stage.SENT),
        person("B", False, "0", welcome_sms=Stage.ENTERED),  # consent missing: not sent
        person("B", True, "10.00", welcome_sms=Stage.DELIVERED, coupon=Stage.SENT),
        person("holdout", True, "5.00"),
        person("holdout", False),
    ]
    found = experiments.journey_report(
        journey="welcome", persons=persons, steps=[SMS, WAIT, COUPON]
    )
    assert [s.step for s in found.funnel] == [SMS, WAIT, COUPON]
    sms = {a.arm: a for a in found.funnel[0].arms}
    assert list(sms) == ["holdout", "A", "B"]  # control first
    a = sms["A"]
    assert (a.entered, a.sent, a.delivered, a.clicked, a.converted) == (3, 3, 2, 1, 2)
    assert a.revenue == Decimal("119.95")
    b = sms["B"]
    assert (b.entered, b.sent, b.delivered, b.clicked, b.converted) == (2, 1, 1, 0, 1)
    assert sms["holdout"].entered == 0
    coupon = {c.arm: c for c in found.funnel[2].arms}
    assert (coupon["B"].sent, coupon["B"].revenue, coupon["A"].entered) == (1, Decimal("10.00"), 0)
    arms = {arm.arm: arm for arm in found.results.arms}
    assert arms["holdout"].is_control and arms["holdout"].units == 2
    assert arms["A"].metrics["conversion"].total == 2
    assert arms["A"].metrics["revenue"].mean == pytest.approx(119.95 / 3)
    assert arms["A"].vs_control["conversion"].difference == pytest.approx(2 / 3 - 1 / 2)


def test_steps_outside_the_given_order_follow_in_first_seen_order() -> None:
    persons = [
        person("A", extra=Stage.SENT),
        person("holdout"),
        person("A", welcome_sms=Stage.SENT),
    ]
    found = experiments.journey_report(journey="j", persons=persons, steps=[SMS])
    assert [s.step for s in found.funnel] == [SMS, "extra"]


def test_journey_results_equal_the_stored_experiment_report_of_the_same_people(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    """The same outcomes through the journey path and through CSV import: one answer."""
    rng = np.random.default_rng(11)
    people = []
    for _ in range(4000):
        arm = str(rng.choice(["A", "B", "holdout"], p=[0.45, 0.45, 0.1]))
        converted = bool(rng.random() < {"A": 0.08, "B": 0.1, "holdout": 0.06}[arm])
        revenue = Decimal(str(round(float(rng.gamma(2, 80)), 2))) if converted else Decimal(0)
        people.append(PersonOutcome(arm=arm, converted=converted, revenue=revenue))

    def stream() -> Iterator[PersonOutcome]:  # consumed once, never materialised by the service
        yield from people

    options = ReportOptions(correction="holm", interval="wald", confidence=0.9)
    journey = experiments.journey_report(journey="j", persons=stream(), options=options).results
    path = files.csv(
        "people.csv",
        [{"arm": p.arm, "conversion": int(p.converted), "revenue": p.revenue} for p in people],
    )
    experiments.import_csv(
        session=session,
        tenant=tenant,
        path=path,
        name="j",
        arm_column="arm",
        control="holdout",
        metrics=experiments.parse_metrics("conversion:binary,revenue:continuous"),
    )
    stored = experiments.experiment_report(
        session=session, tenant=tenant, name="j", options=options
    )
    assert journey.model_dump(exclude={"arms"}) == stored.model_dump(exclude={"arms"})
    for mine, theirs in zip(journey.arms, stored.arms, strict=True):
        assert (mine.arm, mine.units) == (theirs.arm, theirs.units)
        for metric, lift in mine.vs_control.items():
            other = theirs.vs_control[metric]
            for field in ("difference", "relative_lift", "p_value", "p_value_adjusted"):
                assert getattr(lift, field) == pytest.approx(getattr(other, field), rel=1e-9)
            assert lift.difference_ci == pytest.approx(other.difference_ci, rel=1e-9)


def test_a_journey_without_its_control_arm_is_an_error() -> None:
    with pytest.raises(experiments.ExperimentError, match="control arm 'holdout' not found"):
        experiments.journey_report(journey="j", persons=[person("A"), person("B")])
