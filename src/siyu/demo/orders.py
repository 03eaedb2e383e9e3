"""Orders and refunds: purchase histories spread over the last three years."""

from __future__ import annotations

from bisect import bisect
from datetime import datetime
from itertools import accumulate
from typing import Any, Final

from siyu.demo.catalog import (
    CATEGORIES,
    COUPON_TIERS,
    HOUR_WEIGHTS,
    PRODUCTS,
    REFUND_REASONS,
    STORES,
)
from siyu.demo.context import DAY, ORDER_WINDOW, TZ_SHANGHAI, Context, masked, money
from siyu.demo.people import SELLING_SOURCES, Person, coverage, guides_of_store

# Order-id shape per online source: (prefix, random digits), close to what each platform uses.
_ORDER_IDS: Final = {
    "tmall": ("3", 18),
    "jd": ("3", 11),
    "douyin": ("69", 17),
    "wechat_mp": ("WX", 10),
}
_STORE_HOURS: Final = tuple(w if 10 <= h <= 21 else 0.0 for h, w in enumerate(HOUR_WEIGHTS))


class OrderWriter:
    """Writes one person's orders (and the refunds of refunded ones)."""

    def __init__(self, ctx: Context, *, orders_per_person: float) -> None:
        self.ctx = ctx
        # Persons without a selling source cannot buy, so the others buy a little more and the
        # overall average matches `orders_per_person`.
        self.mean = orders_per_person / coverage(SELLING_SOURCES)
        self.p_buyer = min(0.85, self.mean)
        self.store_hour_cum = list(accumulate(_STORE_HOURS))
        self.cat_products = [
            [i for i, p in enumerate(PRODUCTS) if p.category == c] for c in CATEGORIES
        ]
        self.cat_cum = [
            list(accumulate(PRODUCTS[i].weight for i in ps)) for ps in self.cat_products
        ]
        self.prices = [money(p.price_fen) for p in PRODUCTS]
        self.store_guides = {s.store_id: guides_of_store(i) for i, s in enumerate(STORES)}
        self.promo_days = self._promo_days()

    def _promo_days(self) -> list[int]:
        """Start-of-day timestamps of the 6.18 and 11.11 promotion days in the order window."""
        now = self.ctx.now
        days: list[int] = []
        first = datetime.fromtimestamp(now - ORDER_WINDOW, TZ_SHANGHAI).year
        for year in range(first, datetime.fromtimestamp(now, TZ_SHANGHAI).year + 1):
            for month, last_day in ((6, 18), (11, 11)):
                for day in range(1, last_day + 1):
                    ts = int(datetime(year, month, day, tzinfo=TZ_SHANGHAI).timestamp())
                    if now - ORDER_WINDOW < ts < now - DAY:
                        days.append(ts)
        return days

    def write_orders(self, p: Person, ext: dict[str, str], first_seen: dict[str, int]) -> list[int]:
        """Write all orders of `p`; returns their times and records each source's first order."""
        ctx = self.ctx
        rng = ctx.rng
        selling = [s for s in p.sources if s in SELLING_SOURCES]
        if not selling or rng.random() >= self.p_buyer:
            return []
        n = 1 + ctx.geometric(self.mean / self.p_buyer - 1.0)
        # The first selling channel a person uses is their favourite one.
        cum = list(accumulate(3.0 if i == 0 else 1.0 for i in range(len(selling))))
        times = self._purchase_times(n, store=selling[0] == "pos")
        for ts in times:
            source = selling[bisect(cum, rng.random() * cum[-1])]
            first_seen.setdefault(source, ts)
            self._order(p, source, ext[source], ts)
        return times

    def _purchase_times(self, n: int, *, store: bool) -> list[int]:
        ctx = self.ctx
        rng = ctx.rng
        # Gamma(2, 45 days) gaps: 90 days on average, rarely under a week, sometimes a year.
        gaps = [rng.gammavariate(2.0, 45.0) * DAY for _ in range(n - 1)]
        span = sum(gaps)
        room = ORDER_WINDOW - 2 * DAY
        if span > room * 0.9:
            # Heavy buyers squeeze their purchases into the window instead of spilling out.
            gaps = [g * room * 0.9 / span for g in gaps]
            span = room * 0.9
        t = ctx.now - ORDER_WINDOW + rng.random() * (room - span)
        cum = self.store_hour_cum if store else ctx.hour_cum
        latest = ctx.now - 3600
        times = []
        for gap in (0.0, *gaps):
            t += gap
            ts = int(t)
            if self.promo_days and rng.random() < 0.1:
                ts = rng.choice(self.promo_days)
            times.append(min(ctx.at_hour(ts, cum), latest - rng.randrange(DAY)))
        times.sort()
        return times

    def _items(self, p: Person) -> tuple[list[dict[str, Any]], int]:
        rng = self.ctx.rng
        r = rng.random()
        count = 1 if r < 0.55 else 2 if r < 0.83 else 3 if r < 0.95 else 4
        quantities: dict[int, int] = {}
        for _ in range(count):
            if rng.random() < 0.65:
                cum = self.cat_cum[p.fav_category]
                idx = self.cat_products[p.fav_category][bisect(cum, rng.random() * cum[-1])]
            else:
                idx = self.ctx.product()
            q = rng.random()
            quantities[idx] = quantities.get(idx, 0) + (1 if q < 0.85 else 2 if q < 0.97 else 3)
        items = []
        total = 0
        for idx, qty in quantities.items():
            prod = PRODUCTS[idx]
            amount = prod.price_fen * qty
            total += amount
            items.append({
                "sku": prod.sku,
                "product_id": prod.product_id,
                "product_name": prod.name,
                "category": prod.category,
                "quantity": qty,
                "unit_price": self.prices[idx],
                "amount": money(amount),
            })  # fmt: skip
        return items, total

    def _order(self, p: Person, source: str, ext: str, ts: int) -> None:
        ctx = self.ctx
        rng = ctx.rng
        r = rng.random
        items, total = self._items(p)
        discount = 0
        coupons: list[str] = []
        d = r()
        if d < 0.3:
            discount = total * rng.choice((5, 10, 15, 20)) // 100
        elif d < 0.6:
            for threshold, off in COUPON_TIERS:
                if total >= threshold:
                    discount = off
                    coupons.append(f"MJ{threshold // 100}-{off // 100}")
                    break
        online = source != "pos"
        shipping = 1000 if online and total - discount < 9900 and r() < 0.5 else 0
        paid = total - discount + shipping
        s = r()
        if s < 0.03:
            status = "closed"
        elif s < 0.055:
            status = "refunded"
        elif s < 0.07:
            status = "partially_refunded"
        elif online and ctx.now - ts < 3 * DAY:
            status = "paid"
        elif online and ctx.now - ts < 8 * DAY:
            status = "shipped"
        else:
            status = "completed"
        store = p.store
        if online:
            prefix, digits = _ORDER_IDS[source]
            order_id = prefix + ctx.serial("order:" + source, digits)
        else:
            if r() >= 0.9:
                store = STORES[rng.randrange(len(STORES))]
            day = ctx.clock.day(ts).replace("-", "")
            order_id = f"{store.store_id}{day}{ctx.serial('order:pos', 8)}"
        ref: dict[str, Any] = {"external_id": ext}
        if not online and r() < 0.05:
            # The cashier keyed in only the phone number, not the member card.
            ref = {"identifiers": {"phone": ctx.raw_phone(p.phone)}}
        paid_ts = ts + rng.randrange(5, 900) if online else ts
        rec: dict[str, Any] = {
            "kind": "order",
            "source": source,
            "order_id": order_id,
            "customer_ref": ref,
            "status": status,
            "created_at": ctx.clock.iso(ts),
        }
        if status != "closed":
            rec["paid_at"] = ctx.clock.iso(paid_ts)
        rec["currency"] = "CNY"
        rec["total_amount"] = money(total)
        rec["discount_amount"] = money(discount)
        if online:
            rec["shipping_amount"] = money(shipping)
        rec["paid_amount"] = "0.00" if status == "closed" else money(paid)
        rec["items"] = items
        if coupons:
            rec["coupon_codes"] = coupons
        if online:
            gift = r() < 0.05
            name = rng.choice("王李张刘陈") + rng.choice(("女士", "先生")) if gift else None
            rec["ship_to"] = {
                "name": name or p.family + p.given,
                # Only the brand's own mall sees the raw phone; platforms mask it.
                "phone": p.phone if source == "wechat_mp" and not gift else masked(p.phone),
                "province": p.city.province,
                "city": p.city.city,
                "district": p.district,
                "address": p.address,
            }
        else:
            rec["store_id"] = store.store_id
            guides = self.store_guides[store.store_id]
            rec["staff_id"] = p.guide if store is p.store else rng.choice(guides)
        ctx.write("order", rec)
        ctx.truth("order", source, order_id, p)
        if status in ("refunded", "partially_refunded"):
            self._refund(source, order_id, items, total, paid, paid_ts, full=status == "refunded")

    def _refund(
        self,
        source: str,
        order_id: str,
        items: list[dict[str, Any]],
        total: int,
        paid: int,
        paid_ts: int,
        *,
        full: bool,
    ) -> None:
        ctx = self.ctx
        rng = ctx.rng
        if full or paid < 2:
            amount, refund_items = paid, items
        elif len(items) > 1:
            item = rng.choice(items)
            item_fen = int(item["amount"].replace(".", ""))
            # The item's share of what was paid, so a partial refund stays below the total.
            amount, refund_items = max(1, min(paid - 1, item_fen * paid // total)), [item]
        else:
            # Price protection (价保) or compensation: part of a single item's price.
            amount, refund_items = max(1, paid * rng.randint(10, 60) // 100), []
        room = min(15 * DAY, ctx.now - paid_ts - 120)
        created = paid_ts + 60 + rng.randrange(max(1, room))
        rec: dict[str, Any] = {
            "kind": "refund",
            "source": source,
            "refund_id": "RF" + ctx.serial("refund:" + source, 10),
            "order_id": order_id,
            "amount": money(amount),
            "created_at": ctx.clock.iso(created),
            "reason": rng.choice(REFUND_REASONS),
        }
        if refund_items:
            rec["items"] = refund_items
        ctx.write("refund", rec)
