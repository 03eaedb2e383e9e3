"""Personal names for matching: Chinese (汉字, possibly masked) and Latin, as pinyin tokens.

`张丽娜`, `Zhang Lina` and `Lina Zhang` all become the pinyin tokens {zhang, lina}: the
written order is kept in `pinyin`, and `key` sorts the tokens so a family/given swap still
agrees. A platform's masked name (`张*`, `张**`) keeps only its family name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

MASKS = "*＊×"
# Two-character family names: split them off whole, or the given name would start wrong.
COMPOUND_FAMILIES = frozenset({
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙",
    "宇文", "司徒", "西门", "南宫", "端木", "独孤", "澹台", "公冶", "呼延", "万俟", "闻人", "轩辕",
})  # fmt: skip
# Family names read differently from the character's everyday reading.
FAMILY_READINGS = {
    "曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "区": "ou", "查": "zha",
    "朴": "piao", "盖": "ge", "覃": "qin", "乐": "yue", "缪": "miao", "翟": "zhai",
    "黑": "he", "秘": "bi", "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
}  # fmt: skip
# How guides and platforms write "Ms Wang": only the family name is known.
HONORIFICS = ("女士", "先生", "小姐", "太太", "老师", "同学")
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN_TOKEN = re.compile(r"[a-z]+")
_SEPARATORS = re.compile(r"[\s·•.\-_,，、]+")


@dataclass(frozen=True, slots=True)
class Name:
    """What matching knows about one written name."""

    text: str  # normalised as written: Han without spaces, Latin lower case single-spaced
    pinyin: str  # pinyin tokens in written order, e.g. "zhang lina"
    key: str  # the same tokens sorted: agrees when family and given are swapped
    family: str | None  # pinyin of the family name when known (Han names only)
    masked: bool  # the given name is hidden (`张*`): only the family name is known


def _syllables(han: str) -> str:
    # pypinyin writes ü as v (lv, nv); Latin spellings use u (Lu, Nu).
    return "".join(lazy_pinyin(han, style=Style.NORMAL)).replace("v", "u")


def _family_reading(family: str) -> str:
    return FAMILY_READINGS.get(family) or _syllables(family)


@lru_cache(maxsize=200_000)
def parse_name(raw: str | None) -> Name | None:
    """Parse a name as a source wrote it; None when nothing usable is left."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    if not text:
        return None
    if _HAN.search(text):
        return _han_name(text)
    return _latin_name(text)


def _han_name(text: str) -> Name | None:
    text = _SEPARATORS.sub("", text)
    masked = any(mask in text for mask in MASKS)
    for honorific in HONORIFICS:
        if text.endswith(honorific) and len(text) > len(honorific):
            text, masked = text[: -len(honorific)], True
            break
    han = "".join(ch for ch in text if _HAN.match(ch))
    if not han or text[0] in MASKS:  # `*伟`: the family name is hidden, nothing to anchor on
        return None
    family_chars = han[:2] if han[:2] in COMPOUND_FAMILIES else han[:1]
    family = _family_reading(family_chars)
    if masked or len(han) == len(family_chars):
        # Only the family name is known (`张*`, or a lone family name as guides write it).
        return Name(text=family_chars + "*", pinyin=family, key=family, family=family, masked=True)
    given = _syllables(han[len(family_chars) :])
    tokens = [family, given]
    return Name(
        text=han,
        pinyin=" ".join(tokens),
        key=" ".join(sorted(tokens)),
        family=family,
        masked=False,
    )


def _latin_name(text: str) -> Name | None:
    if any(mask in text for mask in MASKS):
        return None  # a masked Latin name says too little to compare
    tokens = _LATIN_TOKEN.findall(text)
    if not tokens:
        return None
    joined = " ".join(tokens)
    # The order of a Latin-written Chinese name is unknown (Zhang Lina / Lina Zhang):
    # no family name is claimed, the order-free key does the matching.
    return Name(text=joined, pinyin=joined, key=" ".join(sorted(tokens)), family=None, masked=False)
