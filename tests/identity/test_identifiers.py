"""Identifier normalisation, exactly as the import contract's table specifies."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.identity import (
    IdentifierError,
    normalize_identifiers,
    normalize_phone,
    phone_sha256,
)

PHONE = "13800138000"
PHONE_HASH = hashlib.sha256(PHONE.encode()).hexdigest()


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "+86 138 0013 8000",
        "138-0013-8000",
        "0086-138-0013-8000",
        " 138 0013 8000 ",
        "(+86) 138 0013 8000",
    ],
)
def test_mainland_phone_prefixes_spaces_and_dashes_are_stripped(raw: str) -> None:
    assert normalize_phone(raw) == PHONE


def test_e164_numbers_of_other_countries_are_kept() -> None:
    assert normalize_phone("+1 415-555-2671") == "+14155552671"
    assert normalize_phone("+852 6123 4567") == "+85261234567"


@pytest.mark.parametrize(
    "raw", ["12345", "2380013800", "23800138000", "138001380001", "phone", "+0123456789"]
)
def test_values_that_are_not_phones_are_rejected(raw: str) -> None:
    with pytest.raises(IdentifierError):
        normalize_phone(raw)


def test_raw_phone_yields_the_sha256_key_hashed_sources_use() -> None:
    raw, raw_errors = normalize_identifiers({"phone": "+86 138-0013-8000"})
    hashed, hashed_errors = normalize_identifiers({"phone_sha256": PHONE_HASH.upper()})
    assert raw_errors == hashed_errors == {}
    assert raw.keys == [("phone_sha256", PHONE_HASH)]
    assert hashed.keys == raw.keys
    assert raw.values["phone"] == PHONE  # the normalised phone is kept for display
    assert phone_sha256(PHONE) == PHONE_HASH


def test_raw_and_hashed_copies_of_one_phone_give_one_key() -> None:
    both, errors = normalize_identifiers({"phone": PHONE, "phone_sha256": PHONE_HASH})
    assert errors == {}
    assert both.keys == [("phone_sha256", PHONE_HASH)]


@pytest.mark.parametrize("masked", ["138****5678", " 138****5678 "])
def test_masked_phone_is_a_hint_not_a_key(masked: str) -> None:
    result, errors = normalize_identifiers({"phone": masked})
    assert errors == {}
    assert result.keys == []
    assert result.hints == {"masked_phone": "138****5678"}
    assert "phone" not in result.values


@pytest.mark.parametrize("masked", ["138 **** 5678", "+86 138****5678", "138-****-5678"])
def test_masked_phone_with_spaces_or_prefix_is_still_a_hint(masked: str) -> None:
    result, errors = normalize_identifiers({"phone": masked})
    assert errors == {}
    assert result.keys == []
    assert result.hints == {"masked_phone": "138****5678"}


def test_masked_phone_next_to_a_real_identifier() -> None:
    result, errors = normalize_identifiers({"phone": "138****5678", "email": "a@b.cn"})
    assert errors == {}
    assert result.keys == [("email", "a@b.cn")]
    assert result.hints == {"masked_phone": "138****5678"}


def test_email_is_trimmed_and_lowercased() -> None:
    result, errors = normalize_identifiers({"email": "  Li.Lei@Example.COM "})
    assert errors == {}
    assert result.keys == [("email", "li.lei@example.com")]


@pytest.mark.parametrize("bad", ["not-an-email", "@example.com", "a@localhost", "a b@c.cn"])
def test_invalid_email_is_an_error_naming_the_type(bad: str) -> None:
    result, errors = normalize_identifiers({"email": bad, "member_no": "m1"})
    assert set(errors) == {"email"}
    assert bad in errors["email"]
    assert result.keys == [("member_no", "M1")]  # the other identifier still normalises


def test_member_no_is_trimmed_and_uppercased() -> None:
    result, _ = normalize_identifiers({"member_no": " vip-00a1 "})
    assert result.keys == [("member_no", "VIP-00A1")]


def test_sha256_must_be_64_hex_digits() -> None:
    _, errors = normalize_identifiers({"phone_sha256": "abc123"})
    assert set(errors) == {"phone_sha256"}
    assert "SHA-256" in errors["phone_sha256"]


@pytest.mark.parametrize(
    ("id_type", "scope"),
    [("wechat_openid", "appid/openid"), ("wecom_external_userid", "corpid/external_userid")],
)
def test_scoped_identifiers_must_carry_their_scope(id_type: str, scope: str) -> None:
    ok, ok_errors = normalize_identifiers({id_type: " wx1234/o6_bmjrPTlm6 "})
    assert ok_errors == {}
    assert ok.keys == [(id_type, "wx1234/o6_bmjrPTlm6")]  # case kept: ids are as is
    for unscoped in ("o6_bmjrPTlm6", "wx1234/", "/o6_bmjrPTlm6"):
        result, errors = normalize_identifiers({id_type: unscoped})
        assert set(errors) == {id_type}
        assert scope in errors[id_type]
        assert result.keys == []


@pytest.mark.parametrize(
    "id_type", ["wechat_unionid", "tmall_ouid", "jd_pin", "douyin_openid", "youzan_open_id"]
)
def test_platform_ids_are_kept_as_is(id_type: str) -> None:
    result, errors = normalize_identifiers({id_type: " oAbC-123_x "})
    assert errors == {}
    assert result.keys == [(id_type, "oAbC-123_x")]


def test_device_id_is_lowercased() -> None:
    result, errors = normalize_identifiers({"device_id": "AB12CD34-0000-4000-8000-ABCDEF012345"})
    assert errors == {}
    assert result.keys == [("device_id", "ab12cd34-0000-4000-8000-abcdef012345")]


@pytest.mark.parametrize(
    "placeholder", ["00000000-0000-0000-0000-000000000000", "0", "unknown", "NULL", " Unknown "]
)
def test_device_placeholders_are_rejected(placeholder: str) -> None:
    result, errors = normalize_identifiers({"device_id": placeholder})
    assert set(errors) == {"device_id"}
    assert "placeholder" in errors["device_id"]
    assert result.keys == []


def test_unknown_type_is_an_error_naming_it() -> None:
    _, errors = normalize_identifiers({"qq_number": "12345"})
    assert set(errors) == {"qq_number"}
    assert "qq_number" in errors["qq_number"]


def test_invalid_phone_is_an_error_naming_the_type() -> None:
    _, errors = normalize_identifiers({"phone": "12345"})
    assert set(errors) == {"phone"}
    assert "12345" in errors["phone"]


def test_empty_values_mean_no_value() -> None:
    result, errors = normalize_identifiers({"phone": "", "email": None, "member_no": "  "})
    assert errors == {}
    assert result.keys == []


def test_tenant_defined_types_use_their_normalisation() -> None:
    custom = {"loyalty_card": "upper", "staff_code": "lower", "crm_id": "as_is"}
    result, errors = normalize_identifiers(
        {"loyalty_card": " ab1 ", "staff_code": "XyZ", "crm_id": " Aa "}, custom_types=custom
    )
    assert errors == {}
    assert result.keys == [("loyalty_card", "AB1"), ("staff_code", "xyz"), ("crm_id", "Aa")]
    _, unknown = normalize_identifiers({"loyalty_card": "ab1"})
    assert set(unknown) == {"loyalty_card"}


# -- properties ---------------------------------------------------------------------------

_junk = st.sampled_from(["", " ", "-", "  ", "\u3000", "(", ")"])
_prefix = st.sampled_from(["", "+86", "0086", "86", "+86 ", "0086-"])


@st.composite
def noisy_mainland_phones(draw: st.DrawFn) -> tuple[str, str]:
    """A mainland mobile and a noisy spelling of it (prefix, spaces, dashes)."""
    digits = "1" + draw(st.text(alphabet="0123456789", min_size=10, max_size=10))
    noisy = draw(_prefix) + "".join(d + draw(_junk) for d in digits)
    return digits, noisy


@settings(max_examples=300, deadline=None)
@given(noisy_mainland_phones())
def test_noisy_spellings_normalise_to_the_11_digits(pair: tuple[str, str]) -> None:
    digits, noisy = pair
    assert normalize_phone(noisy) == digits


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        noisy_mainland_phones().map(lambda pair: pair[1]),
        st.text(alphabet="+0123456789 -()", max_size=20),
    )
)
def test_normalising_a_phone_twice_is_the_same_as_once(raw: str) -> None:
    try:
        once = normalize_phone(raw)
    except IdentifierError:
        return
    assert normalize_phone(once) == once
    # ...and the identifier key is stable too: the hash of the normalised phone.
    first, _ = normalize_identifiers({"phone": raw})
    again, _ = normalize_identifiers({"phone": once})
    assert first.keys == again.keys == [("phone_sha256", phone_sha256(once))]
