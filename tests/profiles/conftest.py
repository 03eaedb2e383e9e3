"""Fixtures for the profile tests: a fresh SQLite store per test and tenants with settings."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from siyu.runtime import Runtime, open_runtime
from siyu.tenants import TenantContext, TenantSettings, create_tenant, get_tenant, update_settings

MakeTenant = Callable[..., TenantContext]


@pytest.fixture
def profiles_runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = open_runtime(database_url=f"sqlite:///{tmp_path / 'profiles.db'}")
    yield runtime
    runtime.store.dispose()


@pytest.fixture
def profiles_session(profiles_runtime: Runtime) -> Iterator[Session]:
    """A session on the test's own store (imports commit; the file is thrown away)."""
    with profiles_runtime.session() as session:
        yield session


@pytest.fixture
def profiles_tenant(profiles_session: Session) -> MakeTenant:
    """`profiles_tenant(**settings)`: a new tenant whose settings differ as given."""

    def make(**changes: Any) -> TenantContext:
        name = f"brand_{secrets.token_hex(4)}"
        created = create_tenant(session=profiles_session, name=name)
        settings = TenantSettings.model_validate({**created.settings.model_dump(), **changes})
        update_settings(session=profiles_session, tenant_id=created.id, settings=settings)
        profiles_session.commit()
        return get_tenant(session=profiles_session, name=name)

    return make
