"""旅程效果: a journey's per-step funnel and A/B/holdout results; enrolment traces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import experiments, journeys
from siyu.web.auth import SessionDep, Staff
from siyu.web.i18n import translator
from siyu.web.journey_canvas import TRACE_RESULTS, build_canvas
from siyu.web.render import locale_of, page

router = APIRouter(include_in_schema=False)
STAGES = ("entered", "sent", "delivered", "clicked", "converted")


def local_time(zone: ZoneInfo) -> Callable[[datetime | str | None], str]:
    """A template helper: a stored time (UTC) as the brand's wall-clock time."""

    def show(value: datetime | str | None) -> str:
        if value is None or value == "":
            return "—"
        at = datetime.fromisoformat(value) if isinstance(value, str) else value
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    return show


def funnel_rows(report: experiments.JourneyReport) -> list[dict[str, Any]]:
    """One row per step and arm that reached it, as the journeys service counted them."""
    return [
        {"step": step.step, **counts.model_dump()}
        for step in report.funnel
        for counts in step.arms
        if counts.entered
    ]


def funnel_chart(report: experiments.JourneyReport, _: Any) -> dict[str, Any]:
    """People per step and stage (all arms together)."""
    steps = [step.step for step in report.funnel]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 48, "right": 16, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": steps},
        "yAxis": {"type": "value"},
        "series": [
            {
                "type": "bar",
                "name": _(stage),
                "data": [sum(getattr(arm, stage) for arm in step.arms) for step in report.funnel],
            }
            for stage in STAGES
        ],
    }


def arm_rows(report: experiments.JourneyReport) -> list[dict[str, Any]]:
    """Each arm's conversion and revenue per person, and its lift over the control."""
    rows = []
    for arm in report.results.arms:
        conversion = arm.metrics.get("conversion")
        revenue = arm.metrics.get("revenue")
        lift = arm.vs_control.get("conversion")
        rows.append(
            {
                "arm": arm.arm,
                "is_control": arm.is_control,
                "persons": arm.units,
                "converted": int(conversion.total) if conversion else 0,
                "rate": conversion.mean if conversion else None,
                "revenue": revenue.total if revenue else 0.0,
                "revenue_per_person": revenue.mean if revenue else None,
                "lift": lift,
                "revenue_lift": arm.vs_control.get("revenue"),
            }
        )
    return rows


def arms_chart(report: experiments.JourneyReport, _: Any) -> dict[str, Any]:
    """Conversion rate (bars, with the CI of the difference in the tooltip) per arm."""
    rows = arm_rows(report)
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 48, "right": 56, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": [row["arm"] for row in rows]},
        "yAxis": [
            {"type": "value", "name": _("conversion %")},
            {"type": "value", "name": _("revenue per person")},
        ],
        "series": [
            {
                "type": "bar",
                "name": _("conversion %"),
                "data": [round((row["rate"] or 0) * 100, 2) for row in rows],
            },
            {
                "type": "line",
                "name": _("revenue per person"),
                "yAxisIndex": 1,
                "data": [round(row["revenue_per_person"] or 0, 2) for row in rows],
            },
        ],
    }


@router.get("/journeys/_enrolments", response_class=HTMLResponse)
def enrolment_lookup(
    request: Request,
    session: SessionDep,
    viewer: Staff,
    q: str = "",
    journey: str | None = None,
) -> Response:
    query = q.strip()
    if query.isdigit():
        return RedirectResponse(f"/journeys/_enrolments/{query}", status_code=303)
    found: list[journeys.EnrolmentView] = []
    problem = None
    if query or journey:
        try:
            found = journeys.list_enrolments(
                session=session,
                tenant=viewer.tenant,
                oneid=query or None,
                key=journey or None,
                limit=100,
            )
        except journeys.JourneyError as error:
            problem = str(error)
    return page(
        request,
        "journeys/enrolments.html",
        {
            "q": query,
            "journey": journey or "",
            "found": found,
            "problem": problem,
            "local": local_time(viewer.tenant.zone),
        },
    )


@router.get("/journeys/_enrolments/{enrolment_id}", response_class=HTMLResponse)
def enrolment_trace(
    request: Request, session: SessionDep, viewer: Staff, enrolment_id: int
) -> HTMLResponse:
    try:
        found = journeys.get_enrolment(
            session=session, tenant=viewer.tenant, enrolment_id=enrolment_id
        )
    except journeys.JourneyError as error:
        return page(request, "journeys/problem.html", {"message": str(error)}, status=404)
    return page(
        request,
        "journeys/enrolment.html",
        {
            "enrolment": found,
            "local": local_time(viewer.tenant.zone),
            "trace_results": TRACE_RESULTS,
        },
    )


@router.get("/journeys/{key}/results", response_class=HTMLResponse)
def results(
    request: Request, session: SessionDep, viewer: Staff, key: str, version: int | None = None
) -> HTMLResponse:
    _ = translator(locale_of(request))
    try:
        detail = journeys.get_journey(
            session=session, tenant=viewer.tenant, key=key, version=version
        )
        report = journeys.journey_results(
            session=session, tenant=viewer.tenant, key=key, version=version
        )
    except journeys.JourneyError as error:
        return page(request, "journeys/problem.html", {"message": str(error)}, status=404)
    stats: dict[str, str] = {}
    if report is not None:
        for step in report.funnel:
            entered = sum(arm.entered for arm in step.arms)
            stats[step.step] = _("{count} entered", count=entered)
    return page(
        request,
        "journeys/results.html",
        {
            "journey": detail,
            "version": version,
            "report": report,
            "funnel": funnel_rows(report) if report else [],
            "funnel_chart": funnel_chart(report, _) if report else None,
            "arms": arm_rows(report) if report else [],
            "arms_chart": arms_chart(report, _) if report else None,
            "canvas": build_canvas(detail.definition, _, stats),
            "zero": Decimal(0),
        },
    )
