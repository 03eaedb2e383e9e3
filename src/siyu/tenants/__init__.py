"""Tenants (brands): settings, identity rules and API keys. Public names below."""

from siyu.tenants.schemas import (
    ApiKeyCreated,
    IdentityRules,
    MatchRules,
    TenantContext,
    TenantSettings,
)
from siyu.tenants.service import (
    ROLES,
    UnknownTenantError,
    authenticate_api_key,
    create_api_key,
    create_tenant,
    get_tenant,
    revoke_api_key,
    update_settings,
)

__all__ = [
    "ROLES",
    "ApiKeyCreated",
    "IdentityRules",
    "MatchRules",
    "TenantContext",
    "TenantSettings",
    "UnknownTenantError",
    "authenticate_api_key",
    "create_api_key",
    "create_tenant",
    "get_tenant",
    "revoke_api_key",
    "update_settings",
]
