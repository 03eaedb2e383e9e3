"""`siyu clv ...`: the CDNOW fit contract (JSON), the table, predict with CSV output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from cdnow import UNTIL, assert_published, write_cdnow_jsonl
from siyu import clv
from siyu.runtime import Runtime

from .conftest import RunCli


def test_cli_fit_json_contract_and_predict(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path
) -> None:
    cdnow_file = write_cdnow_jsonl(tmp_path / "cdnow.jsonl")
    imported = cli_run("ingest", cdnow_file, "--json")
    assert imported.exit_code == 0, imported.output
    for model in clv.MODEL_NAMES:
        result = cli_run(
            "clv", "fit", "--model", model, "--until", "1997-09-30", "--unit", "week", "--json"
        )
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)
        assert set(printed) == {"params", "log_likelihood"}
        assert_published(model, printed["params"], printed["log_likelihood"])
    table = cli_run("clv", "fit", "--model", "bgnbd", "--until", "1997-09-30")
    assert table.exit_code == 0 and "log-likelihood" in table.output and "-9582.43" in table.output

    out = tmp_path / "clv.csv"
    result = cli_run("clv", "predict", "--model", "bgnbd", "--horizon", "12", "--out", out)
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2357
    assert set(rows[0]) == set(clv.service.CSV_HEADER)
    alive = [float(r["p_alive"]) for r in rows]
    assert all(0 <= a <= 1 for a in alive) and min(alive) < 0.5 < max(alive)
    # Persons who bought once long ago are worth less than heavy recent buyers.
    assert all(float(r["clv"]) >= 0 for r in rows)
    with cli_runtime.session() as session:
        tenant = cli_runtime.tenant(session)
        fit = clv.latest_fit(session=session, tenant=tenant, model="bgnbd")
        assert fit is not None and fit.until == UNTIL
