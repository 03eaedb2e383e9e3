"""Plumbing shared by the `siyu loyalty ...` commands: one service call per command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import orjson
import typer
from pydantic import BaseModel
from rich.table import Table
from sqlalchemy.orm import Session

from siyu import loyalty
from siyu.cli.common import console, fail, options, print_json, runtime
from siyu.tenants import TenantContext

T = TypeVar("T")
Program = Annotated[str, typer.Option("--program", "-p", help="program code")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]
Now = Annotated[datetime | None, typer.Option(help="act as of this time (ISO 8601 with offset)")]


def do(work: Callable[[Session, TenantContext], T], *, write: bool = True) -> T:
    """Run one service call for the tenant; commit writes; loyalty errors end the command."""
    rt = runtime()
    with rt.session() as session:
        tenant = rt.tenant(session, options.tenant)
        try:
            result = work(session, tenant)
        except loyalty.LoyaltyError as error:
            fail(str(error))
            raise  # unreachable: fail exits
        if write:
            session.commit()
        return result


def show(value: BaseModel | list[Any], as_json: bool, title: str) -> None:
    """A model or list of models as a Rich table (or JSON)."""
    if as_json:
        print_json(value)
        return
    rows = value if isinstance(value, list) else [value]
    data = [r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in rows]
    if not data:
        console.print(f"{title}: none")
        return
    table = Table(*data[0].keys(), title=title)
    for row in data:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)
