"""Analytics: consumer-asset reports computed in the engine; the Online Retail importer."""

from siyu.analytics.retail import convert_online_retail
from siyu.analytics.schemas import ReportInfo, ReportResult
from siyu.analytics.service import (
    UnknownReportError,
    list_reports,
    run_report,
    run_reports,
    write_csv,
)

__all__ = [
    "ReportInfo",
    "ReportResult",
    "UnknownReportError",
    "convert_online_retail",
    "list_reports",
    "run_report",
    "run_reports",
    "write_csv",
]
