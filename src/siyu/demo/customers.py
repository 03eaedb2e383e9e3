"""Customer records: one person as one source knows them, with each platform's gaps."""

from __future__ import annotations

from typing import Any, Final

from siyu.demo.catalog import MEMBER_LEVELS, NICKNAMES, TYPO_CHARS
from siyu.demo.context import DAY, Context, masked, sha256_hex
from siyu.demo.people import Person, pinyin_name, token

# The brand's WeChat mini-program app id and WeCom corp id (scopes of openid / external_userid).
WX_APPID: Final = "wx8f3a1c2b9d4e6f70"
WECOM_CORPID: Final = "ww5e2d7c1a9b3f4e60"

_PREFIX: Final = {"tmall": "TM", "jd": "JD", "douyin": "DY", "wechat_mp": "MP", "pos": "PC"}
# Share of records of a source carrying name, gender, birthday, province/city, address.
# Platforms know their buyers as the recipient of their orders (name, address), which is
# what their exports carry; WeCom contacts carry the remark name the guide gave them.
_SHOWN: Final = {
    "tmall": (0.95, 0.6, 0.3, 0.97, 0.9),
    "jd": (0.95, 0.5, 0.2, 0.97, 0.9),
    "douyin": (0.95, 0.7, 0.0, 0.95, 0.9),
    "wechat_mp": (0.8, 0.8, 0.6, 0.9, 0.6),
    "pos": (0.95, 0.95, 0.7, 1.0, 0.4),
    "wecom": (0.95, 0.9, 0.0, 0.5, 0.0),
}
_EMAIL_SHARE: Final = {"jd": 0.25, "wechat_mp": 0.15, "pos": 0.1}
# Share of addresses shown with a postal code (Tmall's 收货地址 ends with one).
_POSTAL_SHARE: Final = {"tmall": 0.7, "jd": 0.3, "wechat_mp": 0.3, "pos": 0.3}
# Platforms whose recipient may be someone else (a gift, a family member).
_RECIPIENT_SOURCES: Final = frozenset({"tmall", "jd", "douyin"})
# Sources where a name may be typed in pinyin (cross-border buyers, an English UI).
_PINYIN_SOURCES: Final = frozenset({"tmall", "jd", "wechat_mp"})


def external_id(ctx: Context, source: str) -> str:
    """A new external_id, unique within `source`."""
    if source == "wecom":
        # WeCom's external_userid is the record's own id there.
        return "wm" + token(ctx.rng, 22)[:30]
    return _PREFIX[source] + ctx.serial("customer:" + source, 10)


def _typo(ctx: Context, name: str) -> str:
    pos = ctx.rng.randrange(len(name))
    swap = TYPO_CHARS.get(name[pos]) or ctx.rng.choice("丽芳敏静婷伟")
    return name[:pos] + swap + name[pos + 1 :]


def _shown_name(ctx: Context, p: Person, source: str, *, typo: bool) -> str:
    """The name a source shows for `p`, with the ways sources really get it different."""
    rng = ctx.rng
    if typo:
        return _typo(ctx, p.family + p.given)
    if source in _RECIPIENT_SOURCES and rng.random() < 0.03:
        return ctx.factory.other_name()  # the recipient was someone else
    if source == "douyin" and rng.random() < 0.6:
        return p.family + "*" * len(p.given)  # Douyin masks recipients' given names
    if source in _PINYIN_SOURCES and rng.random() < 0.03:
        return pinyin_name(p, given_first=rng.random() < 0.5)
    return p.family + p.given


def _shown_birthday(ctx: Context, birthday: str) -> str:
    """Birthdays as typed: month and day swapped or two digits transposed now and then."""
    rng = ctx.rng
    if rng.random() >= 0.03:
        return birthday
    year, month, day = birthday.split("-")
    if int(day) <= 12 and day != month and rng.random() < 0.6:
        return f"{year}-{day}-{month}"
    digits = list(year + month + day)
    pos = rng.choice([i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]])
    digits[pos], digits[pos + 1] = digits[pos + 1], digits[pos]
    text = "".join(digits)
    candidate = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return candidate if _valid_date(candidate) else birthday


def _valid_date(text: str) -> bool:
    year, month, day = (int(x) for x in text.split("-"))
    return 1900 <= year <= 2026 and 1 <= month <= 12 and 1 <= day <= 28


def _shown_address(ctx: Context, source: str, address: str) -> str:
    """Douyin masks the street number; other sources space the parts as the buyer typed."""
    if source == "douyin":
        return address[: address.index("路") + 1] + "***"
    if ctx.rng.random() < 0.2:
        return address.replace("号", "号 ").replace("栋", "栋 ")
    return address


def write_customer(
    ctx: Context,
    p: Person,
    *,
    source: str,
    ext: str,
    first_seen: int | None,
    phone: str,
    typo: bool,
    device: bool,
    address: tuple[str, str] | None = None,
) -> None:
    """Write the customer record of `p` in `source` and its truth row.

    `address` is (district, street address) when this source still has an old address."""
    rng = ctx.rng
    r = rng.random
    rec: dict[str, Any] = {"kind": "customer", "source": source, "external_id": ext}
    ids: dict[str, str] = {}
    attrs: dict[str, Any] = {}
    consent: dict[str, bool] | None = None
    home_store = False
    # A second phone or a typo is only noise if it is actually written out.
    second_phone = phone != p.phone
    if source == "tmall":
        # Tmall never hands out raw phones to brands, only a hash of them.
        ids["tmall_ouid"] = "AA" + token(rng, 16)[:22]
        if second_phone or r() < 0.7:
            ids["phone_sha256"] = sha256_hex(phone)
        if r() < 0.95:
            # The order report's 联系手机, masked: a matching hint, not an identifier.
            ids["phone"] = masked(phone)
        if r() < 0.5:
            attrs["member_grade"] = rng.randint(1, 3)
    elif source == "jd":
        ids["jd_pin"] = f"{rng.getrandbits(128):032x}"
        if second_phone or r() < 0.4:
            ids["phone"] = ctx.raw_phone(phone)
        elif r() < 0.95:
            ids["phone"] = masked(phone)
    elif source == "douyin":
        # Douyin shows only a masked phone: a matching hint, not an identifier.
        ids["douyin_openid"] = "_000" + token(rng, 24)
        attrs["nickname"] = rng.choice(NICKNAMES) + str(rng.randrange(100, 9999))
        if r() < 0.97:
            ids["phone"] = masked(phone)
    elif source == "wechat_mp":
        ids["wechat_openid"] = f"{WX_APPID}/o{token(rng, 20)[:27]}"
        if r() < 0.6:
            ids["wechat_unionid"] = p.unionid
        if second_phone or r() < 0.75:
            ids["phone"] = ctx.raw_phone(phone)
        if r() < 0.7:
            ids["member_no"] = p.member_no
        attrs["nickname"] = rng.choice(NICKNAMES)
        if r() < 0.6:
            consent = {"sms": r() < 0.6, "wechat": r() < 0.8}
    elif source == "pos":
        if r() < 0.8:
            # Cashiers sometimes type the card number in lower case with a stray space.
            ids["member_no"] = p.member_no if r() >= 0.005 else f" {p.member_no.lower()}"
        if second_phone or r() < 0.85:
            ids["phone"] = ctx.raw_phone(phone)
        home_store = True
        attrs["member_level"] = MEMBER_LEVELS[min(3, int(r() * r() * 4))]
        if r() < 0.7:
            consent = {"sms": r() < 0.7, "email": r() < 0.2, "wecom": r() < 0.6}
    else:  # wecom: a contact a guide added
        ids["wecom_external_userid"] = f"{WECOM_CORPID}/{ext}"
        if r() < 0.8:
            ids["wechat_unionid"] = p.unionid
        if second_phone or r() < 0.6:
            # The phone the guide noted on the contact (remark_mobiles).
            ids["phone"] = ctx.raw_phone(phone)
        home_store = True
        attrs["remark"] = p.family + ("女士" if p.gender == "f" else "先生")
        attrs["add_way"] = rng.choice(("qrcode", "search_phone", "card_share", "channel_code"))
        if r() < 0.9:
            consent = {"wecom": True}
    if p.email is not None and r() < _EMAIL_SHARE.get(source, 0.0):
        email = p.email
        if r() < 0.005:
            email = f" {''.join(c.upper() if r() < 0.5 else c for c in email)} "
        ids["email"] = email
    if device:
        ids["device_id"] = p.device
    rec["identifiers"] = ids
    show_name, show_gender, show_birthday, show_geo, show_address = _SHOWN[source]
    if typo or r() < show_name:
        rec["name"] = _shown_name(ctx, p, source, typo=typo)
    if r() < show_gender:
        rec["gender"] = p.gender
    if p.birthday is not None and r() < show_birthday:
        rec["birthday"] = _shown_birthday(ctx, p.birthday)
    district, street = address or (p.district, p.address)
    if r() < show_geo:
        rec["province"] = p.city.province
        rec["city"] = p.city.city
        if r() < 0.7:
            rec["district"] = district
        if r() < show_address:
            rec["address"] = _shown_address(ctx, source, street)
            if r() < _POSTAL_SHARE.get(source, 0.0):
                rec["postal_code"] = p.city.postal_code
    if home_store:
        rec["store_id"] = p.store.store_id
        rec["staff_id"] = p.guide
    # Registration precedes the first order or event this source saw.
    registered = ctx.now - rng.randrange(DAY, 4 * 365 * DAY)
    if first_seen is not None:
        registered = min(registered, first_seen - rng.randrange(600, 60 * DAY))
    rec["registered_at"] = ctx.clock.iso(registered)
    if consent is not None:
        rec["consent"] = consent
    if attrs:
        rec["attributes"] = attrs
    ctx.write("customer", rec)
    ctx.truth("customer", source, ext, p)
