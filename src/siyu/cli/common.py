"""Shared CLI plumbing: global options, the runtime, JSON output."""

from __future__ import annotations

from typing import Any

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console

from siyu.runtime import Runtime, open_runtime

console = Console()
errors = Console(stderr=True)


class Options:
    """Global options given before the command (`siyu --db URL ingest ...`)."""

    database_url: str | None = None
    tenant: str | None = None


options = Options()


def runtime() -> Runtime:
    return open_runtime(database_url=options.database_url)


def print_json(value: Any) -> None:
    """Machine-readable output on stdout."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def fail(message: str, code: int = 1) -> None:
    errors.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
