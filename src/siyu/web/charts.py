"""ECharts options for the overview's reports (the numbers also show as tables and CSV)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from siyu.analytics import ReportResult

Translate = Callable[..., str]
STAGES = ("prospect", "new", "active", "silent", "churned")


def _num(value: Any) -> float | int:
    if isinstance(value, Decimal):
        return float(value)
    return value if isinstance(value, int | float) else 0


def assets_chart(result: ReportResult, _: Translate) -> dict[str, Any]:
    """Persons per channel, stacked by lifecycle stage."""
    channels = sorted({str(row["channel"]) for row in result.rows})
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in result.rows:
        counts[str(row["lifecycle_stage"])][str(row["channel"])] = int(row["persons"])
    stages = [s for s in STAGES if s in counts] + sorted(set(counts) - set(STAGES))
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 48, "right": 16, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": channels},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": _(stage),
                "type": "bar",
                "stack": "persons",
                "data": [counts[stage].get(c, 0) for c in channels],
            }
            for stage in stages
        ],
    }


def member_gmv_chart(result: ReportResult, _: Translate) -> dict[str, Any]:
    """Members' and non-members' share of net GMV."""
    return {
        "tooltip": {"trigger": "item"},
        "legend": {"top": 0},
        "series": [
            {
                "type": "pie",
                "radius": ["40%", "70%"],
                "data": [
                    {
                        "name": _("Members") if row["is_member"] else _("Non-members"),
                        "value": _num(row["gmv"]),
                    }
                    for row in result.rows
                ],
            }
        ],
    }


def repurchase_chart(result: ReportResult, _: Translate) -> dict[str, Any]:
    """Buyers by number of purchases."""
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 56, "right": 16, "top": 16, "bottom": 28},
        "xAxis": {"type": "category", "data": [str(row["orders"]) for row in result.rows]},
        "yAxis": {"type": "value"},
        "series": [
            {"type": "bar", "name": _("buyers"), "data": [row["buyers"] for row in result.rows]}
        ],
    }


def cohorts_chart(result: ReportResult, _: Translate) -> dict[str, Any]:
    """Retention heat-map: first-purchase month × months later, in per cent."""
    months = sorted({str(row["cohort_month"]) for row in result.rows})
    offsets = sorted({int(row["offset"]) for row in result.rows})
    cells = [
        [
            offsets.index(int(row["offset"])),
            months.index(str(row["cohort_month"])),
            round(int(row["retention_permille"]) / 10, 1),
        ]
        for row in result.rows
        if int(row["offset"]) > 0
    ]
    return {
        "tooltip": {"position": "top"},
        "grid": {"left": 72, "right": 16, "top": 16, "bottom": 64},
        "xAxis": {"type": "category", "data": offsets, "name": _("months later")},
        "yAxis": {"type": "category", "data": months},
        "visualMap": {
            "min": 0,
            "max": max((cell[2] for cell in cells), default=1),
            "calculable": True,
            "orient": "horizontal",
            "left": "center",
            "bottom": 0,
        },
        "series": [{"type": "heatmap", "name": _("retention %"), "data": cells}],
    }


def monthly_chart(result: ReportResult, _: Translate) -> dict[str, Any]:
    """Orders and AOV by month."""
    months = [str(row["month"])[:7] for row in result.rows]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 56, "right": 56, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": months},
        "yAxis": [{"type": "value", "name": _("orders")}, {"type": "value", "name": _("AOV")}],
        "series": [
            {"type": "bar", "name": _("orders"), "data": [row["orders"] for row in result.rows]},
            {
                "type": "line",
                "name": _("AOV"),
                "yAxisIndex": 1,
                "data": [_num(row["aov"]) for row in result.rows],
            },
        ],
    }


CHARTS: dict[str, tuple[str, Callable[[ReportResult, Translate], dict[str, Any]]]] = {
    "assets": ("Persons by channel and lifecycle stage", assets_chart),
    "member-gmv": ("Member share of GMV", member_gmv_chart),
    "repurchase": ("Repurchase distribution", repurchase_chart),
    "cohorts": ("Cohort retention", cohorts_chart),
    "monthly": ("Orders and AOV by month", monthly_chart),
}
