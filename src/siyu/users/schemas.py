"""Users contracts: who is signed in, and what they may do."""

from __future__ import annotations

from pydantic import BaseModel

from siyu.tenants import TenantContext

# What each role may do in the console; the API keys use the same role names.
WRITERS = frozenset({"admin", "operator"})


class UserInfo(BaseModel):
    id: int
    tenant_id: int
    username: str
    display_name: str
    role: str
    staff_id: str | None
    locale: str
    active: bool

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class SignedIn(BaseModel):
    user: UserInfo
    tenant: TenantContext
    csrf_token: str


class SessionStarted(BaseModel):
    token: str  # for the cookie; shown once, stored hashed
    signed_in: SignedIn
