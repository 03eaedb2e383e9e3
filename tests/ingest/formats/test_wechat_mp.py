"""WeChat mini-program member export through `--format wechat_mp`."""

from __future__ import annotations

from datetime import date

from siyu.identity import phone_sha256

from .conftest import Ingest, Store, entries_by_line


def test_members_become_customer_records(ingest_format: Ingest, stored: Store) -> None:
    report = ingest_format("wechat_mp", "wechat_mp/members.csv")
    assert (report["by_kind"], report["quarantined"]) == ({"customer": 4}, 1)
    members = stored.customers("wechat_mp")
    li = members["QH20230001"]
    assert li.identifiers == {
        "member_no": "QH20230001",
        "phone": "13812345678",
        "wechat_unionid": "oQh5Uw2x7Hk9LmP3qRs8TvW1yZa",
    }
    assert (li.name, li.gender, li.birthday) == ("李小明", "m", date(1992, 3, 15))
    assert (li.store_id, li.staff_id, li.consent) == ("S001", "G007", {"sms": True})
    assert li.attributes == {
        "nickname": "小明同学",
        "tier": "金卡",
        "points": 1280,
        "openid": "oQmp_4Fg8h2Jk5Lm9Np1Qr3St6u",
    }
    # a hashed phone column is detected; a masked one is a hint
    assert members["QH20230003"].identifiers["phone_sha256"] == phone_sha256("13722223333")
    assert members["QH20230004"].hints == {"masked_phone": "138****9999"}
    assert members["QH20230004"].gender == "u"


def test_openid_needs_the_app_id(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("wechat_mp", "wechat_mp/members.csv", options=("--param", "appid=wx8a1b2c3d"))
    member = stored.customers("wechat_mp")["QH20230002"]
    assert member.identifiers["wechat_openid"] == "wx8a1b2c3d/oQmp_5Gh9i3Kl6Mn0Oq2Rs4Tu7v"


def test_bad_birthday_is_quarantined(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("wechat_mp", "wechat_mp/members.csv")
    entries = entries_by_line(stored)
    assert list(entries) == [("members.csv", 6)]
    assert entries[("members.csv", 6)].field == "生日"
    assert "'1990-02-30' is not a date" in entries[("members.csv", 6)].reason


def test_xlsx_variant(ingest_format: Ingest, stored: Store) -> None:
    ingest_format("wechat_mp", "wechat_mp/members.csv")
    again = ingest_format("wechat_mp", "wechat_mp/members.xlsx")
    assert (again["unchanged"], again["quarantined"]) == (4, 1)


def test_hashed_mini_program_phone_links_the_youzan_buyer(
    ingest_format: Ingest, stored: Store
) -> None:
    ingest_format("youzan", "youzan/orders.csv")
    ingest_format("wechat_mp", "wechat_mp/members.csv")
    oneids = stored.oneids()
    assert (
        oneids[("customer", "wechat_mp", "QH20230003")]
        == oneids[("order", "youzan", "E20240805140000012300005")]
    )
    # the other members share no identifier with those buyers... except by phone
    assert (
        oneids[("customer", "wechat_mp", "QH20230001")]
        == oneids[("order", "youzan", "E20240801103000012300001")]
    )
    assert (
        oneids[("customer", "wechat_mp", "QH20230001")]
        != oneids[("customer", "wechat_mp", "QH20230002")]
    )
