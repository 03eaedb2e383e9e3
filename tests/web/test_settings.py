"""设置: channel secrets are write-only, API keys shown once, users managed by admins."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu import channels, tenants, users
from siyu.runtime import Runtime
from web_support import PASSWORD, sign_in


def test_only_admins_open_settings(console: TestClient) -> None:
    sign_in(console, "operator")
    assert console.get("/settings").status_code == 403
    console.cookies.clear()
    sign_in(console, "admin")
    page = console.get("/settings")
    assert page.status_code == 200
    assert "tmall" in page.text and "数据源" in page.text


def test_channel_secret_is_never_shown_back_and_blank_keeps_it(
    console: TestClient, console_runtime: Runtime
) -> None:
    token = sign_in(console, "admin")
    form = {
        "csrf": token,
        "corpid": "ww-test-corp",
        "secret": "top-secret-value-123",
        "agentid": "1000002",
    }
    assert console.post("/settings/channels/wecom_staff", data=form).status_code == 200
    page = console.get("/settings/channels").text
    assert "ww-test-corp" in page and "top-secret-value-123" not in page
    # Saving again with the secret left blank keeps the stored secret.
    form.update(secret="", corpid="ww-new-corp")
    console.post("/settings/channels/wecom_staff", data=form)
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        stored = channels.channel_config(session=session, tenant=tenant, channel="wecom_staff")
    assert stored == {"corpid": "ww-new-corp", "secret": "top-secret-value-123", "agentid": 1000002}


def test_missing_required_credential_is_a_clear_error(console: TestClient) -> None:
    token = sign_in(console, "admin")
    response = console.post(
        "/settings/channels/sms:tencent", data={"csrf": token, "secret_id": "AKID"}
    )
    assert response.status_code == 400
    assert "required: secret_key, sdk_app_id, sign_name" in response.text


def test_api_key_is_shown_once_and_works_until_revoked(
    console: TestClient, console_runtime: Runtime
) -> None:
    token = sign_in(console, "admin")
    page = console.post(
        "/settings/apikeys", data={"csrf": token, "name": "crm-sync", "role": "analyst"}
    )
    marker = '<code id="new-key">'
    key = page.text[page.text.index(marker) + len(marker) :].split("<", 1)[0]
    assert (
        console.get("/api/v1/reports", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    assert key not in console.get("/settings/apikeys").text
    with console_runtime.session() as session:
        found = [
            k for k in tenants.list_api_keys(session=session, tenant_id=1) if k.name == "crm-sync"
        ]
    console.post(f"/settings/apikeys/{found[0].id}/revoke", data={"csrf": token})
    assert (
        console.get("/api/v1/reports", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )


def test_admin_adds_a_guide_who_then_signs_in(
    console: TestClient, console_runtime: Runtime
) -> None:
    token = sign_in(console, "admin")
    form = {
        "csrf": token,
        "username": "guide-xu",
        "password": "short",
        "role": "guide",
        "staff_id": "G002",
    }
    refused = console.post("/settings/users", data=form)
    assert "at least 8 characters" in refused.text
    form["password"] = PASSWORD
    console.post("/settings/users", data=form)
    with console_runtime.session() as session:
        listed = {
            u.username: u
            for u in users.list_users(session=session, tenant=console_runtime.tenant(session))
        }
    assert listed["guide-xu"].role == "guide" and listed["guide-xu"].staff_id == "G002"
    # Disabling signs them out for good.
    console.post("/settings/users/guide-xu", data={"csrf": token, "active": "0"})
    other = TestClient(console.app)
    refused_login = other.post(
        "/login", data={"username": "guide-xu", "password": PASSWORD}, follow_redirects=False
    )
    assert refused_login.status_code == 401


def test_admin_cannot_lock_themselves_out(console: TestClient) -> None:
    token = sign_in(console, "admin")
    page = console.post("/settings/users/t-admin", data={"csrf": token, "active": "0"})
    assert "cannot demote or disable yourself" in page.text
    assert console.get("/settings").status_code == 200
