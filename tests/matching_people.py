"""Synthetic people for matching tests: each known to the brand's POS and to a platform."""

from __future__ import annotations

import random
from typing import Any

FAMILIES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
CITIES = [("上海市", "上海市"), ("北京市", "北京市"), ("广东省", "广州市"), ("浙江省", "杭州市")]


def synthetic_people(n: int, seed: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Per person a POS record (name, phone, birthday, city) and a Douyin record as its
    export shows them (masked phone, often a masked name): no strong identifier shared."""
    rng = random.Random(seed)
    people = []
    phones: set[str] = set()
    for p in range(n):
        family = rng.choice(FAMILIES)
        name = family + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        while (phone := f"1{rng.choice('3589')}{rng.randrange(10**9):09d}") in phones:
            pass
        phones.add(phone)
        province, city = rng.choice(CITIES)
        birthday = f"{rng.randint(1970, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        pos = {"external_id": f"PC{p:05d}", "name": name, "phone": phone, "birthday": birthday,
               "province": province, "city": city, "source": "pos"}  # fmt: skip
        shown = family + "*" * (len(name) - 1) if rng.random() < 0.5 else name
        platform = {"external_id": f"DY{p:05d}", "name": shown, "province": province,
                    "city": city, "source": "douyin",
                    "masked_phone": f"{phone[:3]}****{phone[7:]}"}  # fmt: skip
        if rng.random() < 0.1:  # no masked phone on this platform record
            del platform["masked_phone"]
            platform["birthday"] = birthday
        people.append((pos, platform))
    return people


def canonical(record: dict[str, Any]) -> dict[str, Any]:
    """The record as a canonical customer record to import."""
    fields = {k: v for k, v in record.items() if k not in ("phone", "masked_phone")}
    ids: dict[str, str] = {}
    if "phone" in record:
        ids["phone"] = record["phone"]
    if "masked_phone" in record:
        ids["phone"] = record["masked_phone"]  # masked: becomes a hint, not an identifier
    if record["source"] == "douyin":
        ids["douyin_openid"] = "_000" + record["external_id"]
    return {"kind": "customer", **fields, "identifiers": ids}
