"""Parts of the 360° view loaded after the page (HTMX): each from one domain's service.

Tags, audiences, membership, coupons, messages, computed traits and the identity
explanation come from their own domains; loading them as fragments keeps each handler
one service call and lets the page show at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from siyu import audiences, channels, identity, loyalty, tags, traits
from siyu.tenants import TenantContext
from siyu.web.auth import SessionDep
from siyu.web.pages.persons import Reader
from siyu.web.render import page

router = APIRouter(include_in_schema=False)

Panel = Callable[..., Any]
# name -> the one service function answering it (all take session, tenant, oneid).
PANELS: dict[str, Panel] = {
    "tags": tags.tags_of_person,
    "audiences": audiences.audiences_of_person,
    "membership": loyalty.memberships_of_person,
    "coupons": loyalty.person_coupons,
    "messages": channels.messages_of_person,
    "traits": traits.get_traits,
    "explain": identity.explain_person,
}


def _load(name: str, session: Session, tenant: TenantContext, oneid: str) -> Any:
    try:
        return PANELS[name](session=session, tenant=tenant, oneid=oneid)
    except (identity.IdentityError, loyalty.LoyaltyError) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get("/persons/{oneid}/panel/{name}", response_class=HTMLResponse)
def panel(
    request: Request, session: SessionDep, viewer: Reader, oneid: str, name: str
) -> HTMLResponse:
    if name not in PANELS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no panel {name!r}")
    data = _load(name, session, viewer.tenant, oneid)
    return page(request, f"persons/_{name}.html", {"oneid": oneid, "data": data})
