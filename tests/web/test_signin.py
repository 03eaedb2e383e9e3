"""Sign-in, roles, CSRF and the language switch, over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from web_support import PASSWORD, sign_in


def test_pages_need_a_signed_in_user(console: TestClient) -> None:
    response = console.get("/overview", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/overview"
    fragment = console.get("/overview", headers={"HX-Request": "true"}, follow_redirects=False)
    assert fragment.headers.get("HX-Redirect") == "/login"


def test_wrong_password_is_refused_without_saying_which_part(console: TestClient) -> None:
    response = console.post("/login", data={"username": "t-admin", "password": "nope-nope"})
    assert response.status_code == 401
    assert "租户、用户名或密码不正确" in response.text
    assert "siyu_session" not in response.cookies


def test_sign_in_lands_on_the_role_home_and_next(console: TestClient) -> None:
    response = console.post(
        "/login",
        data={"username": "t-analyst", "password": PASSWORD, "next": "/account"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/account"
    assert console.get("/", follow_redirects=False).headers["location"] == "/overview"
    # Only local targets: an open redirect would serve phishing.
    console.cookies.clear()
    response = console.post(
        "/login",
        data={"username": "t-analyst", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/overview"


def test_guides_cannot_open_staff_sections(console: TestClient) -> None:
    sign_in(console, "guide")
    assert console.get("/overview").status_code == 403
    menu = console.get("/account").text
    assert 'href="/overview"' not in menu and 'href="/persons"' in menu


def test_writes_need_the_csrf_token(console: TestClient) -> None:
    token = sign_in(console, "operator")
    refused = console.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    done = console.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303
    assert console.get("/account", follow_redirects=False).status_code == 303  # signed out


def test_chinese_by_default_english_by_switch(console: TestClient) -> None:
    sign_in(console, "admin")
    page = console.get("/account").text
    assert '<html lang="zh-CN">' in page and "我的账号" in page
    console.get("/lang/en?next=/account")
    page = console.get("/account").text
    assert '<html lang="en">' in page and "My account" in page and "我的账号" not in page
    console.get("/lang/zh-CN")
    assert "我的账号" in console.get("/account").text
