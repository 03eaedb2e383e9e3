"""REST API v1 over a real store: auth, batch import, events, 360° view, search, map."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu.api import create_app
from siyu.api.batching import RecordBatcher
from siyu.runtime import Runtime
from siyu.tenants import create_api_key, list_api_keys, revoke_api_key

from .conftest import MakeKey

PHONE = "13800138000"
Record = dict[str, Any]


def customer(source: str, external_id: str, **fields: Any) -> Record:
    return {"kind": "customer", "source": source, "external_id": external_id, **fields}


def order(source: str, order_id: str, customer_id: str, **fields: Any) -> Record:
    record: Record = {
        "kind": "order",
        "source": source,
        "order_id": order_id,
        "customer_ref": {"external_id": customer_id},
        "status": "paid",
        "created_at": "2024-05-01T10:00:00+08:00",
        "total_amount": "100.00",
        "paid_amount": "100.00",
    }
    record.update(fields)
    return record


def event(source: str, event_id: str, ref: dict[str, Any], **fields: Any) -> Record:
    record: Record = {
        "kind": "event",
        "source": source,
        "event_id": event_id,
        "customer_ref": ref,
        "type": "page_view",
        "occurred_at": "2024-05-02T09:30:00+08:00",
    }
    record.update(fields)
    return record


def post_records(client: TestClient, headers: dict[str, str], body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/records", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def identity_map(client: TestClient, headers: dict[str, str]) -> list[dict[str, str]]:
    response = client.get("/api/v1/identity-map", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


MIXED_BATCH: list[Record] = [
    customer("tmall", "t-1", identifiers={"phone": PHONE}, name="王小明"),
    order("tmall", "o-1", "t-1"),
    event("wechat_mp", "e-1", {"identifiers": {"phone": f"+86 {PHONE}"}}),
    order("tmall", "o-bad", "t-1", status="lost_in_mail"),
    customer("pos", "p-bad", identifiers={"phone": "138****5678"}, birthday="not a date"),
    {"kind": "coupon", "source": "tmall"},
    customer("pos", "p-1", identifiers={"member_no": "vip-1"}, name="李雷"),
]


# -- authentication and roles ----------------------------------------------------------


def test_no_key_is_401(api_client: TestClient) -> None:
    for method, path in (("get", "/api/v1/persons?q=x"), ("post", "/api/v1/records")):
        response = api_client.request(method, path, json=[])
        assert response.status_code == 401, (method, path)
        assert "API key" in response.json()["detail"]


@pytest.mark.parametrize(
    "key",
    ["not-a-key", "siyu_000000000000_secret", "Bearer", ""],
)
def test_unknown_key_is_401(api_client: TestClient, api_make_key: MakeKey, key: str) -> None:
    api_make_key()  # a real key exists; the presented one is still wrong
    response = api_client.get("/api/v1/quarantine", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401


def test_right_prefix_wrong_secret_is_401(api_client: TestClient, api_make_key: MakeKey) -> None:
    key = api_make_key()
    forged = key[: key.rindex("_") + 1] + "x" * 20
    response = api_client.get("/api/v1/quarantine", headers={"X-API-Key": forged})
    assert response.status_code == 401
    ok = api_client.get("/api/v1/quarantine", headers={"X-API-Key": key})
    assert ok.status_code == 200


def test_revoked_key_is_401(api_client: TestClient, api_runtime: Runtime) -> None:
    with api_runtime.session() as session:
        tenant = api_runtime.tenant(session)
        created = create_api_key(session=session, tenant_id=tenant.id, name="to-revoke")
        kept = create_api_key(session=session, tenant_id=tenant.id, name="kept")
        session.commit()
    headers = {"Authorization": f"Bearer {created.key}"}
    assert api_client.get("/api/v1/quarantine", headers=headers).status_code == 200
    with api_runtime.session() as session:
        tenant = api_runtime.tenant(session)
        assert revoke_api_key(session=session, tenant_id=tenant.id, key_id=created.id)
        session.commit()
    response = api_client.get("/api/v1/quarantine", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    other = {"Authorization": f"Bearer {kept.key}"}
    assert api_client.get("/api/v1/quarantine", headers=other).status_code == 200


def test_analyst_reads_but_cannot_write(api_client: TestClient, api_make_key: MakeKey) -> None:
    headers = {"Authorization": f"Bearer {api_make_key('analyst')}"}
    writes = [
        ("/api/v1/records", [customer("tmall", "t-1")]),
        ("/api/v1/events", event("web", "e-1", {"external_id": "x"})),
        (
            "/api/v1/identity/detach",
            {"kind": "customer", "source": "tmall", "record_id": "t-1", "reason": "r"},
        ),
    ]
    for path, body in writes:
        response = api_client.post(path, json=body, headers=headers)
        assert response.status_code == 403, path
        assert "analyst" in response.json()["detail"]
    assert api_client.get("/api/v1/quarantine", headers=headers).status_code == 200
    assert api_client.get("/api/v1/persons?q=x", headers=headers).json() == []
    # nothing was written by the refused calls
    assert identity_map(api_client, headers) == []


def test_operator_can_write(api_client: TestClient, api_make_key: MakeKey) -> None:
    headers = {"X-API-Key": api_make_key("operator")}
    body = post_records(api_client, headers, [customer("tmall", "t-1")])
    assert body["accepted"] == 1


def test_keys_are_scoped_to_their_tenant(api_client: TestClient, api_make_key: MakeKey) -> None:
    mine = {"Authorization": f"Bearer {api_make_key()}"}
    theirs = {"Authorization": f"Bearer {api_make_key(tenant='other_brand')}"}
    oneid = post_records(api_client, mine, [customer("tmall", "t-1", name="王小明")])["results"][0][
        "oneid"
    ]
    assert api_client.get(f"/api/v1/persons/{oneid}", headers=theirs).status_code == 404
    assert api_client.get("/api/v1/persons", params={"q": "王小明"}, headers=theirs).json() == []
    assert identity_map(api_client, theirs) == []
    assert api_client.get(f"/api/v1/persons/{oneid}", headers=mine).status_code == 200


# -- POST /records ----------------------------------------------------------------------


def test_mixed_batch_one_result_per_record_in_order(
    api_client: TestClient, api_headers: dict[str, str]
) -> None:
    body = post_records(api_client, api_headers, {"records": MIXED_BATCH})
    results = body["results"]
    assert (body["accepted"], body["quarantined"]) == (4, 3)
    assert [r["index"] for r in results] == list(range(len(MIXED_BATCH)))
    assert [r["status"] for r in results] == [
        "accepted",
        "accepted",
        "accepted",
        "quarantined",
        "quarantined",
        "quarantined",
        "accepted",
    ]
    assert [(r["kind"], r["source"], r["record_id"]) for r in results[:3]] == [
        ("customer", "tmall", "t-1"),
        ("order", "tmall", "o-1"),
        ("event", "wechat_mp", "e-1"),
    ]
    for accepted in (results[0], results[1], results[2], results[6]):
        assert accepted["outcome"] == "new"
        assert accepted["oneid"]
        assert accepted["field"] is None and accepted["reason"] is None
    # the customer, its order and the event (same phone with +86) are one person
    assert results[0]["oneid"] == results[1]["oneid"] == results[2]["oneid"]
    assert results[6]["oneid"] != results[0]["oneid"]
    bad_status, bad_birthday, bad_kind = results[3], results[4], results[5]
    assert bad_status["field"] == "status" and "created" in bad_status["reason"]
    assert bad_birthday["field"] == "birthday" and "birthday" in bad_birthday["reason"]
    assert bad_kind["field"] == "kind" and "coupon" in bad_kind["reason"]
    for rejected in (bad_status, bad_birthday, bad_kind):
        assert rejected["oneid"] is None
        assert rejected["outcome"] is None
        assert isinstance(rejected["quarantine_id"], int)


def test_batch_is_idempotent(api_client: TestClient, api_headers: dict[str, str]) -> None:
    first = post_records(api_client, api_headers, {"records": MIXED_BATCH})["results"]
    again = post_records(api_client, api_headers, {"records": MIXED_BATCH})
    second = again["results"]
    assert [r["status"] for r in second] == [r["status"] for r in first]
    assert [r["oneid"] for r in second] == [r["oneid"] for r in first]
    assert {r["outcome"] for r in second if r["status"] == "accepted"} == {"unchanged"}
    assert [r["quarantine_id"] for r in second] == [r["quarantine_id"] for r in first]
    quarantine = api_client.get("/api/v1/quarantine", headers=api_headers).json()
    assert len(quarantine) == 3  # the same bad records are not quarantined twice
    assert len(identity_map(api_client, api_headers)) == 4


def test_changed_record_is_an_update(api_client: TestClient, api_headers: dict[str, str]) -> None:
    first = post_records(api_client, api_headers, [order("tmall", "o-1", "t-1")])["results"][0]
    changed = order("tmall", "o-1", "t-1", status="completed")
    second = post_records(api_client, api_headers, [changed])["results"][0]
    assert (first["outcome"], second["outcome"]) == ("new", "updated")
    assert second["oneid"] == first["oneid"]


def test_bare_list_is_accepted(api_client: TestClient, api_headers: dict[str, str]) -> None:
    wrapped = post_records(api_client, api_headers, {"records": MIXED_BATCH[:3]})
    bare = post_records(api_client, api_headers, MIXED_BATCH[:3])
    assert bare["accepted"] == 3
    assert [r["outcome"] for r in bare["results"]] == ["unchanged"] * 3
    assert [r["oneid"] for r in bare["results"]] == [r["oneid"] for r in wrapped["results"]]


def test_empty_batch(api_client: TestClient, api_headers: dict[str, str]) -> None:
    body = post_records(api_client, api_headers, [])
    assert body == {"accepted": 0, "quarantined": 0, "results": []}


@pytest.mark.parametrize("wrapped", [True, False])
def test_more_than_1000_records_rejected(
    api_client: TestClient, api_headers: dict[str, str], wrapped: bool
) -> None:
    items = [customer("web", f"w-{i}") for i in range(1001)]
    body: Any = {"records": items} if wrapped else items
    response = api_client.post("/api/v1/records", json=body, headers=api_headers)
    assert 400 <= response.status_code < 500
    assert "1000" in response.text
    assert identity_map(api_client, api_headers) == []  # nothing of it was imported


def test_exactly_1000_records_accepted(api_client: TestClient, api_headers: dict[str, str]) -> None:
    items = [customer("web", f"w-{i}") for i in range(1000)]
    body = post_records(api_client, api_headers, items)
    assert body["accepted"] == 1000
    assert len(body["results"]) == 1000


# -- POST /events -----------------------------------------------------------------------


def test_event_accepted_joins_the_customer(
    api_client: TestClient, api_headers: dict[str, str]
) -> None:
    customer_oneid = post_records(
        api_client, api_headers, [customer("tmall", "t-1", identifiers={"phone": PHONE})]
    )["results"][0]["oneid"]
    response = api_client.post(
        "/api/v1/events",
        json=event("wechat_mp", "e-1", {"identifiers": {"phone": PHONE}}, type="sign_in"),
        headers=api_headers,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "accepted"
    assert result["outcome"] == "new"
    assert result["oneid"] == customer_oneid
    # kind may be omitted on this endpoint
    bare = event("web", "e-2", {"identifiers": {"phone": PHONE}})
    del bare["kind"]
    second = api_client.post("/api/v1/events", json=bare, headers=api_headers)
    assert second.status_code == 200, second.text
    assert second.json()["oneid"] == customer_oneid


def test_event_replay_is_idempotent(api_client: TestClient, api_headers: dict[str, str]) -> None:
    body = event("web", "e-1", {"identifiers": {"email": "A@Example.com"}})
    first = api_client.post("/api/v1/events", json=body, headers=api_headers).json()
    second = api_client.post("/api/v1/events", json=body, headers=api_headers)
    assert second.status_code == 200
    assert second.json()["outcome"] == "unchanged"
    assert second.json()["oneid"] == first["oneid"]
    assert [row["record_id"] for row in identity_map(api_client, api_headers)] == ["e-1"]


def test_events_through_a_writing_process_stop_when_the_key_is_revoked(
    api_runtime: Runtime, api_make_key: MakeKey
) -> None:
    settings = api_runtime.settings.model_copy(update={"api_writer": "process"})
    writer_key = api_make_key()
    headers = {"Authorization": f"Bearer {writer_key}"}
    reader = {"Authorization": f"Bearer {api_make_key('analyst')}"}
    with TestClient(create_app(Runtime(settings=settings, store=api_runtime.store))) as client:
        first = client.post(
            "/api/v1/events", json=event("web", "e-1", {"external_id": "u"}), headers=headers
        )
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        # Revoked from another process (the CLI): the server still remembers the key's
        # grant, and the batch's own transaction refuses it.
        with api_runtime.session() as session:
            tenant = api_runtime.tenant(session)
            (info,) = [
                k for k in list_api_keys(session=session, tenant_id=tenant.id) if k.role == "admin"
            ]
            assert revoke_api_key(session=session, tenant_id=tenant.id, key_id=info.id)
            session.commit()
        refused = client.post(
            "/api/v1/events", json=event("web", "e-2", {"external_id": "u"}), headers=headers
        )
        assert refused.status_code == 401
        assert [row["record_id"] for row in identity_map(client, reader)] == ["e-1"]


def test_events_are_turned_away_with_503_when_the_writer_is_behind(
    api_runtime: Runtime, api_headers: dict[str, str]
) -> None:
    app = create_app(api_runtime)
    app.state.batcher = RecordBatcher(api_runtime, max_waiting=0)  # always behind
    with TestClient(app) as client:
        body = event("web", "e-1", {"external_id": "u"})
        response = client.post("/api/v1/events", json=body, headers=api_headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "try again" in response.json()["detail"]


def test_bad_event_is_422_and_quarantined(
    api_client: TestClient, api_headers: dict[str, str]
) -> None:
    bad = event("web", "e-bad", {"external_id": "u-1"}, occurred_at="yesterday-ish")
    response = api_client.post("/api/v1/events", json=bad, headers=api_headers)
    assert response.status_code == 422
    result = response.json()
    assert result["status"] == "quarantined"
    assert result["field"] == "occurred_at"
    assert "occurred_at" in result["reason"]
    entries = api_client.get("/api/v1/quarantine", headers=api_headers).json()
    assert len(entries) == 1
    entry = entries[0]
    assert entry["id"] == result["quarantine_id"]
    assert (entry["kind"], entry["source"], entry["record_id"]) == ("event", "web", "e-bad")
    assert entry["field"] == "occurred_at"
    assert entry["reason"] == result["reason"]
    assert entry["status"] == "open"
    # sending it again keeps one entry
    again = api_client.post("/api/v1/events", json=bad, headers=api_headers)
    assert again.status_code == 422
    assert len(api_client.get("/api/v1/quarantine", headers=api_headers).json()) == 1
    assert api_client.get("/api/v1/quarantine?status=resolved", headers=api_headers).json() == []
    # the fixed event resolves it
    fixed = api_client.post(
        "/api/v1/events", json={**bad, "occurred_at": "2024-05-02T09:30:00"}, headers=api_headers
    )
    assert fixed.status_code == 200
    assert api_client.get("/api/v1/quarantine", headers=api_headers).json() == []
    resolved = api_client.get("/api/v1/quarantine?status=resolved", headers=api_headers).json()
    assert [e["id"] for e in resolved] == [entry["id"]]


def test_event_endpoint_refuses_other_kinds(
    api_client: TestClient, api_headers: dict[str, str]
) -> None:
    response = api_client.post("/api/v1/events", json=customer("tmall", "t-1"), headers=api_headers)
    assert response.status_code == 422
    assert "event" in response.text
    assert identity_map(api_client, api_headers) == []


# -- persons ----------------------------------------------------------------------------


def _load_person(client: TestClient, headers: dict[str, str]) -> str:
    records = [
        customer(
            "tmall",
            "t-1",
            identifiers={"phone": PHONE},
            name="王小明",
            city="杭州",
            consent={"sms": True},
        ),
        order("tmall", "o-1", "t-1", paid_amount="90.00"),
        order(
            "tmall",
            "o-2",
            "t-1",
            status="partially_refunded",
            created_at="2024-06-01T10:00:00+08:00",
            total_amount="200.00",
            paid_amount="180.00",
        ),
        order("tmall", "o-3", "t-1", status="closed", paid_amount="0"),
        {
            "kind": "refund",
            "source": "tmall",
            "refund_id": "r-1",
            "order_id": "o-2",
            "amount": "30.00",
            "created_at": "2024-06-05T10:00:00+08:00",
        },
        event("wechat_mp", "e-1", {"identifiers": {"phone": PHONE}}, type="product_view"),
    ]
    results = post_records(client, headers, records)["results"]
    # a later request: this record's consent answers are the most recent
    later = customer(
        "pos",
        "p-1",
        identifiers={"phone": PHONE, "member_no": "vip-001"},
        name="王明",
        consent={"sms": False, "wecom": True},
    )
    results += post_records(client, headers, [later])["results"]
    assert {r["status"] for r in results} == {"accepted"}
    assert {r["oneid"] for r in results if r["oneid"]} == {results[0]["oneid"]}
    return str(results[0]["oneid"])


def test_person_360_view(api_client: TestClient, api_headers: dict[str, str]) -> None:
    oneid = _load_person(api_client, api_headers)
    response = api_client.get(f"/api/v1/persons/{oneid}", headers=api_headers)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["oneid"] == view["requested"] == oneid
    ids = {(i["id_type"], i["value"]) for i in view["identifiers"]}
    assert ("phone_sha256", hashlib.sha256(PHONE.encode()).hexdigest()) in ids
    assert ("member_no", "VIP-001") in ids
    assert {(r["source"], r["external_id"]) for r in view["records"]} == {
        ("pos", "p-1"),
        ("tmall", "t-1"),
    }
    assert view["attributes"]["name"] == "王明"  # pos outranks tmall
    assert view["attribute_sources"]["name"] == "pos"
    assert view["attributes"]["city"] == "杭州"
    orders = {o["order_id"]: o for o in view["orders"]}
    assert set(orders) == {"o-1", "o-2", "o-3"}
    assert orders["o-2"]["refunded_amount"] == "30.00"
    assert orders["o-1"]["refunded_amount"] == "0.00"
    assert [r["refund_id"] for r in view["refunds"]] == ["r-1"]
    traits = view["traits"]
    assert traits["net_paid"] == "240.00"  # 90 + 180 - 30; the closed order does not count
    assert traits["order_count"] == 2
    assert traits["aov"] == "120.00"
    assert traits["channels"] == ["tmall"]
    assert [(e["event_id"], e["type"]) for e in view["events"]] == [("e-1", "product_view")]
    assert view["consent"]["wecom"] is True
    assert view["consent"]["email"] is None
    assert view["consent"]["sms"] is False  # the later record's explicit answer
    assert {(r["kind"], r["record_id"]) for r in view["record_refs"]} == {
        ("customer", "t-1"),
        ("customer", "p-1"),
        ("order", "o-1"),
        ("order", "o-2"),
        ("order", "o-3"),
        ("event", "e-1"),
    }
    assert view["merge_history"] == []  # records joined as they came: no two persons merged


def test_unknown_person_is_404(api_client: TestClient, api_headers: dict[str, str]) -> None:
    _load_person(api_client, api_headers)
    for oneid in ("01HZZZZZZZZZZZZZZZZZZZZZZZ", "nope"):
        response = api_client.get(f"/api/v1/persons/{oneid}", headers=api_headers)
        assert response.status_code == 404
        assert oneid in response.json()["detail"]
    assert api_client.get("/api/v1/persons/nope/explain", headers=api_headers).status_code == 404


def test_retired_oneid_answers_with_the_live_person(
    api_client: TestClient, api_headers: dict[str, str]
) -> None:
    a = post_records(
        api_client,
        api_headers,
        [customer("tmall", "t-1", identifiers={"phone": PHONE}, name="王小明")],
    )["results"][0]["oneid"]
    b = post_records(
        api_client,
        api_headers,
        [customer("pos", "p-1", identifiers={"member_no": "VIP-9"}, name="王明")],
    )["results"][0]["oneid"]
    assert a != b
    bridge = customer("wechat_mp", "w-1", identifiers={"phone": PHONE, "member_no": "vip-9"})
    live = post_records(api_client, api_headers, [bridge])["results"][0]["oneid"]
    assert live in (a, b)
    retired = b if live == a else a
    view = api_client.get(f"/api/v1/persons/{retired}", headers=api_headers).json()
    assert view["oneid"] == live
    assert view["requested"] == retired
    assert retired in view["retired_oneids"]
    assert {r["external_id"] for r in view["records"]} == {"t-1", "p-1", "w-1"}
    merges = [c for c in view["merge_history"] if c["action"] == "merge"]
    assert [(c["kept_oneid"], c["retired_oneid"]) for c in merges] == [(live, retired)]
    assert {row["oneid"] for row in identity_map(api_client, api_headers)} == {live}
    explained = api_client.get(f"/api/v1/persons/{retired}/explain", headers=api_headers).json()
    assert explained["oneid"] == live
    assert explained["why"]  # names the identifiers that joined the records


def test_search_persons(api_client: TestClient, api_headers: dict[str, str]) -> None:
    oneid = _load_person(api_client, api_headers)
    other = post_records(
        api_client,
        api_headers,
        [customer("jd", "j-1", identifiers={"phone": "13900139000"}, name="李四")],
    )["results"][0]["oneid"]

    def search(q: str) -> list[str]:
        response = api_client.get("/api/v1/persons", params={"q": q}, headers=api_headers)
        assert response.status_code == 200, response.text
        return [p["oneid"] for p in response.json()]

    for query in (
        PHONE,
        f"+86{PHONE}",
        "+86 138 0013 8000",
        "王小明",
        "王明",
        "vip-001",
        "VIP-001",
    ):
        assert search(query) == [oneid], query
    assert search("李四") == [other]
    assert search(oneid) == [oneid]
    assert search("13700000000") == []
    summary = api_client.get("/api/v1/persons", params={"q": PHONE}, headers=api_headers).json()
    assert summary[0]["name"] == "王明"
    assert summary[0]["phone"] == PHONE
    assert summary[0]["sources"] == ["pos", "tmall", "wechat_mp"]


def test_search_needs_a_query(api_client: TestClient, api_headers: dict[str, str]) -> None:
    assert api_client.get("/api/v1/persons", headers=api_headers).status_code == 422
    assert api_client.get("/api/v1/persons?q=", headers=api_headers).status_code == 422


# -- identity map and detach ------------------------------------------------------------


def test_identity_map_csv(api_client: TestClient, api_headers: dict[str, str]) -> None:
    results = post_records(api_client, api_headers, MIXED_BATCH)["results"]
    response = api_client.get("/api/v1/identity-map", headers=api_headers)
    assert response.text.splitlines()[0] == "kind,source,record_id,oneid"
    rows = identity_map(api_client, api_headers)
    expected = {
        (r["kind"], r["source"], r["record_id"], r["oneid"])
        for r in results
        if r["status"] == "accepted"
    }
    assert {(r["kind"], r["source"], r["record_id"], r["oneid"]) for r in rows} == expected
    assert len(rows) == 4


def test_identity_map_leaves_out_refunds(
    api_client: TestClient, api_headers: dict[str, str]
) -> None:
    post_records(
        api_client,
        api_headers,
        [
            order("tmall", "o-1", "t-1"),
            {
                "kind": "refund",
                "source": "tmall",
                "refund_id": "r-1",
                "order_id": "o-1",
                "amount": "10.00",
                "created_at": "2024-05-03T10:00:00",
            },
        ],
    )
    assert [row["kind"] for row in identity_map(api_client, api_headers)] == ["order"]


def test_detach_splits_a_record_off(api_client: TestClient, api_headers: dict[str, str]) -> None:
    results = post_records(
        api_client,
        api_headers,
        [
            customer("tmall", "t-1", identifiers={"phone": PHONE}),
            customer("pos", "p-1", identifiers={"phone": PHONE, "member_no": "VIP-1"}),
            customer("wecom", "w-1", identifiers={"phone": PHONE}),
        ],
    )["results"]
    together = results[0]["oneid"]
    assert {r["oneid"] for r in results} == {together}
    response = api_client.post(
        "/api/v1/identity/detach",
        json={"kind": "customer", "source": "pos", "record_id": "p-1", "reason": "shared phone"},
        headers=api_headers,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["old_oneid"] == together
    assert result["new_oneid"] != together
    assert result["record"]["record_id"] == "p-1"
    rows = {r["record_id"]: r["oneid"] for r in identity_map(api_client, api_headers)}
    assert rows["p-1"] == result["new_oneid"]
    assert rows["t-1"] == rows["w-1"] != rows["p-1"]
    detached = api_client.get(f"/api/v1/persons/{result['new_oneid']}", headers=api_headers)
    assert [r["external_id"] for r in detached.json()["records"]] == ["p-1"]
    # the detach is in the history, with its reason
    explained = api_client.get(f"/api/v1/persons/{rows['p-1']}/explain", headers=api_headers)
    detaches = [c for c in explained.json()["changes"] if c["action"] == "detach"]
    assert detaches and detaches[0]["detail"]["reason"] == "shared phone"
    # re-importing the records does not glue them back together
    again = post_records(
        api_client,
        api_headers,
        [customer("pos", "p-1", identifiers={"phone": PHONE, "member_no": "VIP-1"}, name="x")],
    )["results"][0]
    assert again["oneid"] == result["new_oneid"]


def test_detach_errors(api_client: TestClient, api_headers: dict[str, str]) -> None:
    post_records(api_client, api_headers, [customer("tmall", "t-1")])
    unknown = api_client.post(
        "/api/v1/identity/detach",
        json={"kind": "customer", "source": "tmall", "record_id": "nope", "reason": "r"},
        headers=api_headers,
    )
    assert unknown.status_code == 409
    assert "nope" in unknown.json()["detail"]
    alone = api_client.post(
        "/api/v1/identity/detach",
        json={"kind": "customer", "source": "tmall", "record_id": "t-1", "reason": "r"},
        headers=api_headers,
    )
    assert alone.status_code == 409
    assert "already" in alone.json()["detail"]


# -- docs and request validation --------------------------------------------------------


def test_docs_and_openapi(api_client: TestClient) -> None:
    docs = api_client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = api_client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in (
        "/api/v1/records",
        "/api/v1/events",
        "/api/v1/persons",
        "/api/v1/persons/{oneid}",
        "/api/v1/identity-map",
        "/api/v1/identity/detach",
        "/api/v1/quarantine",
    ):
        assert path in paths, path
    assert api_client.get("/healthz").json() == {"status": "ok"}


def _detail_locations(response: Any) -> list[list[Any]]:
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for problem in detail:
        assert problem["msg"]
    return [problem["loc"] for problem in detail]


def test_body_validation_errors(api_client: TestClient, api_headers: dict[str, str]) -> None:
    not_json = api_client.post(
        "/api/v1/records",
        content=b"{not json",
        headers={**api_headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    assert "JSON" in not_json.text

    wrong_shape = api_client.post(
        "/api/v1/records", json={"records": "everything"}, headers=api_headers
    )
    assert wrong_shape.status_code == 422
    assert any("records" in loc for loc in _detail_locations(wrong_shape))

    not_objects = api_client.post("/api/v1/records", json=[1, 2], headers=api_headers)
    assert not_objects.status_code == 422

    missing = api_client.post("/api/v1/records", headers=api_headers)
    assert missing.status_code == 422

    no_reason = api_client.post(
        "/api/v1/identity/detach",
        json={"kind": "customer", "source": "tmall", "record_id": "t-1"},
        headers=api_headers,
    )
    assert no_reason.status_code == 422
    assert ["body", "reason"] in _detail_locations(no_reason)

    event_list = api_client.post("/api/v1/events", json=[{"kind": "event"}], headers=api_headers)
    assert event_list.status_code == 422
    assert identity_map(api_client, api_headers) == []
