"""`siyu bench clv`: the simulated population recovers the parameters it was drawn from."""

from __future__ import annotations

import pytest

from siyu.bench.clv import BGNBD_TRUTH, GAMMA_GAMMA_TRUTH, run_clv_bench


def test_fits_recover_the_simulated_parameters() -> None:
    result = run_clv_bench(persons=4000, seed=3)
    for name, truth in BGNBD_TRUTH.items():
        # a and b trade off against each other; each within 50% is still a real check
        assert result["bgnbd_params"][name] == pytest.approx(truth, rel=0.5), name
    assert result["bgnbd_params"]["r"] == pytest.approx(BGNBD_TRUTH["r"], rel=0.15)
    # q and gamma lie on a ridge; the population's mean spend p*gamma/(q-1) is well identified.
    fitted, truth = result["gamma-gamma_params"], GAMMA_GAMMA_TRUTH
    assert fitted["p"] == pytest.approx(truth["p"], rel=0.2)
    assert fitted["p"] * fitted["gamma"] / (fitted["q"] - 1) == pytest.approx(
        truth["p"] * truth["gamma"] / (truth["q"] - 1), rel=0.1
    )
    assert result["repeat_buyers"] > 0 and result["bgnbd_predict_s"] >= 0
