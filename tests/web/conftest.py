"""Console fixtures: a demo brand in a store of its own, test users, a live server, Chromium.

The browser tests drive Debian's Chromium (`/usr/bin/chromium`, or SIYU_CHROMIUM) through
Playwright; without it they skip with the reason shown, unless SIYU_REQUIRE_CHROMIUM is set
(CI), where a missing browser is a failure. Screenshots go to SIYU_SCREENSHOT_DIR
(default `test-artifacts/screenshots`).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu import identity, users
from siyu.api import create_app
from siyu.config import load_settings
from siyu.demo.service import run_demo
from siyu.runtime import Runtime
from siyu.store import open_store
from web_support import GUIDE_STAFF_ID, PASSWORD, ROLES, Shoot

SCREENSHOTS = Path(os.environ.get("SIYU_SCREENSHOT_DIR", "test-artifacts/screenshots"))


def open_test_runtime(directory: Path) -> Runtime:
    """A runtime over a new SQLite file, with the engine's snapshots in `directory` too."""
    url = f"sqlite:///{directory / 'console.db'}"
    settings = load_settings(database_url=url, engine_dir=str(directory / "engine"))
    return Runtime(settings=settings, store=open_store(url))


@pytest.fixture(scope="session")
def console_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """The demo brand (400 persons, traits computed) and one test user per role."""
    directory = tmp_path_factory.mktemp("console")
    runtime = open_test_runtime(directory)
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        run_demo(
            session=session,
            tenant=tenant,
            out_dir=directory / "demo",
            persons=400,
            seed=11,
            engine_dir=Path(runtime.settings.engine_dir),
        )
        for role in ROLES:
            users.create_user(
                session=session,
                tenant=tenant,
                username=f"t-{role}",
                password=PASSWORD,
                role=role,
                display_name=f"Test {role}",
                staff_id=GUIDE_STAFF_ID if role == "guide" else None,
            )
        session.commit()
    yield runtime
    runtime.store.dispose()


@pytest.fixture
def console(console_runtime: Runtime) -> Iterator[TestClient]:
    """A client of the console over the demo store (cookies kept between requests)."""
    with TestClient(create_app(console_runtime)) as client:
        yield client


@pytest.fixture(scope="session")
def live_console(console_runtime: Runtime) -> Iterator[str]:
    """The console served by uvicorn on a free local port, for the browser."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(console_runtime), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the console server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _chromium() -> str | None:
    path = os.environ.get("SIYU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's package, driven by Playwright."""
    executable = _chromium()
    reason = None
    if executable is None:
        reason = "Chromium not found (install Debian's `chromium` package)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    if reason:
        if os.environ.get("SIYU_REQUIRE_CHROMIUM"):
            pytest.fail(f"SIYU_REQUIRE_CHROMIUM is set but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def shoot() -> Shoot:
    """`shoot(page, name)`: a full-page screenshot saved under SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def review_queue(console_runtime: Runtime) -> None:
    """Probable matches of the demo brand queued for review (none merged automatically)."""
    never = 2.0  # an accept threshold no probability reaches
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        if not identity.list_review(session=session, tenant=tenant, limit=1):
            identity.run_matching(session=session, tenant=tenant, accept=never)
            session.commit()
