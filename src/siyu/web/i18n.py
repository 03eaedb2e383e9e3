"""Console languages: zh-CN first, English by switch. Message ids are the English text.

Catalogs live in `locales/<locale>/<section>.json` (one file per console section, so
sections are translated independently); a test checks every template string has a
translation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")
_DIR = Path(__file__).parent / "locales"


@cache
def catalog(locale: str) -> dict[str, str]:
    """English text → text in `locale` (English has no catalog: the ids are the text)."""
    folder = _DIR / locale
    if locale == "en" or not folder.is_dir():
        return {}
    merged: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def translator(locale: str) -> Callable[..., str]:
    """A function translating English text (with `{name}` fields) into `locale`."""
    messages = catalog(locale)

    def translate(text: str, **values: object) -> str:
        found = messages.get(text, text)
        return found.format(**values) if values else found

    return translate


def pick_locale(*, cookie: str | None, preferred: str | None) -> str:
    """The switch (cookie) wins over the user's stored preference; zh-CN by default."""
    for choice in (cookie, preferred):
        if choice in LOCALES:
            return choice
    return DEFAULT_LOCALE
