"""Console users: hashed passwords, sign-in sessions, roles, disabling."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from siyu import users
from siyu.tenants import TenantContext, create_tenant


def _make(session: Session, tenant: TenantContext, **overrides: object) -> users.UserInfo:
    values: dict[str, object] = {
        "username": "lin",
        "password": "s3cret-pass",
        "role": "operator",
    }
    values.update(overrides)
    return users.create_user(session=session, tenant=tenant, **values)  # type: ignore[arg-type]


def test_password_is_stored_hashed_and_checked(session: Session, tenant: TenantContext) -> None:
    _make(session, tenant)
    assert (
        users.sign_in(
            session=session, tenant_name=tenant.name, username="lin", password="wrong-pass"
        )
        is None
    )
    started = users.sign_in(
        session=session, tenant_name=tenant.name, username="lin", password="s3cret-pass"
    )
    assert started is not None
    assert started.signed_in.user.role == "operator"
    found = users.resolve_session(session=session, token=started.token)
    assert found is not None and found.user.username == "lin"
    assert found.csrf_token == started.signed_in.csrf_token
    users.sign_out(session=session, token=started.token)
    assert users.resolve_session(session=session, token=started.token) is None


def test_hash_is_salted_and_not_the_password() -> None:
    first = users.service.hash_password("same-password")
    second = users.service.hash_password("same-password")
    assert first != second and "same-password" not in first
    assert users.service.verify_password("same-password", first)
    assert not users.service.verify_password("other-password", first)
    assert not users.service.verify_password("same-password", "garbage")


def test_users_are_per_tenant(session: Session, tenant: TenantContext) -> None:
    other = create_tenant(session=session, name="brand-b")
    _make(session, tenant)
    _make(session, other, password="other-pass-1")  # same username, other tenant: allowed
    assert (
        users.sign_in(
            session=session, tenant_name="brand-b", username="lin", password="s3cret-pass"
        )
        is None
    )
    with pytest.raises(users.UserError, match="already exists"):
        _make(session, tenant)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"role": "boss"}, "role must be one of"),
        ({"role": "guide"}, "needs a staff_id"),
        ({"password": "short"}, "at least 8"),
        ({"username": "  "}, "must not be empty"),
        ({"locale": "fr"}, "locale must be one of"),
    ],
)
def test_bad_users_are_refused(
    session: Session, tenant: TenantContext, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(users.UserError, match=message):
        _make(session, tenant, **overrides)


def test_disabling_a_user_ends_their_sessions(session: Session, tenant: TenantContext) -> None:
    _make(session, tenant)
    started = users.sign_in(
        session=session, tenant_name=tenant.name, username="lin", password="s3cret-pass"
    )
    assert started is not None
    users.update_user(session=session, tenant=tenant, username="lin", active=False)
    assert users.resolve_session(session=session, token=started.token) is None
    assert (
        users.sign_in(
            session=session, tenant_name=tenant.name, username="lin", password="s3cret-pass"
        )
        is None
    )


def test_change_password_needs_the_current_one(session: Session, tenant: TenantContext) -> None:
    user = _make(session, tenant)
    with pytest.raises(users.UserError, match="current password"):
        users.change_password(session=session, user_id=user.id, current="nope", new="new-pass-99")
    users.change_password(
        session=session, user_id=user.id, current="s3cret-pass", new="new-pass-99"
    )
    assert (
        users.sign_in(
            session=session, tenant_name=tenant.name, username="lin", password="new-pass-99"
        )
        is not None
    )
