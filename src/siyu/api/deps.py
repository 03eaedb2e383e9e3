"""Request dependencies: a store session and the tenant an API key grants."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from siyu import tenants
from siyu.runtime import Runtime
from siyu.tenants import TenantContext, authenticate_api_key

WRITER_ROLES = ("admin", "operator")
GRANTS_KEPT = 10_000  # remembered keys per server; beyond it the memory starts afresh


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
    key = _presented_key(authorization, x_api_key)
    runtime: Runtime = request.app.state.runtime
    # Its own read-only session: checking a key never waits for (or holds up) a writer.
    with closing(runtime.store.read_session()) as session:
        found = authenticate_api_key(session=session, key=key)
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
    return Caller(tenant=found[0], role=found[1])


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_writer(caller: CallerDep) -> Caller:
    _writer_role(caller.role)
    return caller


WriterDep = Annotated[Caller, Depends(require_writer)]


async def get_record_writer(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> tenants.KeyGrant:
    """The grant of a writer's API key, for requests whose records the batcher imports.

    Grants are remembered by the key's digest, so a busy client's requests skip the store
    here: `api.batching` checks in each batch's transaction that the key is unrevoked."""
    key = _presented_key(authorization, x_api_key)
    grants: dict[bytes, tenants.KeyGrant] = request.app.state.key_grants
    digest = hashlib.sha256(key.encode()).digest()
    grant = grants.get(digest)
    if grant is None:
        grant = await run_in_threadpool(_look_up_grant, request.app.state.runtime, key)
        if grant is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
        if len(grants) >= GRANTS_KEPT:
            grants.clear()
        grants[digest] = grant
    _writer_role(grant.role)
    return grant


RecordWriterDep = Annotated[tenants.KeyGrant, Depends(get_record_writer)]


def _look_up_grant(runtime: Runtime, key: str) -> tenants.KeyGrant | None:
    with closing(runtime.store.read_session()) as session:
        return tenants.api_key_grant(session=session, key=key)


def _presented_key(authorization: str | None, x_api_key: str | None) -> str:
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an API key is required (Authorization: Bearer <key> or X-API-Key)",
        )
    return key


def _writer_role(role: str) -> None:
    if role not in WRITER_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {role!r} cannot write")
