"""Audiences follow records arriving through the REST API (the online path), end to end:
an event or an order changes a behavioural condition, and the entry or exit is recorded
with its history in the same request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from siyu.runtime import Runtime
from support import customer, event, identity_map, order


def _audience(client: TestClient, headers: dict[str, str], name: str, rule: Any) -> None:
    created = client.post("/api/v1/audiences", json={"name": name, "rule": rule}, headers=headers)
    assert created.status_code == 201, created.text


def _members(client: TestClient, headers: dict[str, str], name: str) -> list[str]:
    found = client.get(f"/api/v1/audiences/{name}/members", headers=headers)
    assert found.status_code == 200
    return list(found.json())


def _history(client: TestClient, headers: dict[str, str], name: str) -> list[dict[str, Any]]:
    found = client.get(f"/api/v1/audiences/{name}/history", headers=headers)
    assert found.status_code == 200
    return list(found.json())


def test_records_move_people_in_and_out_of_audiences(
    api_client: TestClient, api_runtime: Runtime, api_headers: dict[str, str]
) -> None:
    now = datetime.now(UTC).isoformat()
    _audience(api_client, api_headers, "clicked", {"event": "message_clicked", "within_days": 7})
    _audience(api_client, api_headers, "repeat", {"bought": {}, "min": 2})
    _audience(api_client, api_headers, "one-or-none", {"bought": {}, "max": 1})
    posted = api_client.post(
        "/api/v1/records", json={"records": [customer("wechat_mp", "c1")]}, headers=api_headers
    )
    assert posted.status_code == 200
    with api_runtime.session() as session:
        person = identity_map(session, api_runtime.tenant(session))["customer:wechat_mp/c1"]
    # A new person is evaluated for every online audience: no orders yet.
    assert _members(api_client, api_headers, "one-or-none") == [person]
    assert _members(api_client, api_headers, "clicked") == []

    clicked = event("wechat_mp", "e1", customer_id="c1", type="message_clicked", occurred_at=now)
    assert api_client.post("/api/v1/events", json=clicked, headers=api_headers).status_code == 200
    assert _members(api_client, api_headers, "clicked") == [person]
    [entry] = _history(api_client, api_headers, "clicked")
    assert (entry["oneid"], entry["entered_by"], entry["exited_at"]) == (person, "online", None)

    for order_id in ("o1", "o2"):
        paid = order("wechat_mp", order_id, customer_id="c1", created_at=now)
        result = api_client.post("/api/v1/records", json=[paid], headers=api_headers)
        assert result.status_code == 200 and result.json()["accepted"] == 1
    assert _members(api_client, api_headers, "repeat") == [person]
    assert _members(api_client, api_headers, "one-or-none") == []
    [left] = _history(api_client, api_headers, "one-or-none")
    assert (left["entered_by"], left["exited_by"]) == ("online", "online")
    assert left["exited_at"] is not None
    changes = api_client.get(
        "/api/v1/audiences/changes",
        params={"since": "2000-01-01T00:00:00+00:00"},
        headers=api_headers,
    ).json()
    assert sorted((c["audience"], c["change"]) for c in changes) == [
        ("clicked", "entered"),
        ("one-or-none", "entered"),
        ("one-or-none", "exited"),
        ("repeat", "entered"),
    ]


def test_replayed_and_unrelated_records_change_nothing(
    api_client: TestClient, api_runtime: Runtime, api_headers: dict[str, str]
) -> None:
    now = datetime.now(UTC).isoformat()
    records = [customer("pos", "p1", city="上海")]
    assert api_client.post("/api/v1/records", json=records, headers=api_headers).status_code == 200
    _audience(api_client, api_headers, "shanghai", {"attribute": "city", "value": "上海"})
    # The audience was created after the person: an event (which cannot change a city) does
    # not evaluate it, so the person is not in it until a refresh or a customer record.
    viewed = event("pos", "e1", customer_id="p1", type="page_view", occurred_at=now)
    assert api_client.post("/api/v1/events", json=viewed, headers=api_headers).status_code == 200
    assert _members(api_client, api_headers, "shanghai") == []
    updated = [customer("pos", "p1", city="上海", gender="f")]
    assert api_client.post("/api/v1/records", json=updated, headers=api_headers).status_code == 200
    assert len(_members(api_client, api_headers, "shanghai")) == 1
    # The same record again is unchanged: no new history.
    assert api_client.post("/api/v1/records", json=updated, headers=api_headers).status_code == 200
    assert len(_history(api_client, api_headers, "shanghai")) == 1
