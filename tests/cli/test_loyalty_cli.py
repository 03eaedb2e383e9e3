"""`siyu loyalty ...`: programs, the import feed, members, scheduler, coupons and mall."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from siyu import identity
from siyu.runtime import Runtime
from support import Files, customer, order

from .conftest import RunCli

SETTINGS = {
    "pending_days": 7,
    "auto_enrol_on_paid_order": True,
    "expiry": {"kind": "rolling_days", "days": 30, "warn_days": 10},
}


def _oneid(runtime: Runtime, external_id: str) -> str:
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        found = identity.oneids_of_records(
            session=session, tenant=tenant, kind="customer", refs=[("pos", external_id)]
        )
    return found[("pos", external_id)]


def test_imported_orders_earn_through_the_feed_and_members_are_served(
    cli_run: RunCli, cli_runtime: Runtime, files: Files, tmp_path: Path
) -> None:
    settings = tmp_path / "program.json"
    settings.write_bytes(orjson.dumps(SETTINGS))
    assert (
        cli_run(
            "loyalty", "program", "create", "main", "--name", "Main", "--settings", settings
        ).exit_code
        == 0
    )
    data = files.jsonl(
        "in.jsonl",
        [
            customer("pos", "c1", {"phone": "13800000001"}),
            order("pos", "o1", customer_id="c1", total="120.00",
                  paid_at="2024-05-01T10:00:00+08:00"),
            order("pos", "o2", customer_id="c1", total="80.00", status="created"),
            {"kind": "refund", "source": "pos", "refund_id": "r1", "order_id": "o1",
             "amount": "60.00", "created_at": "2024-05-01T11:00:00+08:00"},
        ],
    )  # fmt: skip
    assert cli_run("ingest", data).exit_code == 0
    fed = cli_run("loyalty", "feed", "--json")
    assert fed.exit_code == 0, fed.output
    report = json.loads(fed.output)
    assert (report["orders"], report["refunds"], report["earned"], report["reversed"]) == (
        2,
        1,
        120,
        60,
    )
    assert report["enrolled"] == 1
    assert json.loads(cli_run("loyalty", "feed", "--json").output)["orders"] == 0  # watermark
    oneid = _oneid(cli_runtime, "c1")
    later = "2024-05-09T12:00:00+08:00"
    member = json.loads(cli_run("loyalty", "member", oneid, "--json", "--now", later).output)
    assert (
        member["balance"]["available"] == 60 and member["enrolled_via"] == "rule:first_paid_order"
    )
    shown = cli_run("loyalty", "member", oneid, "--now", later)
    assert "60 spendable" in shown.output
    assert cli_run("loyalty", "adjust", oneid, "5").exit_code != 0  # --reason is required
    taken = cli_run("loyalty", "adjust", "--reason", "fix", "--now", later, oneid, "--", "-5")
    assert taken.exit_code == 0 and "adjusted -5" in taken.output
    due = json.loads(
        cli_run("loyalty", "run-due", "--now", "2024-05-25T00:00:00+08:00", "--json").output
    )
    # the feed ran after the return window (real time), so the lot was active at once
    assert (due["activated"], due["expiring_events"]) == (0, 1)
    events = json.loads(cli_run("loyalty", "events", "--json").output)
    assert [e["type"] for e in events] == ["enrolled", "points_expiring"]
    assert events[1]["payload"]["points"] == 55
    assert cli_run("loyalty", "verify", oneid).exit_code == 0
    missing = cli_run("loyalty", "member", "NOPE")
    assert missing.exit_code == 1 and "no person" in missing.output


def test_member_import_coupons_and_mall_from_the_cli(
    cli_run: RunCli, cli_runtime: Runtime, files: Files, tmp_path: Path
) -> None:
    assert cli_run("loyalty", "program", "create", "main", "--name", "Main").exit_code == 0
    assert (
        cli_run(
            "ingest", files.jsonl("c.jsonl", [customer("pos", "c1", {"member_no": "A1"})])
        ).exit_code
        == 0
    )
    oneid = _oneid(cli_runtime, "c1")
    members = files.csv(
        "m.csv", [{"id:member_no": "A1", "points": "300"}, {"id:member_no": "ZZ", "points": "1"}]
    )
    rejects = tmp_path / "rejects.csv"
    imported = cli_run("loyalty", "import-members", members, "--rejects", rejects)
    assert imported.exit_code == 0 and "imported 1, unchanged 0, rejected 1" in imported.output
    assert rejects.read_text().splitlines() == [
        "id:member_no,points,_line,_field,_reason",
        "ZZ,1,3,id:member_no,no person found for 'ZZ'; import customer records first",
    ]
    assert "300 spendable" in cli_run("loyalty", "member", oneid).output
    rules = '{"kind": "fixed", "amount": "10.00", "valid_days": 7}'
    assert (
        cli_run(
            "loyalty", "coupon", "template", "T10", "--name", "10 off", "--rules", rules
        ).exit_code
        == 0
    )
    assert cli_run("loyalty", "reward", "create", "cup", "--name", "Cup", "--points", "100",
                   "--coupon-template", "T10").exit_code == 0  # fmt: skip
    bought = json.loads(
        cli_run("loyalty", "reward", "redeem", oneid, "cup", "--key", "k1", "--json").output
    )
    assert bought["points"] == 100 and len(bought["coupon_codes"]) == 1
    coupons = json.loads(cli_run("loyalty", "coupon", "list", oneid, "--json").output)
    assert [c["code"] for c in coupons] == bought["coupon_codes"]
    assert "200 spendable" in cli_run("loyalty", "member", oneid).output
    assert (
        "cancelled"
        in cli_run("loyalty", "reward", "cancel", "k1", "--reason", "changed mind").output
    )
    assert "300 spendable" in cli_run("loyalty", "member", oneid).output
    history = json.loads(cli_run("loyalty", "history", oneid, "--json").output)
    assert [h["kind"] for h in history] == ["return", "spend", "earn"]


def test_bench_loyalty(cli_run: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    result = cli_run(
        "bench", "loyalty", "--operations", "400", "--members", "50", "--batch", "50",
        "--threads", "4", "--out", out, "--work-dir", tmp_path / "w", db=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert (figures["earn_single"]["ops"], figures["mixed_batched"]["ops"]) == (200, 400)
    concurrency = figures["concurrency"]
    assert concurrency["keys_spent_twice"] == concurrency["points_overspent"] == 0
    assert concurrency["balance_matches_ledger"] is True
    assert (tmp_path / "w" / "loyalty.db").exists()
