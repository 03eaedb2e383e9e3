"""`siyu tag ...` and `siyu audience ...` end to end over a store file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cli.conftest import RunCli
from rules.dataset import AS_OF, RECORDS
from siyu.runtime import Runtime
from support import Files, identity_map


@pytest.fixture
def loaded(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("SIYU_ENGINE_DIR", str(tmp_path / "engine"))
    path = Files(tmp_path).jsonl("records.jsonl", RECORDS)
    assert cli_run("ingest", path).exit_code == 0
    assert cli_run("compute", "--full", "--as-of", AS_OF.isoformat()).exit_code == 0
    with cli_runtime.session() as session:
        labels = identity_map(session, cli_runtime.tenant(session))
    return {
        "A": labels["customer:tmall/a1"],
        "B": labels["customer:jd/b1"],
        "C": labels["customer:wechat_mp/c1"],
    }


def test_tags_cli(cli_run: RunCli, loaded: dict[str, str], tmp_path: Path) -> None:
    assert cli_run("tag", "create", "VIP").exit_code == 0
    assert cli_run("tag", "create-group", "肤质").exit_code == 0
    assert cli_run("tag", "create", "肤质=干").exit_code == 0
    given = cli_run("tag", "give", "VIP", loaded["A"], "NOSUCH")
    assert "given 1" in given.output and "no person NOSUCH" in given.output
    csv_path = tmp_path / "skin.csv"
    csv_path.write_text(f"oneid,tag\n{loaded['B']},肤质=干\nnobody,肤质=干\n", encoding="utf-8")
    imported = cli_run("tag", "import", csv_path)
    assert imported.exit_code == 0, imported.output
    assert "2 rows: given 1" in imported.output and "no person 'nobody'" in imported.output
    rule = json.dumps({"bought": {}, "within_days": 30})
    assert (
        cli_run("tags", "create", "近30天购买", "--rule", rule, "--refresh-minutes", "60").exit_code
        == 0
    )
    computed = cli_run("tags", "compute", "--as-of", AS_OF.isoformat(), "--json")
    assert computed.exit_code == 0, computed.output
    assert json.loads(computed.output)["tags"] == [
        {"key": "近30天购买", "holders": 2, "given": 2, "removed": 0}
    ]
    assert "no rule tags to compute" in cli_run("tags", "run-due").output
    shown = json.loads(cli_run("tag", "show", loaded["A"], "--json").output)
    assert {(t["key"], t["given_by_kind"]) for t in shown} == {
        ("VIP", "user"),
        ("近30天购买", "rule"),
    }
    listed = json.loads(cli_run("tag", "list", "--json").output)
    assert {t["key"]: t["holders"] for t in listed} == {"VIP": 1, "肤质=干": 1, "近30天购买": 2}
    assert cli_run("tag", "remove", "VIP", loaded["A"]).exit_code == 0
    assert "VIP" in cli_run("tag", "history", "--person", loaded["A"]).output
    bad = cli_run("tag", "create", "坏", "--rule", '{"tag": "nope"}')
    assert bad.exit_code == 1 and "unknown tag 'nope'" in bad.output
    assert cli_run("tag", "give", "近30天购买", loaded["A"]).exit_code == 1


def test_audience_cli(cli_run: RunCli, loaded: dict[str, str], tmp_path: Path) -> None:
    day = AS_OF.isoformat()
    shanghai = json.dumps({"attribute": "city", "value": "上海"})
    member = json.dumps({"trait": "is_member", "value": True})
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(json.dumps({"event": "message_clicked", "within_days": 7}), "utf-8")
    assert cli_run("audience", "create", "上海", "--rule", shanghai).exit_code == 0
    assert cli_run("audience", "create", "会员", "--rule", member).exit_code == 0
    assert cli_run("audience", "create", "点击", "--rule", f"@{rule_file}").exit_code == 0
    preview = cli_run("audience", "preview", "--rule", shanghai, "--as-of", day, "--json")
    assert json.loads(preview.output)["count"] == 2
    assert (
        json.loads(cli_run("audience", "preview", "点击", "--as-of", day, "--json").output)["count"]
        == 2
    )
    refreshed = json.loads(cli_run("audience", "refresh", "--as-of", day, "--json").output)
    assert {a["name"]: a["size"] for a in refreshed["audiences"]} == {
        "上海": 2,
        "会员": 2,
        "点击": 2,
    }
    overlap = json.loads(cli_run("audience", "overlap", "上海", "会员", "--json").output)
    assert overlap["pairs"] == [{"a": "上海", "b": "会员", "both": 1, "only_a": 1, "only_b": 1}]
    out = tmp_path / "members.csv"
    exported = cli_run(
        "audience", "export", "会员", "--fields", "oneid,name,city,member_no", "--out", out
    )
    assert exported.exit_code == 0, exported.output
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["oneid"]: (r["name"], r["city"], r["member_no"]) for r in rows}[loaded["A"]] == (
        "王芳",
        "杭州",
        "M001",
    )
    changes = json.loads(
        cli_run("audience", "changes", "--since", "2000-01-01T00:00:00+00:00", "--json").output
    )
    assert len(changes) == 6 and {c["change"] for c in changes} == {"entered"}
    listed = cli_run("audience", "list")
    assert "上海" in listed.output and "会员" in listed.output
    assert cli_run("audience", "update", "会员", "--description", "members").exit_code == 0
    assert cli_run("audience", "export", "会员", "--fields", "oneid,secret").exit_code == 1
    assert cli_run("audience", "create", "x", "--rule", '{"trait": "x"}').exit_code == 1
    assert cli_run("audience", "delete", "点击").exit_code == 0
    assert cli_run("audience", "preview", "点击").exit_code == 1


def test_bench_audiences(cli_run: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "audiences.json"
    args = ["bench", "audiences", "--persons", "3000", "--runs", "2", "--out", out]
    result = cli_run(*args, "--work-dir", tmp_path / "w", db=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["benchmark"] == "audiences" and figures["persons"] == 3000
    assert figures["orders"] > 3000 and len(figures["count_seconds_runs"]) == 2
    assert 0 < figures["count_matches"] < 3000
    # Reusing the generated facts gives the same audience.
    again = cli_run(*args, "--work-dir", tmp_path / "w", "--reuse", db=False)
    assert again.exit_code == 0, again.output
    reused = json.loads(out.read_text())
    assert reused["generate_seconds"] is None
    assert reused["count_matches"] == figures["count_matches"]
