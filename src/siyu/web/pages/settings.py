"""设置: sources, channel credentials (secrets write-only), API keys and users. Admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import channels, records, tenants, users
from siyu.web.auth import Admin, SessionDep
from siyu.web.render import page

router = APIRouter(prefix="/settings", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def sources(
    request: Request, session: SessionDep, viewer: Admin, error: str | None = None
) -> HTMLResponse:
    counts = records.counts_by_source(session=session, tenant=viewer.tenant)
    return page(
        request,
        "settings/sources.html",
        {
            "tab": "sources",
            "counts": counts,
            "priority": viewer.tenant.settings.profile_source_priority,
            "error": error,
        },
    )


@router.post("/sources")
def save_priority(session: SessionDep, viewer: Admin, priority: Annotated[str, Form()]) -> Response:
    order = [name.strip() for name in priority.replace("，", ",").split(",") if name.strip()]
    if len(set(order)) != len(order):
        return RedirectResponse("/settings?error=duplicate", status_code=303)
    settings = viewer.tenant.settings.model_copy(update={"profile_source_priority": order})
    tenants.update_settings(session=session, tenant_id=viewer.tenant.id, settings=settings)
    session.commit()
    return RedirectResponse("/settings", status_code=303)


@router.get("/channels", response_class=HTMLResponse)
def channel_settings(
    request: Request, session: SessionDep, viewer: Admin, saved: str | None = None
) -> HTMLResponse:
    accounts = channels.channel_accounts(session=session, tenant=viewer.tenant)
    return page(
        request,
        "settings/channels.html",
        {"tab": "channels", "accounts": accounts, "saved": saved, "error": None},
    )


@router.post("/channels/{form}", response_class=HTMLResponse)
async def save_channel(request: Request, session: SessionDep, viewer: Admin, form: str) -> Response:
    submitted = await request.form()
    values = {key: str(value) for key, value in submitted.items() if key != "csrf"}
    try:
        channels.update_channel_credentials(
            session=session, tenant=viewer.tenant, form=form, values=values
        )
    except ValueError as error:
        accounts = channels.channel_accounts(session=session, tenant=viewer.tenant)
        return page(
            request,
            "settings/channels.html",
            {"tab": "channels", "accounts": accounts, "saved": None, "error": str(error)},
            status=400,
        )
    session.commit()
    return RedirectResponse(f"/settings/channels?saved={form}", status_code=303)


@router.get("/apikeys", response_class=HTMLResponse)
def api_keys(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    return _keys_page(request, session, viewer, created=None)


def _keys_page(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    *,
    created: tenants.ApiKeyCreated | None,
) -> HTMLResponse:
    keys = tenants.list_api_keys(session=session, tenant_id=viewer.tenant.id)
    return page(
        request,
        "settings/apikeys.html",
        {"tab": "apikeys", "keys": keys, "created": created, "roles": tenants.ROLES},
    )


@router.post("/apikeys", response_class=HTMLResponse)
def create_key(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
) -> HTMLResponse:
    created = tenants.create_api_key(
        session=session, tenant_id=viewer.tenant.id, name=name.strip() or "console", role=role
    )
    session.commit()
    # The key is shown on this response only: it is stored hashed.
    return _keys_page(request, session, viewer, created=created)


@router.post("/apikeys/{key_id}/revoke")
def revoke_key(session: SessionDep, viewer: Admin, key_id: int) -> Response:
    tenants.revoke_api_key(session=session, tenant_id=viewer.tenant.id, key_id=key_id)
    session.commit()
    return RedirectResponse("/settings/apikeys", status_code=303)


@router.get("/users", response_class=HTMLResponse)
def user_list(
    request: Request, session: SessionDep, viewer: Admin, error: str | None = None
) -> HTMLResponse:
    found = users.list_users(session=session, tenant=viewer.tenant)
    return page(
        request,
        "settings/users.html",
        {"tab": "users", "users": found, "roles": tenants.ROLES, "error": error},
    )


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()],
    display_name: Annotated[str, Form()] = "",
    staff_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        users.create_user(
            session=session,
            tenant=viewer.tenant,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            staff_id=staff_id.strip() or None,
        )
    except users.UserError as error:
        return user_list(request, session, viewer, error=str(error))
    session.commit()
    return RedirectResponse("/settings/users", status_code=303)


@router.post("/users/{username}", response_class=HTMLResponse)
def change_user(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    username: str,
    role: Annotated[str | None, Form()] = None,
    active: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
) -> Response:
    if username == viewer.user.username and (active == "0" or (role and role != "admin")):
        # An admin locking themselves out would leave nobody to undo it.
        return user_list(request, session, viewer, error="you cannot demote or disable yourself")
    try:
        users.update_user(
            session=session,
            tenant=viewer.tenant,
            username=username,
            role=role or None,
            active=None if active is None else active == "1",
            password=password or None,
        )
    except users.UserError as error:
        return user_list(request, session, viewer, error=str(error))
    session.commit()
    return RedirectResponse("/settings/users", status_code=303)
