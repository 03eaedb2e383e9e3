"""The `siyu` command line, run in-process against a fresh SQLite file per test."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from siyu import ingest
from siyu.runtime import Runtime
from siyu.tenants import authenticate_api_key

from .conftest import RunCli

PHONE = "13800138000"

GOOD = [
    {
        "kind": "customer",
        "source": "tmall",
        "external_id": "t-1",
        "identifiers": {"phone": PHONE},
        "name": "王小明",
    },
    {
        "kind": "customer",
        "source": "pos",
        "external_id": "p-1",
        "identifiers": {"member_no": "vip-1"},
        "name": "王明",
        "consent": {"sms": True},
    },
    {
        "kind": "order",
        "source": "tmall",
        "order_id": "o-1",
        "customer_ref": {"external_id": "t-1"},
        "status": "paid",
        "created_at": "2024-05-01T10:00:00",
        "total_amount": "199.00",
        "paid_amount": "189.00",
    },
    {
        "kind": "event",
        "source": "wechat_mp",
        "event_id": "e-1",
        "customer_ref": {"identifiers": {"phone": f"+86{PHONE}"}},
        "type": "sign_in",
        "occurred_at": "2024-05-02T08:00:00",
    },
    # joins the tmall and pos persons: one merge
    {
        "kind": "customer",
        "source": "wecom",
        "external_id": "w-1",
        "identifiers": {"phone": PHONE, "member_no": "VIP-1"},
    },
]
LONER = {
    "kind": "customer",
    "source": "jd",
    "external_id": "j-1",
    "identifiers": {"phone": "13900139000"},
    "name": "李四",
}
BAD_ORDER = {
    "kind": "order",
    "source": "tmall",
    "order_id": "o-bad",
    "customer_ref": {"external_id": "t-1"},
    "status": "paid",
    "created_at": "2024-05-01T10:00:00",
    "total_amount": "abc",
    "paid_amount": "189.00",
}


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "".join(
            (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines
        ),
        encoding="utf-8",
    )
    return path


def mixed_file(tmp_path: Path) -> Path:
    """Lines 1-4 good, 5 a bad amount, 6 not JSON, 7 the merging customer, 8 another person."""
    return write_jsonl(tmp_path / "mixed.jsonl", [*GOOD[:4], BAD_ORDER, "{oops", GOOD[4], LONER])


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def seed(runtime: Runtime, *paths: Path, kind: str | None = None) -> ingest.IngestReport:
    """Import through the service (not the command), for tests of the other commands."""
    with runtime.session() as session:
        return ingest.ingest_files(
            session=session, tenant=runtime.tenant(session), paths=list(paths), kind=kind
        )


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def table_value(output: str, label: str) -> str:
    found = re.search(rf"{re.escape(label)}\s*[│|]\s*([^│|\n]+?)\s*[│|]", output)
    assert found, f"{label!r} not in:\n{output}"
    return found.group(1)


def identity_map_rows(run: RunCli, out: Path) -> list[dict[str, str]]:
    result = ok(run("export", "identity-map", out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert f"wrote {len(rows)} rows" in result.output
    return rows


# -- ingest -----------------------------------------------------------------------------


@pytest.fixture
def run_cli_file(cli_run: RunCli, tmp_path: Path) -> tuple[RunCli, Path]:
    return cli_run, mixed_file(tmp_path)


def test_ingest_jsonl_reports_counts_and_exits_zero(run_cli_file: tuple[RunCli, Path]) -> None:
    run, path = run_cli_file
    result = ok(run("ingest", path))
    assert table_value(result.output, "accepted") == "6"
    assert table_value(result.output, "quarantined") == "2"
    # t-1 and p-1 start apart and w-1 merges them: two persons remain, one merge
    assert table_value(result.output, "new persons") == "2"
    assert table_value(result.output, "merges") == "1"
    assert table_value(result.output, "new / updated / unchanged") == "6 / 0 / 0"
    assert "quarantine list" in result.output


def test_ingest_json_report(run_cli_file: tuple[RunCli, Path]) -> None:
    run, path = run_cli_file
    report = as_json(run("ingest", path, "--json"))
    assert report["files"] == [str(path)]
    assert (report["accepted"], report["quarantined"]) == (6, 2)
    assert (report["new_persons"], report["merges"]) == (2, 1)
    assert report["by_kind"] == {"customer": 4, "order": 1, "event": 1}
    assert isinstance(report["import_run_id"], int)


def test_ingest_twice_changes_nothing(run_cli_file: tuple[RunCli, Path], tmp_path: Path) -> None:
    run, path = run_cli_file
    ok(run("ingest", path, "--json"))
    before = identity_map_rows(run, tmp_path / "before.csv")
    again = as_json(run("ingest", path, "--json"))
    assert (again["accepted"], again["new"], again["updated"], again["unchanged"]) == (6, 0, 0, 6)
    assert (again["new_persons"], again["merges"]) == (0, 0)
    assert identity_map_rows(run, tmp_path / "after.csv") == before
    assert len(as_json(run("quarantine", "list", "--json"))) == 2


def test_ingest_csv_with_kind(cli_run: RunCli, tmp_path: Path) -> None:
    customers = write_csv(
        tmp_path / "customers.csv",
        ["source", "external_id", "id:phone", "name", "consent", "city"],
        [
            ["jd", "j-1", "139-0013-9000", "李四", '{"sms": false}', "北京"],
            ["jd", "j-2", "", "", "", ""],
        ],
    )
    orders = write_csv(
        tmp_path / "orders.csv",
        [
            "source",
            "order_id",
            "customer_external_id",
            "status",
            "created_at",
            "total_amount",
            "paid_amount",
            "items",
        ],
        [
            [
                "jd",
                "jo-1",
                "j-1",
                "completed",
                "2024-05-01 10:00:00",
                "88.00",
                "80.00",
                '[{"sku": "A1", "quantity": 2, "amount": "80.00"}]',
            ]
        ],
    )
    report = as_json(cli_run("ingest", "--kind", "customer", customers, "--json"))
    assert (report["accepted"], report["quarantined"]) == (2, 0)
    assert report["by_kind"] == {"customer": 2}
    report = as_json(cli_run("ingest", "--kind", "order", orders, "--json"))
    assert (report["accepted"], report["quarantined"], report["new_persons"]) == (1, 0, 0)
    rows = identity_map_rows(cli_run, tmp_path / "map.csv")
    oneid = {r["record_id"]: r["oneid"] for r in rows}
    assert oneid["jo-1"] == oneid["j-1"] != oneid["j-2"]
    view = as_json(cli_run("person", "show", oneid["j-1"], "--json"))
    assert view["attributes"]["name"] == "李四"
    assert view["attributes"]["phone"] == "13900139000"
    assert view["consent"]["sms"] is False
    assert view["traits"]["net_paid"] == "80.00"


def test_ingest_csv_without_kind_quarantines_and_goes_on(cli_run: RunCli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ["source", "external_id"], [["jd", "j-1"], ["jd", "j-2"]])
    result = ok(cli_run("ingest", path))
    assert table_value(result.output, "accepted") == "0"
    assert table_value(result.output, "quarantined") == "2"
    entries = as_json(cli_run("quarantine", "list", "--json"))
    assert [(e["line"], e["field"]) for e in entries] == [(2, "kind"), (3, "kind")]


def test_ingest_nonexistent_file_fails(cli_run: RunCli, tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", GOOD[:1])
    result = cli_run("ingest", good, tmp_path / "missing.jsonl")
    assert result.exit_code != 0
    assert "no such file" in result.output
    assert "missing.jsonl" in result.output
    # nothing was imported: the check comes before the first file is read
    assert identity_map_rows(cli_run, tmp_path / "map.csv") == []


def test_ingest_gzip(cli_run: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in GOOD) + "\n").encode()))
    report = as_json(cli_run("ingest", path, "--json"))
    assert (report["accepted"], report["quarantined"]) == (5, 0)


# -- quarantine -------------------------------------------------------------------------


def test_quarantine_list_json(cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path) -> None:
    path = mixed_file(tmp_path)
    seed(cli_runtime, path)
    entries = as_json(cli_run("quarantine", "list", "--json"))
    assert isinstance(entries, list) and len(entries) == 2
    for entry in entries:
        assert {"file", "line", "field", "reason"} <= set(entry)
        assert entry["file"] == str(path)
        assert entry["status"] == "open"
    bad_amount, not_json = entries
    assert (bad_amount["line"], bad_amount["field"]) == (5, "total_amount")
    assert "total_amount" in bad_amount["reason"]
    assert (bad_amount["kind"], bad_amount["source"], bad_amount["record_id"]) == (
        "order",
        "tmall",
        "o-bad",
    )
    assert (not_json["line"], not_json["field"]) == (6, "(line)")
    assert "JSON" in not_json["reason"]
    table = ok(cli_run("quarantine", "list")).output
    assert "total_amount" in table and "o-bad" in table
    assert as_json(cli_run("quarantine", "list", "--status", "resolved", "--json")) == []


def test_quarantine_export_fix_retry(cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path) -> None:
    seed(cli_runtime, mixed_file(tmp_path))
    exported = tmp_path / "quarantine.jsonl"
    assert "wrote 2 records" in ok(cli_run("quarantine", "export", exported)).output
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    fixed = [{**line, "total_amount": "199.00"} for line in lines if line.get("order_id")]
    assert len(fixed) == 1 and "_quarantine_id" in fixed[0]
    fixes = write_jsonl(tmp_path / "fixed.jsonl", fixed)

    report = as_json(cli_run("quarantine", "retry", fixes, "--json"))
    assert (report["accepted"], report["quarantined"]) == (1, 0)

    still_open = as_json(cli_run("quarantine", "list", "--json"))
    assert [e["field"] for e in still_open] == ["(line)"]
    resolved = as_json(cli_run("quarantine", "list", "--status", "resolved", "--json"))
    assert [e["record_id"] for e in resolved] == ["o-bad"]
    rows = identity_map_rows(cli_run, tmp_path / "map.csv")
    oneid = {r["record_id"]: r["oneid"] for r in rows}
    assert oneid["o-bad"] == oneid["t-1"]
    # retrying again changes nothing
    report = as_json(cli_run("quarantine", "retry", fixes, "--json"))
    assert (report["accepted"], report["new"], report["quarantined"]) == (1, 0, 0)


def test_quarantine_retry_still_bad_supersedes(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path
) -> None:
    seed(cli_runtime, write_jsonl(tmp_path / "bad.jsonl", [BAD_ORDER]))
    exported = tmp_path / "q.jsonl"
    ok(cli_run("quarantine", "export", exported))
    [line] = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
    still_bad = write_jsonl(tmp_path / "still.jsonl", [{**line, "total_amount": "-5"}])
    result = ok(cli_run("quarantine", "retry", still_bad))
    assert "accepted 0, still quarantined 1" in result.output
    [entry] = as_json(cli_run("quarantine", "list", "--json"))
    assert entry["field"] == "total_amount" and entry["id"] != line["_quarantine_id"]
    superseded = as_json(cli_run("quarantine", "list", "--status", "superseded", "--json"))
    assert [e["id"] for e in superseded] == [line["_quarantine_id"]]


# -- identity map, explain, detach ------------------------------------------------------


def test_export_identity_map_consistent_with_explain(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path
) -> None:
    seed(cli_runtime, mixed_file(tmp_path))
    out = tmp_path / "map.csv"
    ok(cli_run("export", "identity-map", out))
    assert out.read_text(encoding="utf-8").splitlines()[0] == "kind,source,record_id,oneid"
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sorted((r["kind"], r["source"], r["record_id"]) for r in rows) == sorted(
        [
            ("customer", "tmall", "t-1"),
            ("customer", "pos", "p-1"),
            ("customer", "wecom", "w-1"),
            ("order", "tmall", "o-1"),
            ("event", "wechat_mp", "e-1"),
            ("customer", "jd", "j-1"),
        ]
    )
    oneids = {r["oneid"] for r in rows}
    assert len(oneids) == 2  # the wang records after the merge, and li
    loner = next(r["oneid"] for r in rows if r["record_id"] == "j-1")
    for each in oneids:
        explained = as_json(cli_run("identity", "explain", each, "--json"))
        assert explained["oneid"] == each
        assert {(r["kind"], r["source"], r["record_id"]) for r in explained["records"]} == {
            (r["kind"], r["source"], r["record_id"]) for r in rows if r["oneid"] == each
        }
        if each == loner:
            assert explained["changes"] == [] and explained["retired_oneids"] == []
        else:
            oneid = each
            assert [c["action"] for c in explained["changes"]] == ["merge"]
            retired = explained["retired_oneids"]
            assert len(retired) == 1
    # a retired OneID explains the live person
    via_retired = as_json(cli_run("identity", "explain", retired[0], "--json"))
    assert via_retired["oneid"] == oneid and via_retired["requested"] == retired[0]
    text = ok(cli_run("identity", "explain", retired[0])).output
    assert "was merged into it" in text
    assert "member_no=VIP-1" in text


def test_identity_explain_unknown(cli_run: RunCli) -> None:
    result = cli_run("identity", "explain", "01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert result.exit_code == 1
    assert "no person" in result.output


def test_identity_detach_then_explain(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path
) -> None:
    seed(cli_runtime, write_jsonl(tmp_path / "c.jsonl", GOOD))
    rows = identity_map_rows(cli_run, tmp_path / "before.csv")
    [together] = {r["oneid"] for r in rows}
    missing_reason = cli_run("identity", "detach", "customer", "pos", "p-1")
    assert missing_reason.exit_code != 0
    result = as_json(
        cli_run("identity", "detach", "customer", "pos", "p-1", "--reason", "card lent", "--json")
    )
    assert result["old_oneid"] == together
    new = result["new_oneid"]
    assert new != together
    after = {r["record_id"]: r["oneid"] for r in identity_map_rows(cli_run, tmp_path / "a.csv")}
    assert after["p-1"] == new
    assert after["t-1"] == after["w-1"] == after["o-1"] == after["e-1"] != new
    explained = as_json(cli_run("identity", "explain", new, "--json"))
    assert [(r["source"], r["record_id"]) for r in explained["records"]] == [("pos", "p-1")]
    detaches = [c for c in explained["changes"] if c["action"] == "detach"]
    assert len(detaches) == 1
    assert detaches[0]["detail"]["reason"] == "card lent"
    assert detaches[0]["actor"] == "cli"
    # the text form names the record
    text = ok(cli_run("identity", "explain", new)).output
    assert "p-1" in text and "detach" in text
    # detaching it again: it is already alone
    again = cli_run("identity", "detach", "customer", "pos", "p-1", "--reason", "x")
    assert again.exit_code == 1
    assert "already" in again.output


def test_identity_detach_unknown_record(cli_run: RunCli) -> None:
    result = cli_run("identity", "detach", "customer", "pos", "nope", "--reason", "x")
    assert result.exit_code == 1
    assert "nope" in result.output


# -- persons ----------------------------------------------------------------------------


def test_person_show_and_search(cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path) -> None:
    other = {
        "kind": "customer",
        "source": "jd",
        "external_id": "j-1",
        "identifiers": {"phone": "13900139000"},
        "name": "李四",
    }
    seed(cli_runtime, write_jsonl(tmp_path / "c.jsonl", [*GOOD, other]))
    rows = {r["record_id"]: r["oneid"] for r in identity_map_rows(cli_run, tmp_path / "m.csv")}
    oneid = rows["t-1"]

    view = as_json(cli_run("person", "show", oneid, "--json"))
    assert view["oneid"] == oneid
    assert view["attributes"]["name"] == "王明"  # pos outranks tmall
    assert {r["external_id"] for r in view["records"]} == {"t-1", "p-1", "w-1"}
    assert [o["order_id"] for o in view["orders"]] == ["o-1"]
    assert view["traits"]["net_paid"] == "189.00"
    assert [e["type"] for e in view["events"]] == ["sign_in"]
    assert view["consent"]["sms"] is True

    text = ok(cli_run("person", "show", oneid)).output
    assert "王明" in text and oneid in text and "189.00" in text

    missing = cli_run("person", "show", "01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert missing.exit_code == 1

    for query in (PHONE, f"+86 {PHONE}", "王小明", "vip-1"):
        found = as_json(cli_run("person", "search", query, "--json"))
        assert [p["oneid"] for p in found] == [oneid], query
    found = as_json(cli_run("person", "search", "李四", "--json"))
    assert [(p["oneid"], p["phone"], p["sources"]) for p in found] == [
        (rows["j-1"], "13900139000", ["jd"])
    ]
    assert as_json(cli_run("person", "search", "赵六", "--json")) == []
    table = ok(cli_run("person", "search", "李四")).output
    assert rows["j-1"] in table and "13900139000" in table


# -- API keys, demo, bench --------------------------------------------------------------


def test_apikey_create_authenticates(cli_run: RunCli, cli_runtime: Runtime) -> None:
    created = as_json(cli_run("apikey", "create", "--name", "crm", "--role", "operator", "--json"))
    assert (created["name"], created["role"]) == ("crm", "operator")
    with cli_runtime.session() as session:
        found = authenticate_api_key(session=session, key=created["key"])
        assert found is not None
        tenant, role = found
        assert (tenant.name, role) == ("default", "operator")
        assert authenticate_api_key(session=session, key=created["key"] + "x") is None

    text = ok(cli_run("apikey", "create")).output
    key = re.search(r"(siyu_\S+)", text)
    assert key
    with cli_runtime.session() as session:
        assert authenticate_api_key(session=session, key=key.group(1)) is not None

    ok(cli_run("apikey", "revoke", str(created["id"])))
    with cli_runtime.session() as session:
        assert authenticate_api_key(session=session, key=created["key"]) is None


def test_apikey_bad_role(cli_run: RunCli) -> None:
    result = cli_run("apikey", "create", "--role", "superuser")
    assert result.exit_code == 2
    assert "role must be one of" in result.output


def test_unknown_tenant_fails(cli_run: RunCli) -> None:
    result = cli_run("--tenant", "nobody", "quarantine", "list")
    assert result.exit_code != 0


def test_demo(cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = ok(cli_run("demo", "--persons", "300", "--no-serve", "--out", out))
    key = re.search(r"API key: (siyu_\S+)", result.output)
    assert key, result.output
    imported = re.search(
        r"imported (\d+) records \((\d+) quarantined\) into (\d+) persons", result.output
    )
    assert imported, result.output
    accepted, _quarantined, persons = map(int, imported.groups())
    assert accepted > 300 and persons > 0
    assert any(out.iterdir())
    with cli_runtime.session() as session:
        assert authenticate_api_key(session=session, key=key.group(1)) is not None


def test_bench_ingest(cli_run: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    work = tmp_path / "w"
    result = cli_run(
        "bench",
        "ingest",
        "--persons",
        "200",
        "--orders-per-person",
        "2",
        "--out",
        out,
        "--work-dir",
        work,
        db=False,  # no --db: the bench keeps its own database in the work dir
    )
    ok(result)
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["benchmark"] == "ingest"
    assert figures["records_per_second"] > 0
    assert figures["records"] == figures["accepted"] + figures["quarantined"] > 200
    assert figures["orders"] > 0 and figures["customer_records"] > 0
    assert (work / "bench.db").exists()
