"""Analytics contracts: a report's result."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ReportInfo(BaseModel):
    name: str
    description: str


class ReportResult(BaseModel):
    name: str
    engine: str
    columns: list[str]
    rows: list[dict[str, Any]]  # money in yuan (Decimal), no `_fen` columns
