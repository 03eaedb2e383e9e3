"""会员设置: a program's tiers, earning rules, expiry and the rest, edited as one document.

The settings are one validated document (`loyalty.ProgramSettings`); the console edits it
as indented JSON, as the API and CLI take it, so every setting is editable and none is
edited in two places. Saving replaces the settings as a whole (a new program version).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import loyalty, users
from siyu.web.auth import SessionDep, Writer
from siyu.web.pages.audiences import refused
from siyu.web.render import page

router = APIRouter(include_in_schema=False)


def _program(session: SessionDep, viewer: users.SignedIn, code: str) -> loyalty.ProgramView:
    try:
        return loyalty.get_program_view(session=session, tenant=viewer.tenant, code=code)
    except loyalty.NotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


@router.get("/loyalty/{program}/settings", response_class=HTMLResponse)
def settings_editor(
    request: Request, session: SessionDep, viewer: Writer, program: str
) -> HTMLResponse:
    chosen = _program(session, viewer, program)
    text = chosen.settings.model_dump_json(indent=2)
    return page(request, "loyalty/settings.html", {"program": chosen, "text": text, "problems": []})


@router.post("/loyalty/{program}/settings", response_class=HTMLResponse)
def save_settings(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    program: str,
    settings: Annotated[str, Form()],
) -> Response:
    """Validate the edited settings and save them as the program's next version."""
    chosen = _program(session, viewer, program)
    problems: list[str] = []
    with refused(problems):
        parsed = loyalty.ProgramSettings.model_validate_json(settings)
        saved = loyalty.update_program(
            session=session, tenant=viewer.tenant, code=chosen.code, settings=parsed
        )
        session.commit()
        return RedirectResponse(
            f"/loyalty?program={quote(chosen.code)}&version={saved.version}", status_code=303
        )
    context = {"program": chosen, "text": settings, "problems": problems}
    return page(request, "loyalty/settings.html", context, status=422)
