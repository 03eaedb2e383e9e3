"""`siyu identity rebuild` and `siyu bench identity`, in-process on a SQLite file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from siyu.runtime import Runtime
from siyu.tenants import IdentityRules, get_tenant, update_settings
from support import Files, customer, order

from .conftest import RunCli


@pytest.fixture(autouse=True)
def engine_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Snapshots go to the test's directory, not the working directory."""
    path = tmp_path / "engine"
    monkeypatch.setenv("SIYU_ENGINE_DIR", str(path))
    return path


def test_rebuild_reports_and_follows_changed_rules(
    cli_run: RunCli, cli_runtime: Runtime, files: Files
) -> None:
    data = files.jsonl(
        "records.jsonl",
        [
            customer("tmall", "A", {"phone": "13800000001"}),
            customer("jd", "B", {"phone": "13800000001", "email": "b@x.cn"}),
            customer("pos", "C", {"phone": "13800000002", "email": "b@x.cn"}),
            order("tmall", "o1", customer_id="A"),
        ],
    )
    assert cli_run("ingest", data).exit_code == 0
    result = cli_run("identity", "rebuild", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["records"], report["persons"], report["unchanged"]) == (4, 1, 1)
    assert (report["engine"], report["method"], report["created"]) == ("duckdb", "fast", 0)

    with cli_runtime.session() as session:
        tenant = get_tenant(session=session, name="default")
        stricter = IdentityRules(max_per_type={"phone_sha256": 1})
        update_settings(
            session=session,
            tenant_id=tenant.id,
            settings=tenant.settings.model_copy(update={"identity": stricter}),
        )
        session.commit()
    dry = json.loads(cli_run("identity", "rebuild", "--dry-run", "--json").output)
    assert (dry["dry_run"], dry["run_id"], dry["created"], dry["blocked"]) == (True, None, 1, 1)
    result = cli_run("identity", "rebuild", "--method", "portable")
    assert result.exit_code == 0, result.output
    assert "portable" in result.output
    assert re.search(r"created\s+│\s+1\s", result.output), result.output
    blocked = cli_run("identity", "blocked", "--json")
    assert blocked.exit_code == 0, blocked.output
    assert [b["guard"] for b in json.loads(blocked.output)] == ["max_per_type:phone_sha256"]


def test_rebuild_refuses_an_unknown_engine_or_method(cli_run: RunCli) -> None:
    result = cli_run("identity", "rebuild", "--engine", "oracle")
    assert result.exit_code == 1
    assert "unknown engine 'oracle'" in result.output
    result = cli_run("identity", "rebuild", "--method", "magic")
    assert result.exit_code == 1
    assert "unknown method 'magic'" in result.output


def test_bench_identity(cli_run: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "identity.json"
    result = cli_run(
        "bench", "identity", "--records", "5000", "--demo-persons", "40",
        "--out", out, "--work-dir", tmp_path / "w", db=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["benchmark"] == "identity" and figures["records"] == 5000
    assert figures["identifiers"] > 9000  # two per identified record, one per session
    assert 0 < figures["persons"] <= figures["records"]
    assert figures["peak_rss_mb"] > 0 and figures["components_and_replay_seconds"] > 0
    assert figures["demo_records"] > 0 and figures["demo_persons"] > 0
    assert figures["demo_stricter_created"] > 0  # the stricter guard split some persons
