"""REST review of blocked merges: list open and reviewed, approve, dismiss (writers only)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from siyu import traits
from siyu.runtime import Runtime

from .conftest import MakeKey
from .test_api import customer, order, post_records


def _blocked(client: TestClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/identity/blocked", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def _seed(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Two pairs that share a phone but have two WeChat unionids (one per person), each
    customer with one order of 100.00."""
    records = []
    for phone, pair in (("13800000001", ("A", "B")), ("13800000002", ("C", "D"))):
        for source, name in zip(("wechat_mp", "wecom"), pair, strict=True):
            ids = {"phone": phone, "wechat_unionid": f"u-{name}"}
            records += [customer(source, name, identifiers=ids), order(source, f"o-{name}", name)]
    post_records(client, headers, records)
    items = sorted(_blocked(client, headers), key=lambda i: str(i["record"]))
    assert [i["record"] for i in items] == ["customer:wecom/B", "customer:wecom/D"]
    return items


def test_approve_merges_and_refreshes_the_person(
    api_client: TestClient, api_headers: dict[str, str], api_runtime: Runtime
) -> None:
    approve, dismiss = _seed(api_client, api_headers)
    kept, gone = approve["other_oneid"], approve["oneid"]
    before = api_client.get(f"/api/v1/persons/{kept}", headers=api_headers).json()
    assert before["traits"]["order_count"] == 1

    response = api_client.post(
        f"/api/v1/identity/blocked/{approve['id']}/approve",
        json={"reason": "same shopper"},
        headers=api_headers,
    )
    assert response.status_code == 200, response.text
    decision = response.json()
    assert (decision["status"], decision["oneid"], decision["retired_oneids"]) == (
        "approved",
        kept,
        [gone],
    )
    # The retired OneID resolves to the kept one, whose traits now count both orders.
    view = api_client.get(f"/api/v1/persons/{gone}", headers=api_headers).json()
    assert (view["oneid"], view["requested"]) == (kept, gone)
    assert view["traits"]["order_count"] == 2
    assert view["traits"]["net_paid"] == "200.00"
    # The stored purchase traits (what audiences read) were refreshed with the merge.
    with api_runtime.session() as session:
        tenant = api_runtime.tenant(session)
        stored = traits.get_traits(session=session, tenant=tenant, oneid=kept)
        assert stored is not None and stored.order_count == 2
        assert traits.get_traits(session=session, tenant=tenant, oneid=gone) is None
    explained = api_client.get(f"/api/v1/persons/{kept}/explain", headers=api_headers).json()
    (approval,) = [c for c in explained["changes"] if c["action"] == "approve"]
    assert (approval["actor"], approval["detail"]["reason"]) == ("api:admin", "same shopper")

    response = api_client.post(
        f"/api/v1/identity/blocked/{dismiss['id']}/dismiss",
        json={"reason": "family phone"},
        headers=api_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dismissed"
    assert _blocked(api_client, api_headers) == []
    reviewed = _blocked(api_client, api_headers, status="reviewed")
    assert {(r["id"], r["status"], r["reason"]) for r in reviewed} == {
        (approve["id"], "approved", "same shopper"),
        (dismiss["id"], "dismissed", "family phone"),
    }
    assert [r["id"] for r in _blocked(api_client, api_headers, status="dismissed")] == [
        dismiss["id"]
    ]


def test_review_errors(api_client: TestClient, api_headers: dict[str, str]) -> None:
    approve, _dismiss = _seed(api_client, api_headers)
    url = f"/api/v1/identity/blocked/{approve['id']}/approve"
    assert api_client.post(url, json={"reason": "ok"}, headers=api_headers).status_code == 200
    twice = api_client.post(url, json={"reason": "ok"}, headers=api_headers)
    assert twice.status_code == 409 and "already approved" in twice.json()["detail"]
    missing = api_client.post(
        "/api/v1/identity/blocked/99999/dismiss", json={"reason": "x"}, headers=api_headers
    )
    assert missing.status_code == 409 and "no open blocked merge" in missing.json()["detail"]
    no_reason = api_client.post(
        "/api/v1/identity/blocked/1/dismiss", json={"reason": ""}, headers=api_headers
    )
    assert no_reason.status_code == 422
    odd = api_client.get("/api/v1/identity/blocked?status=maybe", headers=api_headers)
    assert odd.status_code == 422


def test_analyst_lists_but_cannot_decide(api_client: TestClient, api_make_key: MakeKey) -> None:
    admin = {"Authorization": f"Bearer {api_make_key()}"}
    item, _other = _seed(api_client, admin)
    analyst = {"Authorization": f"Bearer {api_make_key('analyst')}"}
    assert len(_blocked(api_client, analyst)) == 2
    for verb in ("approve", "dismiss"):
        response = api_client.post(
            f"/api/v1/identity/blocked/{item['id']}/{verb}",
            json={"reason": "not mine to decide"},
            headers=analyst,
        )
        assert response.status_code == 403, verb
        assert "analyst" in response.json()["detail"]
    assert len(_blocked(api_client, admin)) == 2  # nothing decided
