"""Persons: search by phone, name or identifier, and the 360° view of one person.

Guides (导购) see only their own customers (decision 154): search and every page of a
person are scoped to persons whose records carry the guide's staff_id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import identity, profiles, users
from siyu.web.auth import SessionDep, Viewer, Writer
from siyu.web.render import page

router = APIRouter(include_in_schema=False)
GUIDE_PAGE = 50  # customers per page of a guide's list
# A guide with no staff_id serves nobody: this matches no record.
NOBODY = "\x00"


def scope_of(viewer: users.SignedIn) -> str | None:
    """The staff_id a viewer's person pages are limited to (None: every person)."""
    if viewer.user.role != "guide":
        return None
    return viewer.user.staff_id or NOBODY


def person_reader(session: SessionDep, viewer: Viewer, oneid: str) -> users.SignedIn:
    """A viewer allowed to see `oneid`: staff always, a guide only their own customers."""
    staff_id = scope_of(viewer)
    if staff_id is not None and not profiles.is_customer_of(
        session=session, tenant=viewer.tenant, oneid=oneid, staff_id=staff_id
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such person")
    return viewer


Reader = Annotated[users.SignedIn, Depends(person_reader)]


@router.get("/persons", response_class=HTMLResponse)
def search(
    request: Request, session: SessionDep, viewer: Viewer, q: str = "", start: int = 0
) -> HTMLResponse:
    staff_id = scope_of(viewer)
    start = max(start, 0)
    more = False
    if q.strip():
        found = profiles.search_persons(
            session=session, tenant=viewer.tenant, query=q, staff_id=staff_id
        )
    elif staff_id is not None:  # a guide's start page: their customers, a page at a time
        found = profiles.persons_of_staff(
            session=session,
            tenant=viewer.tenant,
            staff_id=staff_id,
            offset=start,
            limit=GUIDE_PAGE + 1,  # one more tells whether there is a next page
        )
        more, found = len(found) > GUIDE_PAGE, found[:GUIDE_PAGE]
    else:
        found = []
    name = "persons/_results.html" if request.headers.get("hx-request") else "persons/search.html"
    context = {"q": q, "persons": found, "mine": staff_id is not None, "start": start}
    return page(request, name, {**context, "more": more, "page_size": GUIDE_PAGE})


@router.get("/persons/{oneid}", response_class=HTMLResponse)
def person(
    request: Request, session: SessionDep, viewer: Viewer, oneid: str, detached: str = ""
) -> Response:
    try:
        view = profiles.get_person(
            session=session, tenant=viewer.tenant, oneid=oneid, staff_id=scope_of(viewer)
        )
    except (identity.IdentityError, profiles.PersonNotFoundError):
        return page(request, "persons/missing.html", {"oneid": oneid}, status=404)
    if view.oneid != oneid:  # a retired OneID: the person lives on under its successor
        return RedirectResponse(f"/persons/{view.oneid}", status_code=status.HTTP_303_SEE_OTHER)
    return page(request, "persons/view.html", {"person": view, "detached": detached})


@router.get("/persons/{oneid}/unmerge", response_class=HTMLResponse)
def unmerge_form(
    request: Request, viewer: Writer, oneid: str, kind: str, source: str, record_id: str
) -> HTMLResponse:
    record = {"kind": kind, "source": source, "record_id": record_id}
    return page(request, "persons/unmerge.html", {"oneid": oneid, "record": record})


@router.post("/persons/{oneid}/unmerge", response_class=HTMLResponse)
def unmerge(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    oneid: str,
    kind: Annotated[str, Form()],
    source: Annotated[str, Form()],
    record_id: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    record = {"kind": kind, "source": source, "record_id": record_id}
    if not reason.strip():
        error = "Give a reason: it is kept in the merge history."
        return page(request, "persons/unmerge.html", _failed(oneid, record, error), status=400)
    try:
        result = identity.detach_record(
            session=session,
            tenant=viewer.tenant,
            kind=kind,
            source=source,
            record_id=record_id,
            actor=f"console:{viewer.user.username}",
            reason=reason.strip(),
        )
    except identity.IdentityError as error:
        return page(request, "persons/unmerge.html", _failed(oneid, record, str(error)), status=409)
    session.commit()
    return RedirectResponse(
        f"/persons/{oneid}?detached={result.new_oneid}", status_code=status.HTTP_303_SEE_OTHER
    )


def _failed(oneid: str, record: dict[str, str], error: str) -> dict[str, object]:
    return {"oneid": oneid, "record": record, "error": error}
