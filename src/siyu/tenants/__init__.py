"""Tenants (brands): settings, identity rules and API keys. Public names below."""

from siyu.tenants.schemas import (
    ApiKeyCreated,
    ApiKeyInfo,
    IdentityRules,
    LifecycleWindows,
    MatchRules,
    RfmRules,
    TenantContext,
    TenantSettings,
    TraitRules,
)
from siyu.tenants.service import (
    ROLES,
    UnknownTenantError,
    authenticate_api_key,
    create_api_key,
    create_tenant,
    get_tenant,
    get_tenant_by_id,
    list_api_keys,
    revoke_api_key,
    update_settings,
)

__all__ = [
    "ROLES",
    "ApiKeyCreated",
    "ApiKeyInfo",
    "IdentityRules",
    "LifecycleWindows",
    "RfmRules",
    "MatchRules",
    "TenantContext",
    "TenantSettings",
    "TraitRules",
    "UnknownTenantError",
    "authenticate_api_key",
    "create_api_key",
    "create_tenant",
    "get_tenant",
    "get_tenant_by_id",
    "list_api_keys",
    "revoke_api_key",
    "update_settings",
]
