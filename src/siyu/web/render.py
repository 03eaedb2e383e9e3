"""Server-rendered pages: Jinja2 templates with the translator, the user and the menu."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from siyu import users
from siyu.web.auth import LANG_COOKIE
from siyu.web.i18n import pick_locale, translator
from siyu.web.nav import sections_for

_DIR = Path(__file__).parent / "templates"


@cache
def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(_DIR))
    found.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return found


def locale_of(request: Request) -> str:
    """The page language: the switch cookie, else the signed-in user's preference."""
    viewer: users.SignedIn | None = getattr(request.state, "signed_in", None)
    return pick_locale(
        cookie=request.cookies.get(LANG_COOKIE),
        preferred=viewer.user.locale if viewer else None,
    )


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render template `name` with the common context (language, user, menu, CSRF token)."""
    viewer: users.SignedIn | None = getattr(request.state, "signed_in", None)
    locale = locale_of(request)
    common: dict[str, Any] = {
        "_": translator(locale),
        "locale": locale,
        "viewer": viewer,
        "sections": sections_for(viewer.user.role) if viewer else [],
        "csrf": viewer.csrf_token if viewer else "",
        "path": request.url.path,
    }
    return templates().TemplateResponse(
        request, name, {**common, **(context or {})}, status_code=status
    )
