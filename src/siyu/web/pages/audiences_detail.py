"""One audience: size, rule, refresh, membership history (chart + table), export; and the
overlap matrix between audiences."""

from __future__ import annotations

import io
import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import audiences
from siyu.web.auth import SessionDep, Staff, Writer
from siyu.web.i18n import translator
from siyu.web.pages.audiences import engine_options, refused
from siyu.web.render import locale_of, page

router = APIRouter(include_in_schema=False)
# Fields offered first in the export form (the rest are under "more fields").
COMMON_EXPORT = ("oneid", "entered_at", "gender", "city", "member_no", "lifecycle_stage", "tags")


@router.get("/audiences/overlap", response_class=HTMLResponse)
def overlap(
    request: Request,
    session: SessionDep,
    viewer: Staff,
    name: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    """Pairwise overlap of the chosen audiences (all when none are chosen)."""
    problems: list[str] = []
    report = None
    with refused(problems):
        report = audiences.overlap(session=session, tenant=viewer.tenant, names=name or None)
    return page(
        request,
        "audiences/overlap.html",
        {
            "report": report,
            "matrix": _matrix(report) if report else {},
            "chosen": name or [],
            "problems": problems,
            "option": _heatmap(report, translator(locale_of(request))) if report else {},
        },
        status=404 if problems else 200,
    )


def _matrix(report: audiences.OverlapReport) -> dict[tuple[str, str], int]:
    """Persons in both, for every ordered pair (the diagonal is the size)."""
    cells = {(a.name, a.name): a.size for a in report.audiences}
    for pair in report.pairs:
        cells[(pair.a, pair.b)] = cells[(pair.b, pair.a)] = pair.both
    return cells


def _heatmap(report: audiences.OverlapReport, _: Any) -> dict[str, Any]:
    names = [a.name for a in report.audiences]
    cells = _matrix(report)
    return {
        "tooltip": {"position": "top"},
        "grid": {"left": 120, "right": 16, "top": 16, "bottom": 90},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "category", "data": names},
        "visualMap": {
            "min": 0,
            "max": max([*cells.values(), 1]),
            "orient": "horizontal",
            "left": "center",
            "bottom": 0,
        },
        "series": [
            {
                "type": "heatmap",
                "name": _("in both"),
                "label": {"show": True},
                "data": [
                    [i, j, cells[(a, b)]] for i, a in enumerate(names) for j, b in enumerate(names)
                ],
            }
        ],
    }


@router.get("/audiences/{name}", response_class=HTMLResponse)
def audience(request: Request, session: SessionDep, viewer: Staff, name: str) -> HTMLResponse:
    problems: list[str] = []
    found = days = intervals = None
    with refused(problems):
        found = audiences.get_audience(session=session, tenant=viewer.tenant, name=name)
        days = audiences.membership_timeline(session=session, tenant=viewer.tenant, name=name)
        intervals = audiences.membership_history(
            session=session, tenant=viewer.tenant, name=name, limit=50
        )
    if found is None or days is None:
        return page(request, "audiences/missing.html", {"name": name}, status=404)
    _ = translator(locale_of(request))
    return page(
        request,
        "audiences/detail.html",
        {
            "audience": found,
            "rule_json": json.dumps(found.rule, ensure_ascii=False, indent=1),
            "days": days,
            "intervals": intervals or [],
            "option": _history_chart(days, _),
            "common_fields": COMMON_EXPORT,
            "more_fields": [f for f in audiences.EXPORT_FIELDS if f not in COMMON_EXPORT],
        },
    )


def _history_chart(days: list[audiences.MembershipDay], _: Any) -> dict[str, Any]:
    """Entries and exits per day as bars, the size after each day as a line."""
    labels = [d.day.isoformat() for d in days]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 56, "right": 56, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": [{"type": "value", "name": _("persons")}, {"type": "value", "name": _("size")}],
        "series": [
            {"type": "bar", "name": _("entered"), "data": [d.entered for d in days]},
            {"type": "bar", "name": _("exited"), "data": [-d.exited for d in days]},
            {"type": "line", "name": _("size"), "yAxisIndex": 1, "data": [d.size for d in days]},
        ],
    }


@router.post("/audiences/{name}/refresh")
def refresh(request: Request, session: SessionDep, viewer: Writer, name: str) -> Response:
    """Re-evaluate the audience over everyone now; entries and exits are recorded."""
    problems: list[str] = []
    with refused(problems):
        audiences.refresh_audiences(
            session=session, tenant=viewer.tenant, names=[name], **engine_options(request)
        )
    if problems:
        return page(
            request, "audiences/missing.html", {"name": name, "problems": problems}, status=422
        )
    return RedirectResponse(f"/audiences/{quote(name)}", status_code=303)


@router.get("/audiences/{name}/export.csv")
def export(
    request: Request,
    session: SessionDep,
    viewer: Staff,
    name: str,
    field: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The current members as CSV with the chosen fields."""
    buffer = io.StringIO()
    problems: list[str] = []
    with refused(problems):
        audiences.export_audience(
            session=session, tenant=viewer.tenant, name=name, fields=field or [], out=buffer
        )
    if problems:
        return page(
            request, "audiences/missing.html", {"name": name, "problems": problems}, status=422
        )
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.csv"},
    )
