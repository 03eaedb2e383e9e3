"""消费者资产: the overview dashboard, each chart with its numbers as a table and CSV."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from siyu import analytics
from siyu.runtime import Runtime
from siyu.web.auth import SessionDep, Staff
from siyu.web.charts import CHARTS
from siyu.web.i18n import translator
from siyu.web.render import locale_of, page

router = APIRouter(include_in_schema=False)
# Reports scan every order: keep a tenant's results for a while, refresh on demand.
CACHE_SECONDS = 600


def _reports(
    request: Request, session: SessionDep, viewer: Staff, *, refresh: bool
) -> tuple[float, list[analytics.ReportResult]]:
    cache: dict[int, tuple[float, list[analytics.ReportResult]]] = (
        request.app.state.__dict__.setdefault("overview_cache", {})
    )
    found = cache.get(viewer.tenant.id)
    if found is None or refresh or time.time() - found[0] > CACHE_SECONDS:
        runtime: Runtime = request.app.state.runtime
        results = analytics.run_reports(
            session=session,
            tenant=viewer.tenant,
            names=list(CHARTS),
            engine_dir=Path(runtime.settings.engine_dir),
            engine=runtime.settings.engine,
            spark_master=runtime.settings.spark_master,
        )
        found = (time.time(), results)
        cache[viewer.tenant.id] = found
    return found


@router.get("/overview", response_class=HTMLResponse)
def overview(
    request: Request, session: SessionDep, viewer: Staff, refresh: bool = False
) -> HTMLResponse:
    computed_at, results = _reports(request, session, viewer, refresh=refresh)
    _ = translator(locale_of(request))
    panels: list[dict[str, Any]] = []
    for result in results:
        title, build = CHARTS[result.name]
        panels.append(
            {"name": result.name, "title": title, "option": build(result, _), "result": result}
        )
    totals = _totals(results)
    return page(
        request,
        "overview.html",
        {
            "panels": panels,
            "totals": totals,
            "computed_at": time.strftime("%Y-%m-%d %H:%M", time.localtime(computed_at)),
        },
    )


@router.get("/overview/{name}.csv")
def overview_csv(request: Request, session: SessionDep, viewer: Staff, name: str) -> Response:
    _computed, results = _reports(request, session, viewer, refresh=False)
    result = next((r for r in results if r.name == name), None)
    if result is None:
        raise HTTPException(404, f"no report {name!r}")
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheet apps read Chinese in UTF-8 only with a BOM
    writer = csv.DictWriter(out, fieldnames=result.columns)
    writer.writeheader()
    writer.writerows(result.rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _totals(results: list[analytics.ReportResult]) -> dict[str, Any]:
    """Headline numbers: buyers, members' GMV share, net GMV."""
    gmv = next((r for r in results if r.name == "member-gmv"), None)
    rows = gmv.rows if gmv else []
    total = sum((row["gmv"] or 0) for row in rows)
    members = sum((row["gmv"] or 0) for row in rows if row["is_member"])
    return {
        "buyers": sum(int(row["buyers"]) for row in rows),
        "gmv": total,
        "member_share": (members / total * 100) if total else 0,
    }
