"""Users use cases: create, authenticate, sessions, roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu.store.base import utcnow
from siyu.tenants import ROLES, TenantContext, get_tenant, get_tenant_by_id
from siyu.users.models import User, UserSession
from siyu.users.schemas import SessionStarted, SignedIn, UserInfo

LOCALES = ("zh-CN", "en")
SESSION_DAYS = 7
SESSION_SECONDS = SESSION_DAYS * 86400
# scrypt parameters (RFC 7914's interactive setting); stored with the hash so they can grow.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    """A salted scrypt hash in the form `scrypt$n$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash made by `hash_password` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(computed.hex(), digest)


def create_user(
    *,
    session: Session,
    tenant: TenantContext,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    staff_id: str | None = None,
    locale: str = "zh-CN",
) -> UserInfo:
    """Add a console user to `tenant` (a guide needs the staff_id their customers carry)."""
    username = username.strip()
    if not username:
        raise UserError("username must not be empty")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role == "guide" and not staff_id:
        raise UserError("a guide needs a staff_id (the guide's code on customer records)")
    if locale not in LOCALES:
        raise UserError(f"locale must be one of {', '.join(LOCALES)}")
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    taken = session.scalar(
        select(User.id).where(User.tenant_id == tenant.id, User.username == username)
    )
    if taken is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(
        tenant_id=tenant.id,
        username=username,
        display_name=display_name or username,
        role=role,
        staff_id=staff_id or None,
        locale=locale,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return _info(user)


def list_users(*, session: Session, tenant: TenantContext) -> list[UserInfo]:
    """The tenant's users, by username."""
    rows = session.scalars(select(User).where(User.tenant_id == tenant.id).order_by(User.username))
    return [_info(user) for user in rows]


def update_user(
    *,
    session: Session,
    tenant: TenantContext,
    username: str,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    locale: str | None = None,
) -> UserInfo:
    """Change a user's role, active flag, password or language; signs them out if disabled."""
    user = _user(session, tenant, username)
    if role is not None:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        if role == "guide" and not user.staff_id:
            raise UserError("a guide needs a staff_id")
        user.role = role
    if locale is not None:
        if locale not in LOCALES:
            raise UserError(f"locale must be one of {', '.join(LOCALES)}")
        user.locale = locale
    if password is not None:
        if len(password) < 8:
            raise UserError("password must have at least 8 characters")
        user.password_hash = hash_password(password)
    if active is not None:
        user.active = active
    if active is False or password is not None:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.flush()
    return _info(user)


def sign_in(
    *, session: Session, tenant_name: str, username: str, password: str
) -> SessionStarted | None:
    """A new session for valid credentials of an active user, else None (no hint which)."""
    try:
        tenant = get_tenant(session=session, name=tenant_name)
    except LookupError:
        return None
    user = session.scalar(
        select(User).where(User.tenant_id == tenant.id, User.username == username.strip())
    )
    if user is None or not user.active or not verify_password(password, user.password_hash):
        return None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    session.add(
        UserSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            expires_at=utcnow() + timedelta(days=SESSION_DAYS),
        )
    )
    session.flush()
    return SessionStarted(
        token=token, signed_in=SignedIn(user=_info(user), tenant=tenant, csrf_token=csrf)
    )


def resolve_session(*, session: Session, token: str) -> SignedIn | None:
    """Who a session cookie belongs to, or None when unknown, expired or disabled."""
    found = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _digest(token))
    ).first()
    if found is None:
        return None
    user_session, user = found._tuple()
    if user_session.expires_at <= utcnow() or not user.active:
        return None
    tenant = get_tenant_by_id(session=session, tenant_id=user.tenant_id)
    return SignedIn(user=_info(user), tenant=tenant, csrf_token=user_session.csrf_token)


def sign_out(*, session: Session, token: str) -> None:
    """End the session behind `token` (nothing happens for an unknown token)."""
    session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))
    session.flush()


def _user(session: Session, tenant: TenantContext, username: str) -> User:
    user = session.scalar(
        select(User).where(User.tenant_id == tenant.id, User.username == username)
    )
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        tenant_id=user.tenant_id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        staff_id=user.staff_id,
        locale=user.locale,
        active=user.active,
    )


def change_password(*, session: Session, user_id: int, current: str, new: str) -> None:
    """A user changes their own password (the current one is required); other sessions end."""
    user = session.get(User, user_id)
    if user is None or not verify_password(current, user.password_hash):
        raise UserError("the current password is wrong")
    if len(new) < 8:
        raise UserError("password must have at least 8 characters")
    user.password_hash = hash_password(new)
    session.flush()
