"""REST API v1 for audiences: definitions, preview, refresh, members, changes, overlap, export."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from siyu import audiences
from siyu.api.deps import CallerDep, SessionDep, WriterDep
from siyu.api.segments import engine_settings, refusals

router = APIRouter(prefix="/api/v1/audiences", tags=["audiences"])


class RefreshIn(BaseModel):
    names: list[str] | None = None
    as_of: date | None = None


@router.get("")
def list_audiences(session: SessionDep, caller: CallerDep) -> list[audiences.AudienceView]:
    """The audiences with their sizes."""
    return audiences.list_audiences(session=session, tenant=caller.tenant)


@router.post("", status_code=201)
def create_audience(
    session: SessionDep, caller: WriterDep, audience: audiences.AudienceIn
) -> audiences.AudienceView:
    """Define an audience."""
    with refusals():
        made = audiences.create_audience(
            session=session, tenant=caller.tenant, audience=audience, by="api"
        )
        session.commit()
    return made


@router.post("/preview")
def preview(
    request: Request, session: SessionDep, caller: CallerDep, body: audiences.PreviewIn
) -> audiences.PreviewResult:
    """How many persons a rule selects (over the last snapshot unless `fresh`)."""
    engine = engine_settings(request)
    with refusals():
        return audiences.preview(
            session=session,
            tenant=caller.tenant,
            rule=body.rule,
            engine_dir=engine.engine_dir,
            engine=engine.engine,
            fresh=body.fresh,
            as_of=body.as_of,
            spark_master=engine.spark_master,
        )


@router.post("/refresh")
def refresh(
    request: Request, session: SessionDep, caller: WriterDep, body: RefreshIn
) -> audiences.RefreshReport:
    """Re-evaluate audiences (all, or `names`) over everyone; entries and exits recorded."""
    engine = engine_settings(request)
    with refusals():
        return audiences.refresh_audiences(
            session=session,
            tenant=caller.tenant,
            engine_dir=engine.engine_dir,
            names=body.names,
            engine=engine.engine,
            as_of=body.as_of,
            spark_master=engine.spark_master,
        )


@router.get("/changes")
def changes(
    session: SessionDep,
    caller: CallerDep,
    since: datetime,
    audience: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> list[audiences.MembershipChange]:
    """Entries and exits after `since` (ISO time with offset), oldest first."""
    with refusals():
        if since.tzinfo is None:
            raise ValueError("`since` needs a UTC offset")
        return audiences.changes_since(
            session=session, tenant=caller.tenant, since=since, audiences=audience, limit=limit
        )


@router.get("/overlap")
def overlap(
    session: SessionDep, caller: CallerDep, name: Annotated[list[str] | None, Query()] = None
) -> audiences.OverlapReport:
    """Sizes and pairwise overlap of audiences (all, or the `name`s)."""
    with refusals():
        return audiences.overlap(session=session, tenant=caller.tenant, names=name)


@router.get("/{name}")
def get_audience(session: SessionDep, caller: CallerDep, name: str) -> audiences.AudienceView:
    """One audience."""
    with refusals():
        return audiences.get_audience(session=session, tenant=caller.tenant, name=name)


@router.patch("/{name}")
def update_audience(
    session: SessionDep, caller: WriterDep, name: str, changes: audiences.AudienceUpdate
) -> audiences.AudienceView:
    """Change the rule, description, online flag or refresh interval."""
    with refusals():
        updated = audiences.update_audience(
            session=session, tenant=caller.tenant, name=name, changes=changes
        )
        session.commit()
    return updated


@router.delete("/{name}", status_code=204)
def delete_audience(session: SessionDep, caller: WriterDep, name: str) -> None:
    """Delete an audience and its membership history."""
    with refusals():
        audiences.delete_audience(session=session, tenant=caller.tenant, name=name)
        session.commit()


@router.get("/{name}/members")
def members(
    session: SessionDep,
    caller: CallerDep,
    name: str,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[str]:
    """Current members' OneIDs."""
    with refusals():
        return audiences.members(
            session=session, tenant=caller.tenant, name=name, limit=limit, offset=offset
        )


@router.get("/{name}/history")
def history(
    session: SessionDep, caller: CallerDep, name: str, oneid: str | None = None
) -> list[audiences.MembershipInterval]:
    """Membership intervals (entry and exit), newest first."""
    with refusals():
        return audiences.membership_history(
            session=session, tenant=caller.tenant, name=name, oneid=oneid
        )


@router.get("/{name}/export", response_class=Response)
def export(
    session: SessionDep,
    caller: CallerDep,
    name: str,
    fields: Annotated[str, Query(description="comma-separated, e.g. oneid,name,phone_sha256")],
) -> Response:
    """The current members as CSV with the chosen fields."""
    buffer = io.StringIO()
    with refusals():
        audiences.export_audience(
            session=session,
            tenant=caller.tenant,
            name=name,
            fields=[f.strip() for f in fields.split(",") if f.strip()],
            out=buffer,
        )
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=audience.csv"},
    )
