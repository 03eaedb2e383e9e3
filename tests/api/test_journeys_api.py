"""REST: journeys (create, version, start, enrol, trace), unsubscribes, SMS callbacks,
tracked links and one-click unsubscribe."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu import channels, journeys
from siyu.channels.fakes import FakeAliyunSms
from siyu.runtime import Runtime
from siyu.tenants import get_tenant
from support import customer, ingest

from .conftest import MakeKey

DEFINITION = {
    "key": "birthday",
    "name": "生日礼",
    "trigger": {"type": "manual"},
    "steps": [
        {
            "id": "sms",
            "type": "send",
            "channel": "sms",
            "category": "transactional",
            "content": {
                "zh-CN": {
                    "template": "SMS_9",
                    "params": {"u": "{{ track('https://shop.example/gift') }}"},
                }
            },
        }
    ],
}


def test_journeys_over_rest(
    api_client: TestClient, api_headers: dict[str, str], api_make_key: MakeKey, api_runtime: Runtime
) -> None:
    with api_runtime.session() as session:
        tenant = get_tenant(session=session, name="default")
        oneid = ingest(
            session, tenant, customer("pos", "c1", {"phone": "13800000001"}, consent={"sms": True})
        )[0].oneid
        session.commit()
    assert (
        api_client.post("/api/v1/journeys", json=DEFINITION, headers=api_headers).status_code == 201
    )
    assert (
        api_client.post("/api/v1/journeys", json=DEFINITION, headers=api_headers).status_code == 409
    )
    bad = {**DEFINITION, "steps": [{"id": "x", "type": "wait"}]}
    assert api_client.post("/api/v1/journeys", json=bad, headers=api_headers).status_code == 422
    reader = {"Authorization": f"Bearer {api_make_key(role='analyst')}"}
    assert api_client.post("/api/v1/journeys/birthday/start", headers=reader).status_code == 403
    assert (
        api_client.post("/api/v1/journeys/birthday/start", headers=api_headers).json()[
            "live_version"
        ]
        == 1
    )
    edited = {**DEFINITION, "name": "生日礼 v2"}
    assert (
        api_client.put("/api/v1/journeys/birthday", json=edited, headers=api_headers).json()[
            "live_version"
        ]
        == 2
    )
    body = {"oneids": [oneid], "request_id": "req-1"}
    first = api_client.post(
        "/api/v1/journeys/birthday/enrolments", json=body, headers=api_headers
    ).json()
    again = api_client.post(
        "/api/v1/journeys/birthday/enrolments", json=body, headers=api_headers
    ).json()
    assert (first["count"], again["count"]) == (1, 0)
    assert (
        api_client.post(
            "/api/v1/journeys/nope/enrolments", json=body, headers=api_headers
        ).status_code
        == 404
    )
    with FakeAliyunSms() as gateway:
        with api_runtime.session() as session:
            tenant = get_tenant(session=session, name="default")
            config = {
                "provider": "aliyun",
                "endpoint": gateway.url,
                "access_key_id": "LTAIfake",
                "access_key_secret": "fake-secret",
                "sign_name": "x",
            }
            channels.configure_channel(session=session, tenant=tenant, channel="sms", config=config)
            channels.configure_channel(
                session=session,
                tenant=tenant,
                channel="tracking",
                config={"secret": "k", "base_url": "http://testserver"},
            )
            channels.set_policy(
                session=session,
                tenant=tenant,
                policy=channels.TouchPolicy(quiet_hours=channels.QuietHours(enabled=False)),
            )
            session.commit()
        adapters = channels.Adapters()
        journeys.run_worker(
            store=api_runtime.store,
            ports=journeys.memory_ports(),
            adapters=adapters,
            options=journeys.WorkerOptions(stop_when_idle=True),
        )
        adapters.close()
        (sent,) = gateway.sent
        enrolment = api_client.get(
            f"/api/v1/enrolments/{first['enrolled'][0]}", headers=api_headers
        ).json()
        assert enrolment["status"] == "completed" and enrolment["version"] == 2
        assert [m["status"] for m in enrolment["messages"]] == ["sent"]
        # the provider pushes its receipt to our callback URL (the key in the query)
        key = api_make_key(role="operator")
        receipt = api_client.post(
            f"/api/v1/channels/sms/aliyun/receipt?api_key={key}", json=gateway.receipts()
        )
        assert receipt.json() == {"code": 0, "msg": "接收成功", "matched": 1}
        assert (
            api_client.post("/api/v1/channels/sms/aliyun/receipt?api_key=nope", json=[]).status_code
            == 401
        )
    # the tracked link records a click on the person's timeline and redirects
    link = sent["params"]["u"]
    assert link.startswith("http://testserver/api/v1/t/")
    followed = api_client.get(link.removeprefix("http://testserver"), follow_redirects=False)
    assert (
        followed.status_code == 302 and followed.headers["location"] == "https://shop.example/gift"
    )
    person = api_client.get(f"/api/v1/persons/{oneid}", headers=api_headers).json()
    assert sorted(e["type"] for e in person["events"]) == ["message_clicked", "message_delivered"]
    assert api_client.get("/api/v1/t/forged.token").status_code == 404
    made = api_client.post(
        "/api/v1/unsubscribes", json={"oneid": oneid, "channel": "sms"}, headers=api_headers
    )
    assert made.json() == {"created": True}
