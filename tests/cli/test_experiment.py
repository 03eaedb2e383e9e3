"""`siyu experiment ...` end to end, including Kevin Hillstrom's real randomised e-mail test."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from support import Files

from .conftest import RunCli

# The shared data sits beside the repository (../shared/data); SIYU_DATA_DIR overrides it.
DATA = Path(
    os.environ.get("SIYU_DATA_DIR") or Path(__file__).resolve().parents[3] / "shared" / "data"
)
HILLSTROM = DATA / "hillstrom.csv"
CONTROL = "No E-Mail"
needs_hillstrom = pytest.mark.skipif(
    not HILLSTROM.exists(), reason=f"{HILLSTROM} absent (real data; set SIYU_DATA_DIR)"
)


def run_json(cli_run: RunCli, *args: object) -> Any:
    result = cli_run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def hillstrom() -> dict[str, dict[str, np.ndarray]]:
    """arm → metric → values, read straight from the file (independent of siyu's reader)."""
    columns: dict[str, dict[str, list[float]]] = {}
    with HILLSTROM.open(newline="") as handle:
        for row in csv.DictReader(handle):
            arm = columns.setdefault(row["segment"], {"visit": [], "conversion": [], "spend": []})
            for metric, values in arm.items():
                values.append(float(row[metric]))
    return {arm: {m: np.array(v) for m, v in ms.items()} for arm, ms in columns.items()}


@needs_hillstrom
def test_hillstrom_lifts_match_an_independent_computation(
    cli_run: RunCli, hillstrom: dict[str, dict[str, np.ndarray]]
) -> None:
    imported = run_json(
        cli_run,
        "experiment", "import-csv", HILLSTROM,
        "--arm-column", "segment", "--control", CONTROL, "--metrics", "visit,conversion,spend",
    )  # fmt: skip
    assert imported["experiment"] == "hillstrom" and imported["units"] == 64_000
    assert imported["rejected"] == 0
    assert {m["name"]: m["kind"] for m in imported["metrics"]} == {
        "visit": "binary",
        "conversion": "binary",
        "spend": "continuous",
    }
    report = run_json(cli_run, "experiment", "report", "hillstrom")
    arms = {arm["arm"]: arm for arm in report["arms"]}
    assert report["control"] == CONTROL and arms[CONTROL]["is_control"]
    assert set(arms) == {CONTROL, "Mens E-Mail", "Womens E-Mail"}
    control = hillstrom[CONTROL]
    for name in ("Mens E-Mail", "Womens E-Mail"):
        mine, lifts = hillstrom[name], arms[name]["vs_control"]
        assert arms[name]["units"] == len(mine["visit"])
        for metric in ("visit", "conversion"):
            x1, n1 = int(mine[metric].sum()), len(mine[metric])
            x0, n0 = int(control[metric].sum()), len(control[metric])
            lift = lifts[metric]
            assert lift["difference"] == pytest.approx(x1 / n1 - x0 / n0, rel=1e-12)
            assert lift["relative_lift"] == pytest.approx((x1 / n1) / (x0 / n0) - 1, rel=1e-12)
            newcombe = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb")
            assert lift["difference_ci"] == pytest.approx(list(newcombe), rel=1e-9)
            z, p = proportions_ztest([x1, x0], [n1, n0])
            assert lift["statistic"] == pytest.approx(z, rel=1e-9)
            assert lift["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)
        welch = sp.ttest_ind(mine["spend"], control["spend"], equal_var=False)
        spend = lifts["spend"]
        assert spend["difference"] == pytest.approx(mine["spend"].mean() - control["spend"].mean())
        ci = welch.confidence_interval(0.95)
        assert spend["difference_ci"] == pytest.approx([ci.low, ci.high], rel=1e-9)
        assert spend["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)

    # The well-known results of this test (MineThatData, 2008).
    visit = {name: arms[name]["metrics"]["visit"]["mean"] for name in arms}
    assert visit[CONTROL] == pytest.approx(0.106, abs=0.001)
    assert visit["Mens E-Mail"] == pytest.approx(0.183, abs=0.001)
    assert visit["Womens E-Mail"] == pytest.approx(0.151, abs=0.001)
    spend_means = {name: arms[name]["metrics"]["spend"]["mean"] for name in arms}
    assert spend_means[CONTROL] == pytest.approx(0.653, abs=0.001)
    assert spend_means["Mens E-Mail"] == pytest.approx(1.423, abs=0.001)
    men, women = arms["Mens E-Mail"]["vs_control"], arms["Womens E-Mail"]["vs_control"]
    # Both e-mails raise every outcome significantly; the men's e-mail more than the women's.
    for lifts in (men, women):
        assert all(lifts[m]["p_value"] < 0.01 and lifts[m]["difference_ci"][0] > 0 for m in lifts)
    assert men["visit"]["difference_ci"][0] > women["visit"]["difference_ci"][1]
    assert men["visit"]["relative_lift"] == pytest.approx(0.72, abs=0.01)


@needs_hillstrom
def test_hillstrom_report_options_change_the_methods(cli_run: RunCli) -> None:
    cli_run(
        "experiment", "import-csv", HILLSTROM, "--name", "h",
        "--arm-column", "segment", "--control", CONTROL, "--metrics", "visit,conversion",
    )  # fmt: skip
    plain = run_json(cli_run, "experiment", "report", "h")
    other = run_json(
        cli_run, "experiment", "report", "h",
        "--confidence", "0.99", "--interval", "wald", "--binary-test", "fisher", "--holm",
    )  # fmt: skip
    assert other["options"] == {
        "confidence": 0.99,
        "interval": "wald",
        "binary_test": "fisher",
        "correction": "holm",
    }
    for before, after in zip(plain["arms"][1:], other["arms"][1:], strict=True):
        for metric in ("visit", "conversion"):
            low, high = before["vs_control"][metric]["difference_ci"]
            wide_low, wide_high = after["vs_control"][metric]["difference_ci"]
            assert wide_low < low and wide_high > high  # 99 % is wider than 95 %
            found = after["vs_control"][metric]
            assert found["test"] == "fisher"
            assert found["p_value_adjusted"] >= found["p_value"]


def test_import_report_list_rejects_and_delete_for_people(cli_run: RunCli, files: Files) -> None:
    path = files.csv(
        "promo.csv",
        [
            {"arm": "ctl", "bought": 0},
            {"arm": "ctl", "bought": 1},
            {"arm": "ctl", "bought": 0},
            {"arm": "promo", "bought": 1},
            {"arm": "promo", "bought": "x"},
            {"arm": "promo", "bought": 1},
        ],
    )
    imported = cli_run(
        "experiment", "import-csv", path, "--arm-column", "arm", "--control", "ctl",
        "--metrics", "bought",
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert "5 units" in imported.stdout and "1 rows rejected" in imported.stdout
    assert "line 6 · bought: not a number" in imported.stdout
    report = cli_run("experiment", "report", "promo")
    assert report.exit_code == 0 and "promo" in report.stdout and "33.33%" in report.stdout
    listed = run_json(cli_run, "experiment", "list")
    assert [(e["name"], e["units"], e["rejected"]) for e in listed] == [("promo", 5, 1)]
    rejects = run_json(cli_run, "experiment", "rejects", "promo")
    assert rejects == [
        {"line": 6, "field": "bought", "reason": "not a number: 'x'", "raw": "promo,x"}
    ]
    again = cli_run(
        "experiment", "import-csv", path, "--arm-column", "arm", "--control", "ctl",
        "--metrics", "bought",
    )  # fmt: skip
    assert again.exit_code == 1 and "exists" in again.stderr
    assert cli_run("experiment", "delete", "promo").exit_code == 0
    missing = cli_run("experiment", "report", "promo")
    assert missing.exit_code == 1 and "no experiment 'promo'" in missing.stderr


def test_bad_arguments_are_clear_errors(cli_run: RunCli, files: Files) -> None:
    path = files.csv("x.csv", [{"arm": "a", "m": 1}])
    bad_kind = cli_run(
        "experiment", "import-csv", path, "--arm-column", "arm", "--control", "a",
        "--metrics", "m:money",
    )  # fmt: skip
    assert bad_kind.exit_code == 1 and "binary or continuous" in bad_kind.stderr
    no_control = cli_run(
        "experiment", "import-csv", path, "--arm-column", "arm", "--control", "b", "--metrics", "m"
    )
    assert no_control.exit_code == 1 and "control arm 'b'" in no_control.stderr
    assert run_json(cli_run, "experiment", "list") == []  # the failed import left nothing
    cli_run(
        "experiment", "import-csv", path, "--arm-column", "arm", "--control", "a", "--metrics", "m"
    )
    bad_test = cli_run("experiment", "report", "x", "--binary-test", "t")
    assert bad_test.exit_code == 1 and "binary_test" in bad_test.stderr


def test_bench_experiments(cli_run: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    result = cli_run(
        "bench", "experiments", "--units", "3000", "--out", out, "--work-dir", tmp_path / "w",
        db=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["benchmark"] == "experiments" and figures["units"] == 3000
    assert figures["metric_values"] == 9000 and figures["units_per_second"] > 0
