"""Tenant use cases: load a tenant's context, change its settings, manage API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from siyu.store.base import utcnow
from siyu.store.fast import Fast
from siyu.tenants.models import ApiKey, Tenant
from siyu.tenants.schemas import (
    ApiKeyCreated,
    ApiKeyInfo,
    KeyGrant,
    TenantContext,
    TenantSettings,
)

ROLES = ("admin", "operator", "analyst", "guide")


class UnknownTenantError(LookupError):
    pass


def get_tenant(*, session: Session, name: str) -> TenantContext:
    """The tenant called `name`, with its settings."""
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise UnknownTenantError(f"no tenant named {name!r}")
    return _context(tenant)


def get_tenant_by_id(*, session: Session, tenant_id: int) -> TenantContext:
    """The tenant with id `tenant_id`, with its settings (workers serving every tenant)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise UnknownTenantError(f"no tenant with id {tenant_id}")
    return _context(tenant)


def create_tenant(*, session: Session, name: str) -> TenantContext:
    """Register a new tenant (brand) with default settings."""
    tenant = Tenant(name=name, settings=TenantSettings().model_dump(mode="json"))
    session.add(tenant)
    session.flush()
    return _context(tenant)


def update_settings(*, session: Session, tenant_id: int, settings: TenantSettings) -> None:
    """Replace a tenant's settings (validated as a whole)."""
    tenant = session.get_one(Tenant, tenant_id)
    tenant.settings = settings.model_dump(mode="json")


def _context(tenant: Tenant) -> TenantContext:
    return TenantContext(
        id=tenant.id, name=tenant.name, settings=TenantSettings.model_validate(tenant.settings)
    )


def create_api_key(
    *, session: Session, tenant_id: int, name: str, role: str = "admin"
) -> ApiKeyCreated:
    """Issue a key `siyu_<prefix>_<secret>`; the secret is returned once and stored hashed."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    key = ApiKey(
        tenant_id=tenant_id, name=name, prefix=prefix, secret_hash=_hash(secret), role=role
    )
    session.add(key)
    session.flush()
    return ApiKeyCreated(id=key.id, name=name, role=role, key=f"siyu_{prefix}_{secret}")


def authenticate_api_key(*, session: Session, key: str) -> tuple[TenantContext, str] | None:
    """The tenant and role a presented key grants, or None if it is unknown or revoked."""
    grant = api_key_grant(session=session, key=key)
    if grant is None:
        return None
    return _context(session.get_one(Tenant, grant.tenant_id)), grant.role


def api_key_grant(*, session: Session, key: str) -> KeyGrant | None:
    """What a presented key grants (key, tenant, role), or None if unknown or revoked."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "siyu":
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or row.revoked_at is not None:
        return None
    # Constant-time comparison: no timing oracle on the secret.
    if not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        return None
    return KeyGrant(key_id=row.id, tenant_id=row.tenant_id, role=row.role)


def unrevoked_api_keys(*, session: Session, key_ids: Collection[int]) -> set[int]:
    """Those of `key_ids` that still exist and are not revoked (a check inside a write
    transaction, for callers that remember grants between requests)."""
    # One short statement per key: a batch of requests comes with one key or a few.
    return {key_id for key_id in key_ids if _UNREVOKED.scalar(session, {"id": key_id})}


_UNREVOKED = Fast(
    select(ApiKey.id).where(ApiKey.id == bindparam("id"), ApiKey.revoked_at.is_(None))
)


def list_api_keys(*, session: Session, tenant_id: int) -> list[ApiKeyInfo]:
    """The tenant's API keys, newest first (prefixes only: secrets are never stored)."""
    rows = session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id.desc())
    )
    return [
        ApiKeyInfo(
            id=row.id,
            name=row.name,
            role=row.role,
            prefix=row.prefix,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
        for row in rows
    ]


def revoke_api_key(*, session: Session, tenant_id: int, key_id: int) -> bool:
    """Revoke a key; returns False when the tenant has no such key."""
    row = session.get(ApiKey, key_id)
    if row is None or row.tenant_id != tenant_id:
        return False
    row.revoked_at = utcnow()
    return True


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
