"""Helpers for the console tests: sign in over HTTP or in the browser."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from siyu import identity, ingest
from siyu.runtime import Runtime

PASSWORD = "correct-horse-7"
ROLES = ("admin", "operator", "analyst", "guide")
# The guide test user works for the demo's first guide, who has customers of their own.
GUIDE_STAFF_ID = "G001"

Shoot = Callable[[Any, str], Path]  # the `shoot` fixture: shoot(page, name)


def sign_in(client: TestClient, role: str) -> str:
    """Sign the client in as the test user of `role`; returns the CSRF token."""
    response = client.post(
        "/login", data={"username": f"t-{role}", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/account")  # every signed-in page carries the token in a meta tag
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def browser_page(browser: Any, live_console: str, *, width: int = 1280, height: int = 860) -> Any:
    """A new page in a fresh context (its own cookies), with the console's base URL."""
    context = browser.new_context(
        base_url=live_console, viewport={"width": width, "height": height}, locale="zh-CN"
    )
    context.set_default_timeout(20_000)
    return context.new_page()


def browser_sign_in(page: Any, role: str) -> None:
    """Sign in through the form, as an operator would."""
    page.goto("/login")
    page.get_by_label("用户名").fill(f"t-{role}")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")


def customer_oneids(runtime: Any, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The OneIDs of customer records (source, external_id) in the console's store now."""
    from siyu import identity

    with runtime.session() as session:
        return identity.oneids_of_records(
            session=session, tenant=runtime.tenant(session), kind="customer", refs=refs
        )


def htmx_settled(page: Any) -> None:
    """Wait until HTMX has swapped, settled and wired the new content: a control changed
    before then has no handler yet, so its change would be lost (a race no person wins)."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector("
        "'.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def blocked_pair(runtime: Runtime) -> identity.BlockedView:
    """Two customers sharing a phone with two WeChat unionids: a fresh blocked merge."""
    tag, phone = secrets.token_hex(3), "137" + str(secrets.randbelow(10**8)).zfill(8)
    items = [
        {
            "kind": "customer",
            "source": source,
            "external_id": f"r-{tag}",
            "identifiers": {"phone": phone, "wechat_unionid": f"u{tag}{source}"},
        }
        for source in ("pos", "tmall")
    ]
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        report, _results = ingest.ingest_records(
            session=session, tenant=tenant, items=items, origin="test"
        )
        assert report.blocked_merges == 1
        return next(
            b
            for b in identity.list_blocked(session=session, tenant=tenant)
            if b.record == f"customer:tmall/r-{tag}"
        )
