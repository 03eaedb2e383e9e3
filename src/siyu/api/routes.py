"""REST API v1: thin handlers, each calling one service function."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from siyu import analytics, identity, ingest, online, profiles
from siyu.api.batching import (
    RecordBatcher,
    RevokedKeyError,
    WriterBusyError,
    WriterLostError,
)
from siyu.api.deps import Caller, CallerDep, RecordWriterDep, SessionDep, WriterDep

router = APIRouter(prefix="/api/v1")


class RecordsBatch(BaseModel):
    # Size is checked in the handler: a 422 would echo the whole batch (personal data) back.
    records: list[dict[str, Any]]


class RecordsResponse(BaseModel):
    accepted: int
    quarantined: int
    results: list[ingest.RecordResult]


class DetachRequest(BaseModel):
    kind: str
    source: str
    record_id: str
    reason: str = Field(min_length=1)


@router.post("/records")
def post_records(
    session: SessionDep,
    caller: WriterDep,
    batch: Annotated[RecordsBatch | list[dict[str, Any]], Body()],
) -> RecordsResponse:
    """Import up to 1,000 canonical records; one result per record, idempotent."""
    items = batch.records if isinstance(batch, RecordsBatch) else batch
    if len(items) > ingest.MAX_API_BATCH:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"at most {ingest.MAX_API_BATCH} records per request",
        )
    report, results = online.accept_records(
        session=session, tenant=caller.tenant, items=items, origin="api:/records"
    )
    return RecordsResponse(
        accepted=report.accepted, quarantined=report.quarantined, results=results
    )


@router.post("/events", response_model=ingest.RecordResult)
async def post_event(
    request: Request, grant: RecordWriterDep, event: Annotated[dict[str, Any], Body()]
) -> Response:
    """Import one event; a rejected event answers 422 and is kept in quarantine. Events
    posted at the same time are imported in one transaction (`api.batching`)."""
    event.setdefault("kind", "event")
    if event["kind"] != "event":
        raise HTTPException(422, "kind must be 'event'")
    batcher: RecordBatcher = request.app.state.batcher
    try:
        queued = batcher.submit(grant=grant, item=event, origin="api:/events")
    except WriterBusyError as error:
        unavailable = status.HTTP_503_SERVICE_UNAVAILABLE
        raise HTTPException(unavailable, str(error), headers={"Retry-After": "1"}) from None
    try:
        # Awaited, not waited on in a thread: the request holds no worker thread meanwhile.
        result = await asyncio.wrap_future(queued)
    except RevokedKeyError:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key") from None
    except WriterLostError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    status_code = 422 if result.status == "quarantined" else 200
    return Response(orjson.dumps(result), status_code, media_type="application/json")


@router.get("/persons")
def search_persons(
    session: SessionDep, caller: CallerDep, q: Annotated[str, Query(min_length=1)]
) -> list[profiles.PersonSummary]:
    """Find persons by phone, name, OneID or any identifier."""
    return profiles.search_persons(session=session, tenant=caller.tenant, query=q)


@router.get("/persons/{oneid}")
def get_person(session: SessionDep, caller: CallerDep, oneid: str) -> profiles.PersonView:
    """The 360° view of a person; retired OneIDs answer with their successor."""
    try:
        return profiles.get_person(session=session, tenant=caller.tenant, oneid=oneid)
    except identity.IdentityError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get("/persons/{oneid}/explain")
def explain_person(
    session: SessionDep, caller: CallerDep, oneid: str
) -> identity.PersonExplanation:
    """Records, identifiers and merge history of a person, and why they joined."""
    try:
        return identity.explain_person(session=session, tenant=caller.tenant, oneid=oneid)
    except identity.IdentityError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.post("/identity/detach")
def detach(session: SessionDep, caller: WriterDep, body: DetachRequest) -> identity.DetachResult:
    """Split a record off its person (unmerge)."""
    try:
        result = identity.detach_record(
            session=session,
            tenant=caller.tenant,
            kind=body.kind,
            source=body.source,
            record_id=body.record_id,
            actor=f"api:{caller.role}",
            reason=body.reason,
        )
    except identity.IdentityError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    session.commit()
    return result


@router.get("/identity/blocked")
def blocked(
    session: SessionDep,
    caller: CallerDep,
    status_: Annotated[str, Query(alias="status")] = "open",
) -> list[identity.BlockedView]:
    """Merges the guards refused, for review (open by default; `reviewed`: all decided)."""
    try:
        return identity.list_blocked(session=session, tenant=caller.tenant, status=status_)
    except identity.IdentityError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from None


class BlockedReviewRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/identity/blocked/{blocked_id}/approve")
def approve_blocked(
    session: SessionDep, caller: WriterDep, blocked_id: int, body: BlockedReviewRequest
) -> identity.BlockedDecision:
    """Merge the two persons a guard kept apart (an override, recorded)."""
    return _review_blocked(session, caller, blocked_id, body, approve=True)


@router.post("/identity/blocked/{blocked_id}/dismiss")
def dismiss_blocked(
    session: SessionDep, caller: WriterDep, blocked_id: int, body: BlockedReviewRequest
) -> identity.BlockedDecision:
    """Keep the two persons apart for good; the item leaves the open list."""
    return _review_blocked(session, caller, blocked_id, body, approve=False)


def _review_blocked(
    session: Session, caller: Caller, blocked_id: int, body: BlockedReviewRequest, *, approve: bool
) -> identity.BlockedDecision:
    try:
        return online.review_blocked(
            session=session,
            tenant=caller.tenant,
            blocked_id=blocked_id,
            approve=approve,
            actor=f"api:{caller.role}",
            reason=body.reason,
        )
    except identity.IdentityError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.get("/identity-map")
def identity_map(session: SessionDep, caller: CallerDep) -> StreamingResponse:
    """`kind,source,record_id,oneid` for every ingested record, as CSV."""

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["kind", "source", "record_id", "oneid"])
        for number, row in enumerate(
            identity.iter_identity_map(session=session, tenant=caller.tenant)
        ):
            writer.writerow(row)
            if number % 5000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(rows(), media_type="text/csv")


@router.get("/quarantine")
def quarantine(
    session: SessionDep, caller: CallerDep, status_: Annotated[str, Query(alias="status")] = "open"
) -> list[ingest.QuarantineEntry]:
    """Quarantined records with file, line, field and reason."""
    return ingest.list_quarantine(session=session, tenant=caller.tenant, status=status_)


@router.get("/reports")
def list_reports(caller: CallerDep) -> list[analytics.ReportInfo]:
    """The consumer-asset reports."""
    return analytics.list_reports()


@router.get("/reports/{name}")
def run_report(
    request: Request, session: SessionDep, caller: CallerDep, name: str
) -> analytics.ReportResult:
    """Run a report on the engine (traits as of the last compute)."""
    settings = request.app.state.runtime.settings
    try:
        return analytics.run_report(
            session=session,
            tenant=caller.tenant,
            name=name,
            engine_dir=Path(settings.engine_dir),
            engine=settings.engine,
            spark_master=settings.spark_master,
        )
    except analytics.UnknownReportError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
