"""Message templates: Jinja2 in a sandbox, one content per locale."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


def pick_locale(content: dict[str, Any], wanted: str | None, default: str) -> str:
    """The content's locale closest to `wanted`: exact, same language, default, first."""
    for candidate in (wanted, default):
        if not candidate:
            continue
        if candidate in content:
            return candidate
        language = candidate.split("-")[0].lower()
        for locale in content:
            if locale.split("-")[0].lower() == language:
                return locale
    return next(iter(content))


def render(value: Any, variables: dict[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists walked) with `variables`."""
    if isinstance(value, str):
        if "{" not in value:  # most strings are plain: skip the template machinery
            return value
        return _compiled(value).render(variables)
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    return value
