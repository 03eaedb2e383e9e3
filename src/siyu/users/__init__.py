"""Users: console sign-in per tenant, roles (admin, operator, analyst, guide), sessions."""

from siyu.users.schemas import WRITERS, SessionStarted, SignedIn, UserInfo
from siyu.users.service import (
    LOCALES,
    SESSION_SECONDS,
    UserError,
    change_password,
    create_user,
    list_users,
    resolve_session,
    sign_in,
    sign_out,
    update_user,
)

__all__ = [
    "LOCALES",
    "SESSION_SECONDS",
    "WRITERS",
    "SessionStarted",
    "SignedIn",
    "UserError",
    "UserInfo",
    "change_password",
    "create_user",
    "list_users",
    "resolve_session",
    "sign_in",
    "sign_out",
    "update_user",
]
