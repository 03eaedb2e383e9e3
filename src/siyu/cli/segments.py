"""Shared CLI plumbing for `siyu tag` and `siyu audience`: rules from text or files, errors."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from siyu.cli.common import fail, options, runtime
from siyu.runtime import Runtime
from siyu.tenants import TenantContext


def rule_data(text: str) -> Any:
    """A rule given as JSON text, or `@path` to a JSON file."""
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        fail(f"the rule is not valid JSON: {error}")
        raise


def day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def who() -> str:
    """Who acts (recorded as the giver of tags / creator): the OS user at the CLI."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def tenant_session() -> Iterator[tuple[Runtime, Session, TenantContext]]:
    """A session and tenant; known refusals (bad rules, unknown names) exit cleanly."""
    from siyu import rules, tags
    from siyu.audiences import AudienceError, ExportFieldError
    from siyu.engine import EngineUnavailableError

    rt = runtime()
    with rt.session() as session:
        try:
            yield rt, session, rt.tenant(session, options.tenant)
        except rules.RuleError as error:
            fail("invalid rule:\n  " + "\n  ".join(error.problems))
        except (
            LookupError,
            tags.TagError,
            AudienceError,
            ExportFieldError,
            EngineUnavailableError,
        ) as error:
            fail(str(error.args[0]) if error.args else str(error))
