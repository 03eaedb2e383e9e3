"""Every string the console shows has a Chinese translation (zh-CN is the default)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import siyu.web
from siyu.web.i18n import catalog, translator

WEB = Path(siyu.web.__file__).parent
# _("literal") in templates and in the page code (chart titles, section labels).
LITERAL = re.compile(r"""_\(\s*(["'])(.+?)\1\s*[,)]""")
SECTION_LABEL = re.compile(r'Section\("[^"]+", "([^"]+)"')


def _used_strings() -> set[str]:
    found: set[str] = set()
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        found.update(match.group(2) for match in LITERAL.finditer(text))
        found.update(SECTION_LABEL.findall(text))
    return found


def test_every_console_string_has_chinese() -> None:
    missing = sorted(_used_strings() - set(catalog("zh-CN")))
    assert not missing, f"add these to web/locales/zh-CN/*.json: {missing}"


def test_translator_fills_values_and_falls_back_to_english() -> None:
    zh = translator("zh-CN")
    assert zh("Computed at {time} from traits of the last compute.", time="10:00").startswith(
        "计算于 10:00"
    )
    assert translator("en")("Persons") == "Persons"
    assert zh("a string nobody translated") == "a string nobody translated"


def test_sections_never_translate_one_string_two_ways() -> None:
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path in sorted((WEB / "locales" / "zh-CN").glob("*.json")):
        for key, value in json.loads(path.read_text(encoding="utf-8")).items():
            if key in seen and seen[key][1] != value:
                clashes.append(f"{key!r}: {seen[key][0]}={seen[key][1]!r}, {path.name}={value!r}")
            seen[key] = (path.name, value)
    assert not clashes, "one English id, two translations (use a more specific id): " + "; ".join(
        clashes
    )
