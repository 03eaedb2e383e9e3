"""Who is signed in to the console: session cookie, roles, CSRF on every write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from siyu import users
from siyu.runtime import Runtime

COOKIE = "siyu_session"
LANG_COOKIE = "siyu_lang"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotSignedInError(Exception):
    """Raised by the dependencies; the app turns it into a redirect to the sign-in page."""


def get_session(request: Request) -> Iterator[Session]:
    runtime: Runtime = request.app.state.runtime
    with runtime.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def signed_in(request: Request, session: SessionDep) -> users.SignedIn:
    """The signed-in user; writes must carry the session's CSRF token (form or header)."""
    token = request.cookies.get(COOKIE)
    # In a worker thread: on SQLite the first statement waits for the write lock (BEGIN
    # IMMEDIATE), and waiting on the event loop would stall the requests that release it.
    found = (
        await run_in_threadpool(users.resolve_session, session=session, token=token)
        if token
        else None
    )
    if found is None:
        raise NotSignedInError
    if request.method in UNSAFE:
        sent = request.headers.get("x-csrf-token")
        if sent is None:
            form = await request.form()  # Starlette caches it for the handler
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        if sent != found.csrf_token:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or stale CSRF token")
    request.state.signed_in = found
    return found


Viewer = Annotated[users.SignedIn, Depends(signed_in)]


def role_in(*roles: str) -> Callable[[users.SignedIn], users.SignedIn]:
    """A dependency admitting only `roles`."""

    def check(viewer: Viewer) -> users.SignedIn:
        if viewer.user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "your role cannot do this")
        return viewer

    return check


# Who may see what: guides work on their own customers only (the persons pages filter).
Staff = Annotated[users.SignedIn, Depends(role_in("admin", "operator", "analyst"))]
Writer = Annotated[users.SignedIn, Depends(role_in("admin", "operator"))]
Admin = Annotated[users.SignedIn, Depends(role_in("admin"))]
