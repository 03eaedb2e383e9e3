"""`siyu identity blocked` lists, approves and dismisses blocked merges (SQLite file)."""

from __future__ import annotations

import json

from siyu.runtime import Runtime
from support import Files, customer

from .conftest import RunCli


def _two_blocked(cli_run: RunCli, files: Files) -> list[dict[str, object]]:
    """Two pairs sharing a phone with two WeChat unionids (one per person by default)."""
    data = files.jsonl(
        "records.jsonl",
        [
            customer("wechat_mp", "A", {"phone": "13800000001", "wechat_unionid": "ua"}),
            customer("wecom", "B", {"phone": "13800000001", "wechat_unionid": "ub"}),
            customer("wechat_mp", "C", {"phone": "13800000002", "wechat_unionid": "uc"}),
            customer("wecom", "D", {"phone": "13800000002", "wechat_unionid": "ud"}),
        ],
    )
    assert cli_run("ingest", data).exit_code == 0
    listed = cli_run("identity", "blocked", "--json")
    assert listed.exit_code == 0, listed.output
    items: list[dict[str, object]] = json.loads(listed.output)
    assert sorted(str(i["record"]) for i in items) == ["customer:wecom/B", "customer:wecom/D"]
    return sorted(items, key=lambda i: str(i["record"]))


def test_approve_and_dismiss_from_the_command_line(
    cli_run: RunCli, cli_runtime: Runtime, files: Files
) -> None:
    approve, dismiss = _two_blocked(cli_run, files)
    plain = cli_run("identity", "blocked")  # the bare command still lists the open ones
    assert plain.exit_code == 0 and plain.output.count(" open ") == 2, plain.output

    done = cli_run("identity", "blocked", "approve", approve["id"], "--reason", "同一人")
    assert done.exit_code == 0, done.output
    assert f"blocked merge #{approve['id']} approved: one person {approve['other_oneid']}" in (
        done.output
    )
    kept = cli_run(
        "identity", "blocked", "dismiss", dismiss["id"], "--reason", "家庭共用", "--json"
    )
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.output)["status"] == "dismissed"

    assert json.loads(cli_run("identity", "blocked", "--json").output) == []
    reviewed = json.loads(cli_run("identity", "blocked", "--status", "reviewed", "--json").output)
    assert {(r["id"], r["status"], r["decided_by"], r["reason"]) for r in reviewed} == {
        (approve["id"], "approved", "cli", "同一人"),
        (dismiss["id"], "dismissed", "cli", "家庭共用"),
    }
    # explain shows the override on the merged person.
    explained = cli_run("identity", "explain", approve["oneid"])
    assert explained.exit_code == 0, explained.output
    assert f"approved override of blocked merge #{approve['id']}" in explained.output

    again = cli_run("identity", "blocked", "approve", approve["id"], "--reason", "again")
    assert again.exit_code != 0 and "already approved" in again.output
    missing = cli_run("identity", "blocked", "dismiss", "999", "--reason", "x")
    assert missing.exit_code != 0 and "no open blocked merge #999" in missing.output
    assert cli_run("identity", "blocked", "approve", approve["id"]).exit_code != 0  # no reason
    odd = cli_run("identity", "blocked", "--status", "maybe")
    assert odd.exit_code != 0 and "unknown status" in odd.output
