"""The membership REST API: programs, members, points, tiers, coupons and the mall."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .conftest import MakeKey

BASE = "/api/v1/loyalty"
SETTINGS = {
    "pending_days": 0,
    "expiry": {"kind": "never"},
    "tiers": {
        "tiers": [
            {"code": "base", "name": "Member", "threshold": 0},
            {"code": "gold", "name": "Gold", "threshold": 500, "benefits": [
                {"code": "free_ship", "name": "Free shipping", "kind": "free_shipping"}]},
        ]
    },
}  # fmt: skip


def _person(client: TestClient, headers: dict[str, str], external_id: str) -> str:
    answer = client.post(
        "/api/v1/records",
        headers=headers,
        json=[{"kind": "customer", "source": "pos", "external_id": external_id}],
    )
    oneid: str = answer.json()["results"][0]["oneid"]
    return oneid


def _post(client: TestClient, headers: dict[str, str], path: str, body: Any) -> Any:
    return client.post(BASE + path, headers=headers, json=body)


def test_members_points_and_tiers_over_the_api(
    api_client: TestClient, api_headers: dict[str, str], api_make_key: MakeKey
) -> None:
    oneid = _person(api_client, api_headers, "c1")
    created = _post(
        api_client, api_headers, "/programs", {"code": "main", "name": "Main", "settings": SETTINGS}
    )
    assert created.status_code == 201 and created.json()["settings"]["pending_days"] == 0
    one = api_client.get(BASE + "/programs/main", headers=api_headers)
    assert one.status_code == 200 and one.json() == created.json()
    missing = api_client.get(BASE + "/programs/nope", headers=api_headers)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    member = f"/programs/main/members/{oneid}"
    assert (
        _post(api_client, api_headers, "/programs/main/members", {"oneid": oneid}).status_code
        == 201
    )
    added = _post(
        api_client, api_headers, member + "/adjustments", {"points": 100, "reason": "welcome"}
    )
    assert added.status_code == 201 and added.json()["points"] == 100
    spent = _post(api_client, api_headers, member + "/redemptions", {"points": 30, "key": "pos-1"})
    again = _post(api_client, api_headers, member + "/redemptions", {"points": 30, "key": "pos-1"})
    assert (spent.json()["replayed"], again.json()["replayed"]) == (False, True)
    too_much = _post(
        api_client, api_headers, member + "/redemptions", {"points": 500, "key": "pos-2"}
    )
    assert too_much.status_code == 409 and "70 spendable" in too_much.json()["detail"]
    view = api_client.get(BASE + member, headers=api_headers).json()
    assert view["balance"]["spendable"] == 70 and view["tier"]["to_next"] == 500
    entries = api_client.get(BASE + member + "/entries", headers=api_headers).json()
    assert [(e["kind"], e["actor"]) for e in entries] == [
        ("spend", "api:admin"),
        ("earn", "api:admin"),
    ]
    tier = api_client.put(
        BASE + member + "/tier", headers=api_headers,
        json={"tier": "gold", "reason": "VIP", "locked_until": "2030-01-01T00:00:00+08:00"},
    )  # fmt: skip
    benefits = tier.json()["tier"]["benefits"]
    assert tier.status_code == 200 and [b["code"] for b in benefits] == ["free_ship"]
    changes = api_client.get(BASE + member + "/tier-changes", headers=api_headers).json()
    assert [c["action"] for c in changes] == ["lock"]
    events = api_client.get(BASE + "/events", headers=api_headers).json()
    assert [e["type"] for e in events] == ["enrolled", "tier_changed"]
    cancel = _post(
        api_client, api_headers, member + "/redemptions/pos-1/cancel", {"reason": "void"}
    )
    assert cancel.json()["points"] == 30
    analyst = {"Authorization": f"Bearer {api_make_key('analyst')}"}
    assert (
        _post(
            api_client, analyst, member + "/adjustments", {"points": 1, "reason": "x"}
        ).status_code
        == 403
    )
    assert api_client.get(BASE + member, headers=analyst).status_code == 200
    missing = api_client.get(BASE + "/programs/main/members/NOPE", headers=api_headers)
    assert missing.status_code == 404
    bad = _post(api_client, api_headers, member + "/adjustments", {"points": 0, "reason": "zero"})
    assert bad.status_code == 422


def test_coupons_and_the_points_mall_over_the_api(
    api_client: TestClient, api_headers: dict[str, str]
) -> None:
    oneid = _person(api_client, api_headers, "c1")
    _post(
        api_client, api_headers, "/programs", {"code": "main", "name": "Main", "settings": SETTINGS}
    )
    _post(api_client, api_headers, "/programs/main/members", {"oneid": oneid})
    _post(
        api_client,
        api_headers,
        f"/programs/main/members/{oneid}/adjustments",
        {"points": 500, "reason": "seed"},
    )
    template = {
        "code": "MJ20", "name": "满100减20", "stock": 10, "per_person_limit": 1,
        "rules": {"kind": "threshold", "amount": "20.00", "threshold": "100.00", "valid_days": 30},
    }  # fmt: skip
    assert _post(api_client, api_headers, "/coupon-templates", template).status_code == 201
    issued = _post(
        api_client, api_headers, "/coupons", {"template": "MJ20", "oneid": oneid, "key": "k1"}
    )
    assert issued.status_code == 201
    code = issued.json()["code"]
    over = _post(
        api_client, api_headers, "/coupons", {"template": "MJ20", "oneid": oneid, "key": "k2"}
    )
    assert over.status_code == 409 and "limit 1" in over.json()["detail"]
    low = _post(api_client, api_headers, f"/coupons/{code}/redeem",
                {"order_ref": "order:pos/O1", "amount": "99.00", "source": "pos"})  # fmt: skip
    assert low.status_code == 409
    used = _post(api_client, api_headers, f"/coupons/{code}/redeem",
                 {"order_ref": "order:pos/O1", "amount": "150.00", "source": "pos"})  # fmt: skip
    assert used.json()["status"] == "redeemed" and used.json()["discount"] == "20.00"
    report = api_client.get(BASE + "/coupon-templates/MJ20/report", headers=api_headers).json()
    assert (report["issued"], report["redeemed"], report["attributed_revenue"]) == (1, 1, "150.00")
    reward = {"code": "mug", "name": "Mug", "points": 200, "cash": "9.90", "stock": 1}
    assert _post(api_client, api_headers, "/programs/main/rewards", reward).status_code == 201
    order = _post(api_client, api_headers, "/programs/main/reward-orders",
                  {"oneid": oneid, "reward": "mug", "key": "m1"})  # fmt: skip
    assert order.status_code == 201 and order.json()["cash"] == "9.90"
    sold_out = _post(api_client, api_headers, "/programs/main/reward-orders",
                     {"oneid": oneid, "reward": "mug", "key": "m2"})  # fmt: skip
    assert sold_out.status_code == 409
    cancelled = _post(
        api_client, api_headers, "/programs/main/reward-orders/m1/cancel", {"reason": "oops"}
    )
    assert cancelled.json()["status"] == "cancelled"
    view = api_client.get(BASE + f"/programs/main/members/{oneid}", headers=api_headers).json()
    assert view["balance"]["spendable"] == 500
    coupons = api_client.get(BASE + f"/persons/{oneid}/coupons", headers=api_headers).json()
    assert [c["code"] for c in coupons] == [code]
