"""Message templates: Jinja2 in a sandbox, one content per locale."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


# `{{ person.name }}`: a bare variable path, no filters or expressions.
_BARE = re.compile(r"^\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}$")
_MISSING = object()
# Names Jinja reads as literals or its own objects whatever the variables say.
_JINJA_NAMES = {"true", "false", "none", "True", "False", "None", "self", "loop", "super"}


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


@lru_cache(maxsize=4096)
def _bare_path(source: str) -> tuple[str, ...] | None:
    """The parts of a template that is only `{{ a.b.c }}`, else None."""
    found = _BARE.match(source)
    if found is None:
        return None
    path = tuple(found.group(1).split("."))
    return None if path[0] in _JINJA_NAMES else path


def _lookup(variables: dict[str, Any], path: tuple[str, ...]) -> Any:
    """What Jinja finds at `a.b.c` when every step is a plain dict key that is not also a
    dict attribute (`items`, `keys`, ...: Jinja would give the method); else missing."""
    value: Any = variables
    for part in path:
        if type(value) is not dict or part not in value or hasattr(dict, part):
            return _MISSING
        value = value[part]
    return value


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


_PLAIN = (str, int, bool)


def render(value: Any, variables: dict[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists walked) with `variables`."""
    if isinstance(value, str):
        if "{" not in value:  # most strings are plain: skip the template machinery
            return value
        path = _bare_path(value)
        if path is not None:
            # The common `{{ person.name }}` without a Jinja context per message: the
            # same text Jinja would give (str of the value) when the path is plain data.
            found = _lookup(variables, path)
            if found is not _MISSING and type(found) in _PLAIN:
                return str(found)
        return _compiled(value).render(variables)
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    return value
