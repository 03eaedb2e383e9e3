"""Request dependencies: a store session and the tenant an API key grants."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session

from siyu.runtime import Runtime
from siyu.tenants import TenantContext, authenticate_api_key


def get_session(request: Request) -> Iterator[Session]:
    runtime: Runtime = request.app.state.runtime
    with runtime.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True)
class Caller:
    tenant: TenantContext
    role: str


def get_caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    """The tenant and role of the presented API key (Bearer token or X-API-Key)."""
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an API key is required (Authorization: Bearer <key> or X-API-Key)",
        )
    runtime: Runtime = request.app.state.runtime
    # Its own read-only session: checking a key never waits for (or holds up) a writer.
    with closing(runtime.store.read_session()) as session:
        found = authenticate_api_key(session=session, key=key)
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
    return Caller(tenant=found[0], role=found[1])


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_writer(caller: CallerDep) -> Caller:
    if caller.role not in ("admin", "operator"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {caller.role!r} cannot write")
    return caller


WriterDep = Annotated[Caller, Depends(require_writer)]
