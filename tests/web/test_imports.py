"""Imports & identity over HTTP: upload, history, quarantine fix, match review, blocked."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siyu import identity, ingest
from siyu.runtime import Runtime
from web_support import blocked_pair, customer_oneids, sign_in

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "formats"


def _jsonl(*records: dict[str, object]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def _upload(client: TestClient, csrf: str, name: str, content: bytes, **form: str) -> object:
    return client.post(
        "/imports",
        data={"csrf": csrf, **form},
        files={"file": (name, content, "application/octet-stream")},
        follow_redirects=False,
    )


def test_upload_shows_in_history_and_bad_lines_in_quarantine(
    console: TestClient, console_runtime: Runtime
) -> None:
    csrf = sign_in(console, "operator")
    tag = secrets.token_hex(3)
    good = {"kind": "customer", "source": "pos", "external_id": f"up-{tag}", "name": f"上传{tag}"}
    bad = {
        "kind": "customer",
        "source": "pos",
        "external_id": f"bad-{tag}",
        "birthday": "1990-13-45",
    }
    response = _upload(console, csrf, f"batch-{tag}.jsonl", _jsonl(good, bad))
    assert response.status_code == 303, response.text
    run = int(re.search(r"run=(\d+)", response.headers["location"]).group(1))
    history = console.get(response.headers["location"]).text
    row = history[history.index(f'id="run-{run}"') :]
    assert f"upload batch-{tag}.jsonl by t-operator" in row.split("</tr>")[0]
    with console_runtime.session() as session:
        runs = ingest.list_import_runs(session=session, tenant=console_runtime.tenant(session))
    shown = next(r for r in runs if r.id == run)
    assert (shown.counts["accepted"], shown.counts["quarantined"]) == (1, 1)
    quarantine = console.get("/imports/quarantine").text
    line = next(tr for tr in quarantine.split("<tr>") if f"bad-{tag}" in tr)
    assert f"batch-{tag}.jsonl" in line and "<td>2</td>" in line and "birthday" in line
    assert f"上传{tag}" in console.get("/persons", params={"q": f"上传{tag}"}).text


def test_platform_export_upload_and_refusals(console: TestClient) -> None:
    csrf = sign_in(console, "admin")
    sales = (SAMPLES / "pos" / "sales.csv").read_bytes()
    response = _upload(console, csrf, "sales.csv", sales, file_format="pos")
    assert response.status_code == 303, response.text
    assert "upload sales.csv by t-admin" in console.get(response.headers["location"]).text
    wrong = _upload(console, csrf, "sales.csv", b"a,b\n1,2\n", file_format="tmall")
    assert wrong.status_code == 400 and 'role="alert"' in wrong.text
    params = _upload(console, csrf, "x.jsonl", b"{}\n", params="nokeyvalue")
    assert params.status_code == 400 and "key=value" in params.text
    assert _upload(console, csrf, "", b"").status_code in (400, 422)


def test_fix_and_reimport_a_quarantined_record(
    console: TestClient, console_runtime: Runtime
) -> None:
    csrf = sign_in(console, "operator")
    tag = secrets.token_hex(3)
    record = {
        "kind": "customer",
        "source": "jd",
        "external_id": f"fix-{tag}",
        "identifiers": {"phone": "12"},
    }
    _upload(console, csrf, f"fix-{tag}.jsonl", _jsonl(record))
    with console_runtime.session() as session:
        entries = ingest.list_quarantine(session=session, tenant=console_runtime.tenant(session))
    entry = next(e for e in entries if e.record_id == f"fix-{tag}")
    form = console.get(f"/imports/quarantine/{entry.id}")
    assert form.status_code == 200 and f"fix-{tag}" in form.text and entry.field in form.text

    broken = console.post(f"/imports/quarantine/{entry.id}", data={"csrf": csrf, "record": "{nope"})
    assert broken.status_code == 400 and "not valid JSON" in broken.text
    still = {**record, "identifiers": {"phone": "34"}}
    again = console.post(
        f"/imports/quarantine/{entry.id}", data={"csrf": csrf, "record": json.dumps(still)}
    )
    assert again.status_code == 422 and "仍未被接收" in again.text
    new_id = int(re.search(r'action="/imports/quarantine/(\d+)"', again.text).group(1))
    assert new_id != entry.id

    fixed = {**record, "identifiers": {"phone": "13912345678"}, "name": f"修好{tag}"}
    done = console.post(
        f"/imports/quarantine/{new_id}",
        data={"csrf": csrf, "record": json.dumps(fixed)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].endswith(f"fixed={new_id}")
    listing = console.get(done.headers["location"]).text
    assert f"fix-{tag}" not in listing and f"#{new_id}" in listing
    assert f"修好{tag}" in console.get("/persons", params={"q": f"修好{tag}"}).text
    twice = console.post(
        f"/imports/quarantine/{new_id}", data={"csrf": csrf, "record": json.dumps(fixed)}
    )
    assert twice.status_code == 409
    assert console.get("/imports/quarantine/999999999").status_code == 404


def test_only_writers_open_imports(console: TestClient) -> None:
    for role in ("analyst", "guide"):
        sign_in(console, role)
        for path in ("/imports", "/imports/quarantine", "/imports/review", "/imports/blocked"):
            assert console.get(path).status_code == 403, (role, path)


@pytest.mark.usefixtures("review_queue")
def test_review_accept_and_reject_are_remembered(
    console: TestClient, console_runtime: Runtime
) -> None:
    csrf = sign_in(console, "operator")
    page = console.get("/imports/review")
    ids = [int(i) for i in re.findall(r'id="match-(\d+)"', page.text)]
    assert len(ids) >= 2
    first, second = ids[0], ids[1]
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        item = next(
            i for i in identity.list_review(session=session, tenant=tenant) if i.id == first
        )
    assert item.a.record_id in page.text and item.b.record_id in page.text

    accepted = console.post(
        f"/imports/review/{first}",
        data={"csrf": csrf, "decision": "accept", "reason": "同一手机尾号"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    rejected = console.post(
        f"/imports/review/{second}",
        data={"csrf": csrf, "decision": "reject"},
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    now = customer_oneids(
        console_runtime, [(item.a.source, item.a.record_id), (item.b.source, item.b.record_id)]
    )
    assert len(set(now.values())) == 1  # accepted: one person now
    pending = console.get("/imports/review").text
    assert f'id="match-{first}"' not in pending and f'id="match-{second}"' not in pending
    done = console.get("/imports/review", params={"status": "accepted"}).text
    assert f'id="match-{first}"' in done and "同一手机尾号" in done and "t-operator" in done
    assert f'id="match-{second}"' in console.get("/imports/review?status=rejected").text
    again = console.post(f"/imports/review/{second}", data={"csrf": csrf, "decision": "reject"})
    assert again.status_code == 409
    odd = console.post(f"/imports/review/{second}", data={"csrf": csrf, "decision": "maybe"})
    assert odd.status_code == 400


def test_blocked_merges_are_listed(console: TestClient, console_runtime: Runtime) -> None:
    item = blocked_pair(console_runtime)
    sign_in(console, "admin")
    page = console.get("/imports/blocked")
    assert page.status_code == 200
    row = next(tr for tr in page.text.split("<tr") if f'id="blocked-{item.id}"' in tr)
    assert item.record is not None and item.record in row and "wechat_unionid" in row
