"""Tags and audiences over the REST API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.conftest import MakeKey
from rules.dataset import AS_OF, RECORDS
from siyu.runtime import Runtime
from support import identity_map


def _load(
    client: TestClient, runtime: Runtime, headers: dict[str, str], tmp: Path
) -> dict[str, str]:
    runtime.settings.engine_dir = str(tmp / "engine")
    posted = client.post("/api/v1/records", json={"records": RECORDS}, headers=headers)
    assert posted.status_code == 200 and posted.json()["quarantined"] == 0
    with runtime.session() as session:
        labels = identity_map(session, runtime.tenant(session))
    return {
        "A": labels["customer:tmall/a1"],
        "B": labels["customer:jd/b1"],
        "E": labels["customer:pos/e1"],
    }


def test_tags_api(
    api_client: TestClient, api_runtime: Runtime, api_headers: dict[str, str], tmp_path: Path
) -> None:
    p = _load(api_client, api_runtime, api_headers, tmp_path)
    url = "/api/v1/tags"
    assert api_client.post(url, json={"key": "VIP"}, headers=api_headers).status_code == 201
    group = api_client.post("/api/v1/tag-groups", json={"name": "肤质"}, headers=api_headers)
    assert group.status_code == 201 and group.json()["exclusive"] is True
    for value in ("干", "油"):
        assert (
            api_client.post(url, json={"key": f"肤质={value}"}, headers=api_headers).status_code
            == 201
        )
    given = api_client.post(
        f"{url}/VIP/persons", json={"oneids": [p["A"]], "by": "alice"}, headers=api_headers
    )
    assert given.json() == {"given": 1, "already": 0, "replaced": 0, "unknown": []}
    imported = api_client.post(
        f"{url}/import?origin=skin.csv",
        content=f"oneid,tag\n{p['A']},肤质=干\n{p['A']},肤质=油\nx,肤质=干\n".encode(),
        headers={**api_headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["bad"][0]["reason"] == "no person 'x'"
    held = api_client.get(f"/api/v1/persons/{p['A']}/tags", headers=api_headers).json()
    assert {(t["key"], t["given_by_kind"], t["given_by"]) for t in held} == {
        ("VIP", "user", "alice"),
        ("肤质=油", "import", "skin.csv"),  # the later value replaced 肤质=干
    }
    rule = {"trait": "order_count", "op": ">=", "value": 2}
    assert (
        api_client.post(url, json={"key": "复购", "rule": rule}, headers=api_headers).status_code
        == 201
    )
    computed = api_client.post(f"{url}/compute", json={"as_of": str(AS_OF)}, headers=api_headers)
    assert computed.status_code == 200
    assert computed.json()["tags"] == [{"key": "复购", "holders": 2, "given": 2, "removed": 0}]
    assert api_client.get(f"{url}/复购", headers=api_headers).json()["holders"] == 2
    new_rule = {"trait": "order_count", "op": ">=", "value": 3}
    assert api_client.put(f"{url}/复购/rule", json=new_rule, headers=api_headers).status_code == 200
    removed = api_client.delete(f"{url}/VIP/persons/{p['A']}", headers=api_headers)
    assert removed.json() == {"removed": 1}
    history = api_client.get(f"/api/v1/persons/{p['A']}/tag-history", headers=api_headers).json()
    assert any(h["key"] == "VIP" and h["removed_at"] for h in history)
    bad = api_client.post(url, json={"key": "x", "rule": {"tag": "nope"}}, headers=api_headers)
    assert bad.status_code == 422 and bad.json()["detail"] == ["unknown tag 'nope'"]
    assert api_client.get(f"{url}/nope", headers=api_headers).status_code == 404
    refused = api_client.post(f"{url}/复购/persons", json={"oneids": [p["A"]]}, headers=api_headers)
    assert refused.status_code == 422
    assert len(api_client.get(url, headers=api_headers).json()) == 4


def test_audiences_api(
    api_client: TestClient,
    api_runtime: Runtime,
    api_headers: dict[str, str],
    api_make_key: MakeKey,
    tmp_path: Path,
) -> None:
    p = _load(api_client, api_runtime, api_headers, tmp_path)
    url = "/api/v1/audiences"
    member = {"has_identifier": "member_no"}
    shanghai = {"attribute": "city", "value": "上海"}
    preview = api_client.post(
        f"{url}/preview", json={"rule": member, "as_of": str(AS_OF)}, headers=api_headers
    )
    assert preview.status_code == 200 and preview.json()["count"] == 2
    analyst = {"Authorization": f"Bearer {api_make_key('analyst')}"}
    assert (
        api_client.post(f"{url}/preview", json={"rule": shanghai}, headers=analyst).status_code
        == 200
    )
    assert (
        api_client.post(url, json={"name": "会员", "rule": member}, headers=analyst).status_code
        == 403
    )
    for name, rule in (("会员", member), ("上海", shanghai)):
        made = api_client.post(url, json={"name": name, "rule": rule}, headers=api_headers)
        assert made.status_code == 201 and made.json()["size"] == 0
    refreshed = api_client.post(f"{url}/refresh", json={"as_of": str(AS_OF)}, headers=api_headers)
    assert {a["name"]: a["size"] for a in refreshed.json()["audiences"]} == {"会员": 2, "上海": 2}
    assert sorted(api_client.get(f"{url}/会员/members", headers=api_headers).json()) == sorted(
        [p["A"], p["E"]]
    )
    changes = api_client.get(
        f"{url}/changes",
        params={"since": "2000-01-01T00:00:00+00:00", "audience": "会员"},
        headers=api_headers,
    ).json()
    assert sorted(c["oneid"] for c in changes) == sorted([p["A"], p["E"]])
    overlap = api_client.get(f"{url}/overlap", headers=api_headers).json()
    assert overlap["pairs"] == [{"a": "上海", "b": "会员", "both": 1, "only_a": 1, "only_b": 1}]
    exported = api_client.get(
        f"{url}/会员/export", params={"fields": "oneid,member_no"}, headers=api_headers
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.removeprefix("\ufeff").splitlines()
    assert lines[0] == "oneid,member_no" and f"{p['E']},M005" in lines
    history = api_client.get(f"{url}/会员/history", params={"oneid": p["A"]}, headers=api_headers)
    assert [h["entered_by"] for h in history.json()] == ["refresh"]
    patched = api_client.patch(f"{url}/会员", json={"description": "members"}, headers=api_headers)
    assert patched.json()["description"] == "members" and patched.json()["rule"] == member
    bad_rule = api_client.post(f"{url}/preview", json={"rule": {"trait": "x"}}, headers=api_headers)
    assert bad_rule.status_code == 422 and "unknown trait 'x'" in bad_rule.json()["detail"][0]
    bad_field = api_client.get(
        f"{url}/会员/export", params={"fields": "oneid,pw"}, headers=api_headers
    )
    assert bad_field.status_code == 422
    assert api_client.get(f"{url}/nope", headers=api_headers).status_code == 404
    assert api_client.delete(f"{url}/上海", headers=api_headers).status_code == 204
    assert [a["name"] for a in api_client.get(url, headers=api_headers).json()] == ["会员"]
