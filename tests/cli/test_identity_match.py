"""`siyu identity match`, `siyu identity review ...` and `siyu bench matching`."""

from __future__ import annotations

import json
from pathlib import Path

from matching_people import canonical, synthetic_people
from siyu.runtime import Runtime

from .conftest import RunCli
from .test_cli import as_json, ok, seed, write_jsonl

PERSONS = 200


def seed_people(runtime: Runtime, tmp_path: Path) -> Path:
    """Import the synthetic people; returns their truth file (kind,source,record_id,person)."""
    people = synthetic_people(PERSONS, seed=3)
    records = [canonical(r) for pair in people for r in pair]
    seed(runtime, write_jsonl(tmp_path / "people.jsonl", records))
    truth = tmp_path / "truth.csv"
    rows = ["kind,source,record_id,person"] + [
        f"customer,{r['source']},{r['external_id']},P{p}"
        for p, pair in enumerate(people)
        for r in pair
    ]
    truth.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return truth


def test_match_review_accept_and_reject(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path
) -> None:
    seed_people(cli_runtime, tmp_path)
    dry = as_json(cli_run("identity", "match", "--dry-run", "--json"))
    assert dry["records"] == 2 * PERSONS and dry["accepted"] > 0 and dry["model_id"] is None
    report = as_json(cli_run("identity", "match", "--accept", "2", "--review", "0.5", "--json"))
    assert report["accepted"] == 0 and report["review"] > 0.8 * PERSONS
    queue = as_json(cli_run("identity", "review", "list", "--limit", "5", "--json"))
    assert len(queue) == 5
    first, second = queue[0]["id"], queue[1]["id"]
    text = ok(cli_run("identity", "review", "list", "--limit", "1")).output
    assert f"#{first}" in text and "masked" in text
    merged = as_json(cli_run("identity", "review", "accept", str(first), "--json"))
    assert merged["merged"] is True
    kept = ok(cli_run("identity", "review", "reject", str(second), "--reason", "two people"))
    assert "stay apart" in kept.output
    again = cli_run("identity", "review", "reject", str(second))
    assert again.exit_code == 1 and "rejected" in again.output
    rejected = as_json(cli_run("identity", "review", "list", "--status", "rejected", "--json"))
    assert [r["id"] for r in rejected] == [second]
    explained = ok(cli_run("identity", "explain", merged["oneid_a"])).output
    assert f"match={first}" in explained and "probabilistic match" in explained


def test_bench_matching_on_a_store_with_its_truth(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path
) -> None:
    truth = seed_people(cli_runtime, tmp_path)
    out = tmp_path / "matching.json"
    result = ok(
        cli_run("bench", "matching", "--truth", truth, "--out", out, "--work-dir", tmp_path)
    )
    assert "strong identifiers" in result.output
    data = json.loads(out.read_text())
    assert data["strong_identifiers"]["recall"] == 0.0  # nothing links by strong identifiers
    assert data["applied"]["precision"] >= 0.99 and data["applied"]["recall"] > 0.8
    assert data["customer_records"] == 2 * PERSONS
