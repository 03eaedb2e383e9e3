"""Shared pieces of the tag and audience routers: error mapping and engine settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request, status

from siyu import rules, tags
from siyu.audiences import AudienceError, ExportFieldError
from siyu.engine import EngineUnavailableError


@contextmanager
def refusals() -> Iterator[None]:
    """Known refusals as HTTP errors: 404 for unknown names, 422 for bad requests/rules."""
    try:
        yield
    except rules.RuleError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, error.problems) from None
    except LookupError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error.args[0])) from None
    except (tags.TagError, AudienceError, ExportFieldError, ValueError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from None
    except EngineUnavailableError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None


@dataclass(frozen=True)
class EngineSettings:
    engine_dir: Path
    engine: str
    spark_master: str


def engine_settings(request: Request) -> EngineSettings:
    settings = request.app.state.runtime.settings
    return EngineSettings(Path(settings.engine_dir), settings.engine, settings.spark_master)
