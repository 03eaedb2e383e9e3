"""Mount the console on the API's FastAPI app: pages at `/`, static files at `/static`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from siyu.web.auth import NotSignedInError
from siyu.web.pages import ROUTERS


def install(app: FastAPI) -> None:
    """Add the console's pages to `app` (which already serves the REST API)."""
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(NotSignedInError)
    def to_sign_in(request: Request, _error: NotSignedInError) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            # An HTMX fragment request: make the browser load the sign-in page itself.
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
