"""Five hand-built persons whose answer to every kind of condition is known (as of AS_OF).

A  tmall + pos (one phone), member; 护肤 sales 20 and 60 days ago, a pos sale 172 days
   ago; clicked a message 2 days ago, joined the membership 15 days ago; tags VIP, 肤质=干
B  jd, UnionID; one 护肤 sale yesterday (a closed order too); clicked 10 days ago; 肤质=油
C  wechat_mp; one 彩妆 sale 121 days ago; clicked 6 days ago (inside 7); tag VIP
D  douyin, never bought; clicked 7 days ago (just outside 7)
E  pos member; 护肤 sales 90 days ago (just outside 90) and 89 days ago (inside)
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu import tags
from siyu.tenants import TenantContext
from siyu.traits import run_compute
from support import customer, event, identity_map, ingest, order

AS_OF = date(2024, 6, 30)


def _items(*categories: str) -> list[dict[str, Any]]:
    return [
        {"sku": f"SKU-{c}", "product_id": f"P-{c}", "category": c, "quantity": 1, "amount": "1.00"}
        for c in categories
    ]


RECORDS: list[dict[str, Any]] = [
    customer(
        "tmall",
        "a1",
        {"phone": "13800000001"},
        gender="f",
        city="上海",
        birthday="1990-05-12",
        name="王芳",
    ),
    customer("pos", "a2", {"phone": "13800000001", "member_no": "m001"}, city="杭州"),
    order(
        "tmall",
        "o1",
        customer_id="a1",
        total="200.00",
        created_at="2024-06-10T10:00:00+08:00",
        items=_items("护肤", "护肤"),
    ),
    order(
        "tmall",
        "o2",
        customer_id="a1",
        total="150.00",
        created_at="2024-05-01T10:00:00+08:00",
        items=_items("护肤", "彩妆"),
    ),
    order(
        "pos",
        "o3",
        customer_id="a2",
        total="100.00",
        store_id="S1",
        created_at="2024-01-10T10:00:00+08:00",
        items=_items("护肤"),
    ),
    event(
        "wechat_mp",
        "ea1",
        ids={"phone": "13800000001"},
        type="message_clicked",
        occurred_at="2024-06-28T09:00:00+08:00",
    ),
    event(
        "pos",
        "ea2",
        customer_id="a2",
        type="member_joined",
        occurred_at="2024-06-15T09:00:00+08:00",
    ),
    customer(
        "jd",
        "b1",
        {"phone": "13800000002", "wechat_unionid": "u-b"},
        gender="m",
        city="北京",
        birthday="1985-11-03",
    ),
    order(
        "jd",
        "o4",
        customer_id="b1",
        total="120.00",
        created_at="2024-06-29T10:00:00+08:00",
        items=_items("护肤"),
    ),
    order(
        "jd",
        "o5",
        customer_id="b1",
        status="closed",
        total="90.00",
        paid="0.00",
        created_at="2024-06-20T10:00:00+08:00",
        items=_items("护肤"),
    ),
    event(
        "jd",
        "eb1",
        customer_id="b1",
        type="message_clicked",
        occurred_at="2024-06-20T09:00:00+08:00",
    ),
    customer(
        "wechat_mp",
        "c1",
        {"wechat_openid": "app/c"},
        gender="f",
        city="上海",
        birthday="2000-05-30",
    ),
    order(
        "wechat_mp",
        "o6",
        customer_id="c1",
        total="80.00",
        created_at="2024-03-01T10:00:00+08:00",
        items=_items("彩妆"),
    ),
    # 01:00 on the 24th in Shanghai is still the 23rd in UTC: the local day counts (inside)
    event(
        "wechat_mp",
        "ec1",
        customer_id="c1",
        type="message_clicked",
        occurred_at="2024-06-24T01:00:00+08:00",
    ),
    customer("douyin", "d1", {"douyin_openid": "dy-d"}),
    event(
        "douyin",
        "ed1",
        customer_id="d1",
        type="message_clicked",
        occurred_at="2024-06-23T23:30:00+08:00",
    ),
    event(
        "douyin", "ed2", customer_id="d1", type="page_view", occurred_at="2024-06-29T20:00:00+08:00"
    ),
    customer("pos", "e1", {"member_no": "m005"}, city="上海", gender="u"),
    order(
        "pos",
        "o7",
        customer_id="e1",
        total="100.00",
        store_id="S2",
        created_at="2024-04-01T10:00:00+08:00",
        items=_items("护肤"),
    ),
    # paid after local midnight: its sale day is the 2nd (89 days before AS_OF)
    order(
        "pos",
        "o8",
        customer_id="e1",
        total="250.00",
        store_id="S2",
        created_at="2024-04-01T23:50:00+08:00",
        paid_at="2024-04-02T00:10:00+08:00",
        items=_items("护肤"),
    ),
]
FIRST_RECORD = {"A": "tmall/a1", "B": "jd/b1", "C": "wechat_mp/c1", "D": "douyin/d1", "E": "pos/e1"}


def build(session: Session, tenant: TenantContext, engine_dir: Path) -> dict[str, str]:
    """Import the persons, compute traits as of AS_OF, give the manual tags; name → OneID."""
    ingest(session, tenant, *RECORDS)
    run_compute(session=session, tenant=tenant, engine_dir=engine_dir, as_of=AS_OF, full=True)
    labels = identity_map(session, tenant)
    oneid = {name: labels[f"customer:{ref}"] for name, ref in FIRST_RECORD.items()}
    for key in ("VIP", "肤质=干", "肤质=油"):
        tags.create_tag(session=session, tenant=tenant, tag=tags.TagIn(key=key), by="test")
    give = [("VIP", "A"), ("VIP", "C"), ("肤质=干", "A"), ("肤质=油", "B")]
    for key, name in give:
        tags.give_tag(session=session, tenant=tenant, key=key, oneids=[oneid[name]], by="test")
    return oneid
