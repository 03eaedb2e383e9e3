"""Fixtures for the REST API tests: a fresh SQLite store per test, keys, a TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siyu import online, tenants
from siyu.api import create_app
from siyu.runtime import Runtime, open_runtime
from siyu.tenants import create_api_key, create_tenant
from support import customer

MakeKey = Callable[..., str]


@pytest.fixture
def api_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A runtime over a new, migrated SQLite file of this test's own."""
    runtime = open_runtime(database_url=f"sqlite:///{tmp_path / 'api.db'}")
    yield runtime
    runtime.store.dispose()


@pytest.fixture
def api_make_key(api_runtime: Runtime) -> MakeKey:
    """`api_make_key(role="admin", tenant=None)`: a committed API key, as presented."""

    def make(role: str = "admin", tenant: str | None = None) -> str:
        with api_runtime.session() as session:
            if tenant is None:
                tenant_id = api_runtime.tenant(session).id
            else:
                tenant_id = create_tenant(session=session, name=tenant).id
            created = create_api_key(
                session=session, tenant_id=tenant_id, name=f"test-{role}", role=role
            )
            session.commit()
        return created.key

    return make


@pytest.fixture
def api_client(api_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(api_runtime)) as client:
        yield client


@pytest.fixture
def api_headers(api_make_key: MakeKey) -> dict[str, str]:
    """Bearer headers of an admin key of the default tenant."""
    return {"Authorization": f"Bearer {api_make_key()}"}


# Captured before any test patches it (the batching tests wrap it to hold the writer).
_ACCEPT = online.accept_records


def customers_and_grant(runtime: Runtime) -> tenants.KeyGrant:
    """Twenty customers (c0..c19) to post events for, and the grant of a new admin key."""
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        _ACCEPT(
            session=session,
            tenant=tenant,
            items=[customer("shop", f"c{i}", {"phone": f"1390000{i:04d}"}) for i in range(20)],
            origin="test",
        )
        key = tenants.create_api_key(session=session, tenant_id=tenant.id, name="events").key
        session.commit()
        found = tenants.api_key_grant(session=session, key=key)
    assert found is not None
    return found
