"""REST API for journeys and channels: thin handlers, each calling one service function."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from siyu import channels, journeys
from siyu.api.deps import Caller, CallerDep, SessionDep, WriterDep
from siyu.tenants import authenticate_api_key

router = APIRouter(prefix="/api/v1")


class EnrolRequest(BaseModel):
    oneids: list[str] = Field(min_length=1, max_length=10_000)
    data: dict[str, Any] | None = None
    request_id: str | None = Field(default=None, max_length=64)


class UnsubscribeRequest(BaseModel):
    oneid: str
    channel: str = Field(description="consent group: sms, email, wecom, wechat, or * for all")


def _conflict(error: journeys.JourneyError) -> HTTPException:
    code = status.HTTP_404_NOT_FOUND if str(error).startswith("no ") else status.HTTP_409_CONFLICT
    return HTTPException(code, str(error))


@router.get("/journeys")
def list_journeys(session: SessionDep, caller: CallerDep) -> list[journeys.JourneyView]:
    """Every journey of the tenant."""
    return journeys.list_journeys(session=session, tenant=caller.tenant)


@router.post("/journeys", status_code=status.HTTP_201_CREATED)
def create_journey(
    session: SessionDep, caller: WriterDep, definition: journeys.JourneyDefinition
) -> journeys.JourneyView:
    """Create a journey from its definition (a draft at version 1)."""
    try:
        created = journeys.create_journey(
            session=session, tenant=caller.tenant, definition=definition
        )
    except journeys.JourneyError as error:
        raise _conflict(error) from None
    session.commit()
    return created


@router.put("/journeys/{key}")
def update_journey(
    session: SessionDep, caller: WriterDep, key: str, definition: journeys.JourneyDefinition
) -> journeys.JourneyView:
    """Save an edited definition as a new version; people in flight keep theirs."""
    if definition.key != key:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, "the definition's key is not the URL's"
        )
    try:
        updated = journeys.update_journey(
            session=session, tenant=caller.tenant, definition=definition
        )
    except journeys.JourneyError as error:
        raise _conflict(error) from None
    session.commit()
    return updated


@router.get("/journeys/{key}")
def get_journey(
    session: SessionDep, caller: CallerDep, key: str, version: int | None = None
) -> dict[str, Any]:
    """A journey with one version's definition (default: the latest)."""
    try:
        detail = journeys.get_journey(
            session=session, tenant=caller.tenant, key=key, version=version
        )
    except journeys.JourneyError as error:
        raise _conflict(error) from None
    return detail.model_dump(mode="json", by_alias=True, exclude_unset=True)


@router.post("/journeys/{key}/start")
def start_journey(session: SessionDep, caller: WriterDep, key: str) -> journeys.JourneyView:
    """Make the journey live on its latest version (or resume it)."""
    try:
        started = journeys.start_journey(session=session, tenant=caller.tenant, key=key)
    except journeys.JourneyError as error:
        raise _conflict(error) from None
    session.commit()
    return started


@router.post("/journeys/{key}/pause")
def pause_journey(session: SessionDep, caller: WriterDep, key: str) -> journeys.JourneyView:
    """Stop new entries and hold people in flight."""
    try:
        paused = journeys.pause_journey(session=session, tenant=caller.tenant, key=key)
    except journeys.JourneyError as error:
        raise _conflict(error) from None
    session.commit()
    return paused


@router.post("/journeys/{key}/enrolments")
def enrol(
    session: SessionDep, caller: WriterDep, key: str, body: EnrolRequest
) -> journeys.EnrolResult:
    """Enrol people into a live journey; repeat-safe with `request_id`."""
    try:
        result = journeys.enrol(
            session=session,
            tenant=caller.tenant,
            key=key,
            oneids=body.oneids,
            data=body.data,
            request_id=body.request_id,
        )
    except journeys.JourneyError as error:
        raise _conflict(error) from None
    session.commit()
    return result


@router.get("/journeys/{key}/enrolments")
def list_enrolments(
    session: SessionDep,
    caller: CallerDep,
    key: str,
    status_: Annotated[str | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(le=1000)] = 100,
) -> list[journeys.EnrolmentView]:
    """A journey's enrolments, newest first."""
    try:
        return journeys.list_enrolments(
            session=session, tenant=caller.tenant, key=key, status=status_, limit=limit
        )
    except journeys.JourneyError as error:
        raise _conflict(error) from None


@router.get("/enrolments/{enrolment_id}")
def get_enrolment(
    session: SessionDep, caller: CallerDep, enrolment_id: int
) -> journeys.EnrolmentView:
    """One enrolment with its trace and messages."""
    try:
        return journeys.get_enrolment(
            session=session, tenant=caller.tenant, enrolment_id=enrolment_id
        )
    except journeys.JourneyError as error:
        raise _conflict(error) from None


@router.post("/unsubscribes", status_code=status.HTTP_201_CREATED)
def unsubscribe(
    session: SessionDep, caller: WriterDep, body: UnsubscribeRequest
) -> dict[str, bool]:
    """Record an unsubscribe (consent withdrawn) for a person and consent group."""
    created = channels.unsubscribe(
        session=session, tenant=caller.tenant, oneid=body.oneid, channel=body.channel, source="api"
    )
    session.commit()
    return {"created": created}


def _callback_caller(session: SessionDep, api_key: Annotated[str, Query()]) -> Caller:
    """Providers cannot send headers: their callback URL carries the key."""
    found = authenticate_api_key(session=session, key=api_key)
    if found is None or found[1] not in ("admin", "operator"):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown, revoked or read-only API key")
    return Caller(tenant=found[0], role=found[1])


@router.post("/channels/sms/{provider}/{kind}")
def sms_callback(
    session: SessionDep,
    provider: str,
    kind: str,
    api_key: Annotated[str, Query(description="an operator key: providers cannot send headers")],
    payload: Annotated[Any, Body()],
) -> dict[str, Any]:
    """Delivery receipts and replies pushed by Alibaba Cloud / Tencent Cloud SMS."""
    caller = _callback_caller(session, api_key)
    if provider not in channels.SMS_PROVIDERS or kind not in ("receipt", "reply"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown provider or callback kind")
    report = channels.handle_sms_callback(
        session=session, tenant=caller.tenant, provider=provider, kind=kind, payload=payload
    )
    session.commit()
    # Both providers only read the answer's code: Alibaba {"code": 0}, Tencent {"result": 0}.
    answer: dict[str, Any] = (
        {"code": 0, "msg": "接收成功"} if provider == "aliyun" else {"result": 0, "errmsg": "OK"}
    )
    return {**answer, "matched": report.matched}


@router.get("/t/{token}", include_in_schema=False)
def follow_link(session: SessionDep, token: str) -> RedirectResponse:
    """A tracked link in a message: record the click, then go where it points."""
    url = channels.follow_link(session=session, token=token)
    if url is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown link")
    return RedirectResponse(url, status.HTTP_302_FOUND)


@router.api_route("/unsubscribe/{token}", methods=["GET", "POST"], include_in_schema=False)
def unsubscribe_link(session: SessionDep, token: str) -> HTMLResponse:
    """One-click unsubscribe (RFC 8058 POST, or a person following the link)."""
    if not channels.unsubscribe_link(session=session, token=token):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown link")
    return HTMLResponse("<p>已退订 — You are unsubscribed.</p>")
