"""Fixtures: a migrated store per backend, rollback sessions, tenants, input files.

PostgreSQL runs only when SIYU_TEST_POSTGRES_URL is set; each test session then works in
a schema of its own (created here, dropped at the end), so runs never collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from siyu.engine import ENGINES, spark_session, spark_unavailable
from siyu.store import Store, open_store
from siyu.tenants import IdentityRules, TenantContext, get_tenant
from support import Files, MakeTenant, rollback_session, tenant_with

POSTGRES_ENV = "SIYU_TEST_POSTGRES_URL"


def pytest_configure(config: pytest.Config) -> None:
    # Sealed secrets in tests use a key of the run's own, never a key file in the checkout.
    from cryptography.fernet import Fernet

    os.environ.setdefault("SIYU_SECRET_KEY", Fernet.generate_key().decode())
    # Test apps write posted events in their own process: a writing process per app would
    # cost every console and API test a start-up. Tests of the writing process ask for it.
    os.environ.setdefault("SIYU_API_WRITER", "thread")


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A migrated SQLite database file, shared by the whole test session."""
    path = tmp_path_factory.mktemp("store") / "siyu-test.db"
    store = open_store(f"sqlite:///{path}")
    yield store
    store.dispose()


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a new PostgreSQL schema of its own (dropped afterwards); skipped, or failed
    under SIYU_REQUIRE_POSTGRES, when no server is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("SIYU_REQUIRE_POSTGRES"):  # CI: a missing database is a failure
            pytest.fail(f"SIYU_REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL tests skipped")
    schema = f"siyu_test_{secrets.token_hex(6)}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # set but unreachable: a failure, never a skip
        admin.dispose()
        raise RuntimeError(f"{POSTGRES_ENV} is set but PostgreSQL is unusable: {error}") from error
    parsed = make_url(url)
    options = " ".join(
        filter(None, [str(parsed.query.get("options") or ""), f"-csearch_path={schema}"])
    )
    try:
        yield parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_store() -> Iterator[Store]:
    """A migrated PostgreSQL schema of this test session's own, dropped at the end."""
    with postgres_schema() as url:
        store = open_store(url)
        try:
            yield store
        finally:
            store.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL schema of this test's own, for work that commits from other processes."""
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Store:
    """The store under test: SQLite always, PostgreSQL when configured."""
    found: Store = request.getfixturevalue(f"{request.param}_store")
    return found


@pytest.fixture
def session(store: Store) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits release savepoints)."""
    with rollback_session(store) as session:
        yield session


@pytest.fixture
def tenant(session: Session) -> TenantContext:
    """The default tenant the first migration creates."""
    return get_tenant(session=session, name="default")


@pytest.fixture
def make_tenant(session: Session) -> MakeTenant:
    """`make_tenant(IdentityRules(...), timezone=...)`: a tenant with custom rules."""

    def make(
        identity: IdentityRules | None = None,
        *,
        timezone: str | None = None,
        name: str | None = None,
    ) -> TenantContext:
        return tenant_with(session, identity, timezone=timezone, name=name)

    return make


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """Writes JSONL / CSV / .gz input files into the test's tmp_path."""
    return Files(tmp_path)


@pytest.fixture(scope="session")
def spark_ready() -> None:
    """One Spark session for the whole run; skipped (visibly) or failed when unavailable."""
    reason = spark_unavailable()
    if reason:
        if os.environ.get("SIYU_REQUIRE_SPARK"):  # CI: a missing Spark is a failure
            pytest.fail(f"SIYU_REQUIRE_SPARK is set but the Spark engine cannot run: {reason}")
        pytest.skip(f"Spark engine tests skipped: {reason}")
    spark_session("local[2]")


@pytest.fixture(params=[pytest.param(e, marks=getattr(pytest.mark, e)) for e in ENGINES])
def engine_name(request: pytest.FixtureRequest) -> str:
    """Each engine computation runs on DuckDB and on Spark (the shared engine suite)."""
    if request.param == "spark":
        store_param = getattr(request.node, "callspec", None)
        if store_param is not None and store_param.params.get("store") == "postgres":
            pytest.skip("Spark runs with the SQLite store only: it reads the same snapshot")
        request.getfixturevalue("spark_ready")
    return str(request.param)
