"""Rendering: the shortcut for bare `{{ a.b }}` templates gives exactly Jinja's text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.channels.templates import _compiled, render

VARIABLES: dict[str, Any] = {
    "person": {"name": "王小明", "points": 120, "vip": True, "tier": None, "items": "x"},
    "data": {"n": 0, "nested": {"deep": "d"}, "f": 1.5},
    "true": "shadowed",
    "message_key": "k1",
}


@pytest.mark.parametrize(
    "source",
    [
        "{{ person.name }}",
        "{{person.points}}",
        "{{ person.vip }}",
        "{{ person.tier }}",  # None: Jinja's own rendering
        "{{ person.items }}",  # a dict method name: Jinja gives the method
        "{{ person.missing }}",
        "{{ data.nested.deep }}",
        "{{ data.nested }}",
        "{{ data.f }}",
        "{{ true }}",  # a Jinja literal, not the variable
        "{{ message_key }}",
        "{{ nobody.name }}",
        "{{ person.name | upper }}",
        "Hi {{ person.name }}",
    ],
)
def test_bare_templates_render_as_jinja_does(source: str) -> None:
    assert _outcome(lambda: render(source, VARIABLES)) == _outcome(
        lambda: _compiled(source).render(VARIABLES)
    )


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as error:  # e.g. an attribute of an undefined name: the same error
        return type(error)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats()),
    key=st.sampled_from(["name", "keys", "get", "a_1"]),
)
def test_any_plain_value_renders_as_jinja_does(value: Any, key: str) -> None:
    variables = {"person": {key: value}}
    source = f"{{{{ person.{key} }}}}"
    assert render(source, variables) == _compiled(source).render(variables)
