"""Wiring for interfaces: settings + store + the tenant a command or request acts for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from siyu.config import Settings, load_settings
from siyu.store import Store, open_store
from siyu.tenants import TenantContext, get_tenant


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that rolls back whatever was not committed."""
        session = self.store.session()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def tenant(self, session: Session, name: str | None = None) -> TenantContext:
        return get_tenant(session=session, name=name or self.settings.default_tenant)


def open_runtime(*, database_url: str | None = None) -> Runtime:
    """Settings from the environment (an explicit URL wins) and a migrated store."""
    settings = load_settings(database_url=database_url)
    return Runtime(settings=settings, store=open_store(settings.database_url))
