"""Names, features and comparison levels for Chinese and Latin records."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.identity.matching.features import email_local, masked_address_prefix
from siyu.identity.matching.names import parse_name
from siyu.identity.matching.pipeline import compare


@pytest.mark.parametrize(
    ("raw", "pinyin", "key", "family", "masked"),
    [
        ("张丽娜", "zhang lina", "lina zhang", "zhang", False),
        ("Zhang Lina", "zhang lina", "lina zhang", None, False),
        ("Lina Zhang", "lina zhang", "lina zhang", None, False),
        ("ＺＨＡＮＧ　Ｗｅｉ", "zhang wei", "wei zhang", None, False),
        ("欧阳娜娜", "ouyang nana", "nana ouyang", "ouyang", False),  # compound family name
        ("曾伟", "zeng wei", "wei zeng", "zeng", False),  # 曾 as a family name is zeng
        ("吕敏", "lu min", "lu min", "lu", False),  # ü written as u, as in Latin forms
        ("张**", "zhang", "zhang", "zhang", True),
        ("王女士", "wang", "wang", "wang", True),  # a guide's remark: family name only
        (" 张 伟 ", "zhang wei", "wei zhang", "zhang", False),
    ],
)
def test_names_parse_to_pinyin_tokens(
    raw: str, pinyin: str, key: str, family: str | None, masked: bool
) -> None:
    name = parse_name(raw)
    assert name is not None
    assert (name.pinyin, name.key, name.family, name.masked) == (pinyin, key, family, masked)


@pytest.mark.parametrize("raw", [None, "", "  ", "***", "*伟"])
def test_unusable_names_are_none(raw: str | None) -> None:
    assert parse_name(raw) is None


def test_small_feature_helpers() -> None:
    assert email_local("Lina.W+shop@163.com") == "Lina.W"
    assert email_local("no-at-sign") is None
    assert masked_address_prefix("人民路***") == "人民路"
    assert masked_address_prefix("人民路12号") is None


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("张伟", "张伟", "exact"),
        ("张伟", "Zhang Wei", "latin"),
        ("张伟", "Wei Zhang", "latin"),  # given name first, as Latin forms often are
        ("张丽", "张莉", "homophone"),
        ("李雨", "于丽", "different"),  # two Han names swapped are two people
        ("张丽娜", "张丽那", "homophone"),
        ("欧阳娜娜", "欧阳娜", "similar"),
        ("张*", "张伟", "family"),
        ("Zhang Wei", "张**", "family"),
        ("王*", "张伟", "different"),
        ("张伟", "李娜", "different"),
    ],
)
def test_name_levels(a: str, b: str, level: str) -> None:
    assert compare({"name": a}, {"name": b})["name"] == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("1990-03-12", "1990-03-12", "exact"),
        ("1990-03-12", "1990-12-03", "transposed"),  # month and day swapped
        ("1990-03-12", "1909-03-12", "transposed"),  # two digits transposed
        ("1990-03-12", "1990-03-13", "transposed"),  # one digit mistyped
        ("1990-03-12", "1990-07-25", "same_year"),
        ("1990-03-12", "1985-07-25", "different"),
    ],
)
def test_birthday_levels(a: str, b: str, level: str) -> None:
    assert compare({"birthday": a}, {"birthday": b})["birthday"] == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ({"phone": "13812345678"}, {"phone": "13812345678"}, "exact"),
        ({"phone": "13812345678"}, {"masked_phone": "138****5678"}, "masked"),
        ({"masked_phone": "138****5678"}, {"masked_phone": "138****5678"}, "masked"),
        ({"masked_phone": "139****5678"}, {"phone": "13812345678"}, "suffix"),
        ({"phone": "13812345678"}, {"phone": "13812340000"}, "different"),
        # two full phones that differ: prefix and suffix agreeing is no excuse
        ({"phone": "13812345678"}, {"phone": "13899995678"}, "different"),
        # a hash against a full phone is compared as a full phone
        (
            {"phone_sha256": "d2a5e4b3d3d1b1f2b13b5b2a6f6b0a6a4d8fd5f7e6ff7e2b7d0f0e5f6c3b0a1c"},
            {"phone": "13812345678"},
            "different",
        ),
        # a hash against a masked phone cannot be compared (the mask is not reversed)
        ({"phone_sha256": "ab" * 32}, {"masked_phone": "138****5678"}, None),
    ],
)
def test_phone_levels(a: dict[str, Any], b: dict[str, Any], level: str | None) -> None:
    assert compare(a, b)["phone"] == level


def test_hashed_and_raw_phone_agree() -> None:
    import hashlib

    digest = hashlib.sha256(b"13812345678").hexdigest()
    assert compare({"phone_sha256": digest}, {"phone": "13812345678"})["phone"] == "exact"


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("lina@163.com", "lina@163.com", "exact"),
        ("12345678@qq.com", "12345678@foxmail.com", "local_part"),
        ("linawang@163.com", "linawong@gmail.com", "similar"),
        ("lina@163.com", "zhou@163.com", "different"),
    ],
)
def test_email_levels(a: str, b: str, level: str) -> None:
    assert compare({"email": a}, {"email": b})["email"] == level


SHANGHAI = {"province": "上海市", "city": "上海市"}


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (
            {**SHANGHAI, "address": "人民路12号阳光花园3栋1201室"},
            {**SHANGHAI, "address": "人民路 12号 阳光花园3栋 1201室"},
            "address",
        ),
        # same road and compound, other numbers: neighbours, not the same address
        (
            {**SHANGHAI, "district": "静安区", "address": "人民路12号阳光花园3栋1201室"},
            {**SHANGHAI, "district": "静安区", "address": "人民路12号阳光花园3栋1202室"},
            "district",
        ),
        (
            {**SHANGHAI, "district": "静安区", "address": "人民路***"},
            {**SHANGHAI, "district": "静安区", "address": "人民路12号阳光花园3栋1201室"},
            "street",
        ),
        ({**SHANGHAI, "district": "静安区"}, {**SHANGHAI, "district": "徐汇区"}, "city"),
        ({"postal_code": "200120"}, {**SHANGHAI, "postal_code": "200120"}, "city"),
        (
            {"province": "广东省", "city": "广州市"},
            {"province": "广东省", "city": "深圳市"},
            "province",
        ),
        ({"province": "广东省", "city": "广州市"}, SHANGHAI, "different"),
        ({}, SHANGHAI, None),
        # A device id (lower-cased as stored): the same phone, wherever the records say.
        ({"device_id": "ABCD-1"}, {"device_id": " abcd-1"}, "device"),
        (
            {**SHANGHAI, "device_id": "abcd-1"},
            {"province": "广东省", "device_id": "abcd-1"},
            "device",
        ),
        # A household: the same device at the same home is one level, not two adding up.
        (
            {**SHANGHAI, "address": "人民路12号阳光花园3栋1201室", "device_id": "abcd-1"},
            {**SHANGHAI, "address": "人民路12号阳光花园3栋1201室", "device_id": "abcd-1"},
            "device_address",
        ),
        (
            {**SHANGHAI, "address": "人民路12号阳光花园3栋1201室", "device_id": "abcd-1"},
            {**SHANGHAI, "address": "人民路12号阳光花园3栋1201室", "device_id": "ef-2"},
            "address",
        ),
        ({**SHANGHAI, "device_id": "abcd-1"}, {**SHANGHAI, "device_id": "ef-2"}, "city"),
        # other devices and no place on one side: nothing to compare
        ({"device_id": "abcd-1"}, {**SHANGHAI, "device_id": "ef-2"}, None),
    ],
)
def test_location_levels(a: dict[str, Any], b: dict[str, Any], level: str | None) -> None:
    assert compare(a, b)["location"] == level


def test_guide_and_gender_levels() -> None:
    pos = {"store_id": "S001", "staff_id": "G001", "gender": "f"}
    assert compare(pos, {"store_id": "S001", "staff_id": "G001", "gender": "f"}) == {
        "name": None,
        "birthday": None,
        "phone": None,
        "email": None,
        "location": None,
        "gender": "same",
        "guide": "same_guide",
    }
    assert compare(pos, {"store_id": "S001", "staff_id": "G031"})["guide"] == "same_store"
    assert compare(pos, {"gender": "m"})["gender"] == "different"
    assert compare(pos, {"gender": "u"})["gender"] is None  # unknown is not a gender


NAMES = st.sampled_from(
    ["张伟", "Zhang Wei", "Wei Zhang", "张*", "张丽", "张莉", "李娜", "欧阳娜娜", "王女士", None]
)
records = st.fixed_dictionaries(
    {},
    optional={
        "name": NAMES,
        "birthday": st.sampled_from(["1990-03-12", "1990-12-03", "1909-03-12", "1990-05-01"]),
        "phone": st.sampled_from(["13812345678", "13899995678"]),
        "masked_phone": st.sampled_from(["138****5678", "139****5678"]),
        "email": st.sampled_from(["lina@163.com", "lina@qq.com", "lin@163.com"]),
        "city": st.sampled_from(["上海市", "北京市"]),
        "district": st.sampled_from(["静安区", "徐汇区"]),
        "address": st.sampled_from(["人民路12号3栋1201室", "人民路***", "人民路 12号 3栋1201室"]),
        "postal_code": st.sampled_from(["200000", "100000"]),
        "gender": st.sampled_from(["m", "f", "u"]),
        "store_id": st.sampled_from(["S001", "S002"]),
        "staff_id": st.sampled_from(["G001", "G002"]),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=records, b=records)
def test_comparisons_are_symmetric(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert compare(a, b) == compare(b, a)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=records)
def test_a_record_never_disagrees_with_itself(a: dict[str, Any]) -> None:
    levels = compare(a, a)
    assert "different" not in levels.values()
    assert "same_year" not in levels.values()
