"""Sign in and out, the language switch, and `/` (the user's home section)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import users
from siyu.runtime import Runtime
from siyu.web.auth import COOKIE, LANG_COOKIE, SessionDep, Viewer
from siyu.web.i18n import LOCALES
from siyu.web.nav import home_for
from siyu.web.render import page

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None, fallback: str) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our sign-in page.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return fallback


@router.get("/")
def home(viewer: Viewer) -> Response:
    return RedirectResponse(home_for(viewer.user.role), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    return page(
        request,
        "login.html",
        {"next": next or "", "tenant": runtime.settings.default_tenant, "error": False},
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    tenant: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    runtime: Runtime = request.app.state.runtime
    tenant_name = tenant.strip() or runtime.settings.default_tenant
    started = users.sign_in(
        session=session, tenant_name=tenant_name, username=username, password=password
    )
    if started is None:
        return page(
            request,
            "login.html",
            {"next": next, "tenant": tenant_name, "error": True, "username": username},
            status=401,
        )
    session.commit()
    response = RedirectResponse(
        _safe_next(next, home_for(started.signed_in.user.role)), status_code=303
    )
    response.set_cookie(
        COOKIE,
        started.token,
        max_age=users.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, _viewer: Viewer) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        users.sign_out(session=session, token=token)
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/lang/{locale}")
def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    response = RedirectResponse(_safe_next(next, "/"), status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, viewer: Viewer) -> HTMLResponse:
    return page(request, "account.html", {"saved": False, "error": None})


@router.post("/account", response_class=HTMLResponse)
def change_password(
    request: Request,
    session: SessionDep,
    viewer: Viewer,
    current: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> HTMLResponse:
    try:
        users.change_password(
            session=session, user_id=viewer.user.id, current=current, new=password
        )
    except users.UserError as error:
        return page(request, "account.html", {"saved": False, "error": str(error)}, status=400)
    session.commit()
    return page(request, "account.html", {"saved": True, "error": None})
