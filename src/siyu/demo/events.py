"""Behaviour events from the mini-program, Douyin and WeCom."""

from __future__ import annotations

from bisect import bisect
from itertools import accumulate
from typing import Any, Final

from siyu.demo.catalog import CAMPAIGNS, EVENT_TYPES, MP_PAGES, PRODUCTS, SEARCH_KEYWORDS
from siyu.demo.context import DAY, EVENT_WINDOW, Context
from siyu.demo.people import EVENT_SOURCES, Person, coverage

_SOURCE_WEIGHT: Final = {"wechat_mp": 5.0, "douyin": 4.0, "wecom": 2.0}
ANONYMOUS_SHARE: Final = 0.1


class EventWriter:
    """Writes one person's events."""

    def __init__(self, ctx: Context, *, events_per_person: float) -> None:
        self.ctx = ctx
        # Only persons known to an event source have events; scale so the overall mean holds.
        self.mean = events_per_person / coverage(EVENT_SOURCES)
        self.types = {
            source: ([t for t, _ in types], list(accumulate(w for _, w in types)))
            for source, types in EVENT_TYPES.items()
        }

    def write_events(
        self, p: Person, ext: dict[str, str], first_seen: dict[str, int], order_times: list[int]
    ) -> None:
        """Write the events of `p`, updating the first time each source saw them."""
        ctx = self.ctx
        rng = ctx.rng
        sources = [s for s in p.sources if s in EVENT_SOURCES]
        if not sources:
            return
        cum = list(accumulate(_SOURCE_WEIGHT[s] for s in sources))
        recent_orders = [t for t in order_times if t > ctx.now - EVENT_WINDOW]
        for _ in range(ctx.geometric(self.mean)):
            source = sources[bisect(cum, rng.random() * cum[-1])]
            names, type_cum = self.types[source]
            etype = names[bisect(type_cum, rng.random() * type_cum[-1])]
            if recent_orders and rng.random() < 0.3:
                # Browsing clusters in the days before a purchase.
                ts = rng.choice(recent_orders) - rng.randrange(60, 3 * DAY)
            else:
                ts = ctx.at_hour(ctx.now - rng.randrange(DAY, EVENT_WINDOW), ctx.hour_cum)
            event_id = "ev" + ctx.serial("event:" + source, 12)
            ref: dict[str, Any]
            if source == "wechat_mp" and rng.random() < ANONYMOUS_SHARE:
                # An anonymous mini-program session: only the device is known.
                ref = {"identifiers": {"device_id": p.device}}
            else:
                ref = {"external_id": ext[source]}
                if ts < first_seen.get(source, ts + 1):
                    first_seen[source] = ts
            ctx.write(
                "event",
                {
                    "kind": "event",
                    "source": source,
                    "event_id": event_id,
                    "customer_ref": ref,
                    "type": etype,
                    "occurred_at": ctx.clock.iso(ts),
                    "properties": self._properties(p, source, etype),
                },
            )
            ctx.truth("event", source, event_id, p)

    def _properties(self, p: Person, source: str, etype: str) -> dict[str, Any]:
        rng = self.ctx.rng
        if etype in ("product_view", "add_to_cart", "share"):
            prod = PRODUCTS[self.ctx.product()]
            props: dict[str, Any] = {"sku": prod.sku, "product_id": prod.product_id}
            if source == "wechat_mp":
                props["page"] = "pages/goods/detail"
            if etype == "share":
                props["channel"] = rng.choice(("wechat_friend", "moments", "douyin_friend"))
            return props
        if etype == "page_view":
            return {"page": rng.choice(MP_PAGES), "duration_ms": rng.randrange(500, 120_000)}
        if etype == "search":
            return {"keyword": rng.choice(SEARCH_KEYWORDS)}
        if etype == "sign_in":
            return {"streak_days": 1 + self.ctx.geometric(3.0)}
        if etype in ("coupon_received", "coupon_used"):
            return {"coupon_id": f"CP{rng.randrange(1, 60):04d}", "campaign": rng.choice(CAMPAIGNS)}
        if etype == "follow":
            return {"account": "品牌官方抖音号"}
        if etype == "live_view":
            return {
                "room_id": f"LR{rng.randrange(1, 400):05d}",
                "duration_s": rng.randrange(5, 3600),
            }
        if etype in ("message_delivered", "message_clicked"):
            message_id = f"MSG{rng.randrange(1, 5000):06d}"
            return {
                "message_id": message_id,
                "staff_id": p.guide,
                "campaign": rng.choice(CAMPAIGNS),
            }
        return {"form": rng.choice(("肤质测试", "生日登记", "试用申请"))}
