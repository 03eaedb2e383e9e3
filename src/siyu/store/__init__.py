"""The transactional store: SQLAlchemy engine, sessions, column types, migrations."""

from siyu.store.base import Base, Money, TenantScoped, UtcDateTime
from siyu.store.db import Store, open_store, refresh_statistics

__all__ = [
    "Base",
    "Money",
    "Store",
    "TenantScoped",
    "UtcDateTime",
    "open_store",
    "refresh_statistics",
]
