"""Identity review: merges the guards refused (approve or dismiss), and probable matches to
accept or reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import identity, online
from siyu.web.auth import SessionDep, Writer
from siyu.web.render import page

router = APIRouter(include_in_schema=False)
REVIEW_STATUSES = ("review", "accepted", "rejected")
BLOCKED_TABS = ("open", "reviewed")  # the open review list, and every decided item
REVIEW_PAGE = 10  # the most likely first; deciding them brings the next ones up


@router.get("/imports/review", response_class=HTMLResponse)
def review(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    status_: Annotated[str, Query(alias="status")] = "review",
    decided: int = 0,
) -> HTMLResponse:
    shown = status_ if status_ in REVIEW_STATUSES else "review"
    items = identity.list_review(
        session=session, tenant=viewer.tenant, status=shown, limit=REVIEW_PAGE
    )
    context = {"items": items, "status": shown, "statuses": REVIEW_STATUSES, "decided": decided}
    return page(request, "imports/review.html", context)


@router.post("/imports/review/{link_id}", response_class=HTMLResponse)
def decide(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    link_id: int,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("accept", "reject"):
        return page(
            request, "imports/refused.html", {"error": "Choose accept or reject."}, status=400
        )
    try:
        identity.decide_review(
            session=session,
            tenant=viewer.tenant,
            link_id=link_id,
            accept=decision == "accept",
            actor=f"console:{viewer.user.username}",
            reason=reason.strip() or None,
        )
    except identity.MatchError as error:
        return page(request, "imports/refused.html", {"error": str(error)}, status=409)
    session.commit()
    return RedirectResponse(
        f"/imports/review?decided={link_id}", status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/imports/blocked", response_class=HTMLResponse)
def blocked(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    status_: Annotated[str, Query(alias="status")] = "open",
    decided: int = 0,
) -> HTMLResponse:
    shown = status_ if status_ in BLOCKED_TABS else "open"
    found = identity.list_blocked(session=session, tenant=viewer.tenant, status=shown)
    context = {"blocked": found, "status": shown, "statuses": BLOCKED_TABS, "decided": decided}
    return page(request, "imports/blocked.html", context)


@router.post("/imports/blocked/{blocked_id}", response_class=HTMLResponse)
def review_blocked(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    blocked_id: int,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("approve", "dismiss") or not reason.strip():
        error = "Choose approve or dismiss, and give a reason."
        return page(request, "imports/refused.html", {"error": error}, status=400)
    try:
        online.review_blocked(
            session=session,
            tenant=viewer.tenant,
            blocked_id=blocked_id,
            approve=decision == "approve",
            actor=f"console:{viewer.user.username}",
            reason=reason.strip()[:500],
        )
    except identity.IdentityError as error:
        return page(request, "imports/refused.html", {"error": str(error)}, status=409)
    return RedirectResponse(
        f"/imports/blocked?decided={blocked_id}", status_code=status.HTTP_303_SEE_OTHER
    )
