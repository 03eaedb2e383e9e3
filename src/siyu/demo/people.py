"""True persons of the demo brand: who they are, where they live and which sources know them."""

from __future__ import annotations

import base64
import itertools
import random
from bisect import bisect
from dataclasses import dataclass
from typing import Final

from pypinyin import lazy_pinyin

from siyu.demo.catalog import (
    CATEGORY_WEIGHTS,
    CITIES,
    COMPOUNDS,
    EMAIL_DOMAINS,
    FAMILY_NAMES,
    FEMALE_GIVEN,
    GUIDE_COUNT,
    HANDLE_SYLLABLES,
    MALE_GIVEN,
    MOBILE_PREFIXES,
    ROADS,
    STORES,
    City,
    Store,
)

SOURCES: Final[tuple[str, ...]] = ("tmall", "wechat_mp", "douyin", "pos", "jd", "wecom")
# Relative reach of each source for this brand (Tmall flagship first, then the own mall).
SOURCE_WEIGHTS: Final[tuple[float, ...]] = (30.0, 22.0, 16.0, 14.0, 10.0, 8.0)
# P(person appears in k sources) for k = 1..4; the mean is 3.0 customer records per person.
SOURCE_COUNT_WEIGHTS: Final[tuple[float, ...]] = (0.10, 0.20, 0.30, 0.40)
SELLING_SOURCES: Final[frozenset[str]] = frozenset({"tmall", "jd", "douyin", "wechat_mp", "pos"})
EVENT_SOURCES: Final[frozenset[str]] = frozenset({"wechat_mp", "douyin", "wecom"})

SHARED_DEVICE_RATE: Final[float] = 0.01
# Family names read otherwise than the character's everyday reading.
_FAMILY_PINYIN: Final = {"曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu"}


@dataclass(slots=True)
class Person:
    """One true person; `pid` is the ground-truth id written to truth.csv."""

    pid: str
    family: str
    given: str
    gender: str
    birthday: str | None
    city: City
    district: str
    address: str
    phone: str
    email: str | None
    device: str
    device_shared: bool
    unionid: str
    member_no: str
    store: Store
    guide: str
    fav_category: int
    sources: tuple[str, ...]


class Serial:
    """Unique numbers that do not reveal creation order (an affine bijection mod 10**digits)."""

    def __init__(self, rng: random.Random, digits: int) -> None:
        self._mod = 10**digits
        mult = rng.randrange(self._mod // 10, self._mod) | 1
        while mult % 5 == 0:
            mult += 2
        self._mult = mult
        self._add = rng.randrange(self._mod)
        self._digits = digits
        self._n = 0

    def next(self) -> str:
        n = self._n
        if n >= self._mod:
            raise ValueError("demo id space exhausted; generate fewer records per source")
        self._n = n + 1
        return f"{(n * self._mult + self._add) % self._mod:0{self._digits}d}"


def guides_of_store(store_index: int) -> list[str]:
    """Guides G001..G100 are dealt round-robin to the 30 stores."""
    return [f"G{g:03d}" for g in range(store_index + 1, GUIDE_COUNT + 1, len(STORES))]


def token(rng: random.Random, nbytes: int) -> str:
    """A URL-safe random token, the shape platform open ids have."""
    raw = rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def coverage(wanted: frozenset[str]) -> float:
    """Exact probability that a person's sampled sources include at least one of `wanted`."""
    # Enumerating every ordered draw (at most 6*5*4*3) is exact and cheap, so demo averages
    # per person hit the requested rate instead of drifting with the source mix.
    total = 0.0
    for k, pk in enumerate(SOURCE_COUNT_WEIGHTS, start=1):
        for draw in itertools.permutations(range(len(SOURCES)), k):
            p = pk
            left = sum(SOURCE_WEIGHTS)
            for idx in draw:
                p *= SOURCE_WEIGHTS[idx] / left
                left -= SOURCE_WEIGHTS[idx]
            if any(SOURCES[idx] in wanted for idx in draw):
                total += p
    return total / sum(SOURCE_COUNT_WEIGHTS)


def street_address(rng: random.Random) -> str:
    """A street address: road, number, compound, building and flat."""
    return (
        f"{rng.choice(ROADS)}{rng.randint(1, 999)}号{rng.choice(COMPOUNDS)}"
        f"{rng.randint(1, 30)}栋{rng.randint(1, 30)}{rng.randint(1, 4):02d}室"
    )


def pinyin_name(p: Person, *, given_first: bool) -> str:
    """The person's name in pinyin as a Latin form shows it: `Zhang Lina` / `Lina Zhang`."""
    family = _FAMILY_PINYIN.get(p.family) or "".join(lazy_pinyin(p.family))
    given = "".join(lazy_pinyin(p.given)).replace("v", "u")
    parts = [given.capitalize(), family.capitalize()]
    return " ".join(parts if given_first else reversed(parts))


def _cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    return list(itertools.accumulate(weights))


class PersonFactory:
    """Creates persons one by one, keeping phones, e-mails and member numbers unique."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._families = [f for f, _ in FAMILY_NAMES]
        self._family_cum = _cumulative([w for _, w in FAMILY_NAMES])
        self._city_cum = _cumulative([c.weight for c in CITIES])
        self._domains = [d for d, _ in EMAIL_DOMAINS]
        self._domain_cum = _cumulative([w for _, w in EMAIL_DOMAINS])
        self._cat_cum = _cumulative(CATEGORY_WEIGHTS)
        self._source_cum = _cumulative(SOURCE_COUNT_WEIGHTS)
        self._stores_by_city: dict[int, list[int]] = {}
        for idx, store in enumerate(STORES):
            self._stores_by_city.setdefault(store.city_index, []).append(idx)
        self._guides = [guides_of_store(i) for i in range(len(STORES))]
        self._phones: set[str] = set()
        self._emails: set[str] = set()
        self._members = Serial(rng, 10)
        # A shared family device carries over to the next person created (same household).
        self._family_of: Person | None = None

    def _pick(self, cum: list[float]) -> int:
        return bisect(cum, self._rng.random() * cum[-1])

    def new_phone(self) -> str:
        """A mainland mobile number not used by anyone else (phones identify one person)."""
        rng = self._rng
        while True:
            phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def _email(self, rng: random.Random) -> str:
        while True:
            if rng.random() < 0.4:
                # QQ mail addresses are the QQ number; very common in China.
                email = f"{rng.randrange(10_000, 3_000_000_000)}@qq.com"
            else:
                handle = "".join(rng.choice(HANDLE_SYLLABLES) for _ in range(rng.randint(1, 2)))
                if rng.random() < 0.7:
                    handle += str(rng.randrange(1, 2000))
                email = f"{handle}@{self._domains[self._pick(self._domain_cum)]}"
            if email not in self._emails:
                self._emails.add(email)
                return email

    def _sources(self, rng: random.Random) -> tuple[str, ...]:
        k = self._pick(self._source_cum) + 1
        names = list(SOURCES)
        weights = list(SOURCE_WEIGHTS)
        chosen: list[str] = []
        for _ in range(k):
            idx = bisect(_cumulative(weights), rng.random() * sum(weights))
            chosen.append(names.pop(idx))
            weights.pop(idx)
        return tuple(chosen)

    def make(self, index: int) -> Person:
        """Create true person number `index` (ids T000001, T000002, ...)."""
        rng = self._rng
        family = self._families[self._pick(self._family_cum)]
        gender = "f" if rng.random() < 0.8 else "m"
        chars = FEMALE_GIVEN if gender == "f" else MALE_GIVEN
        given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.7 else "")
        birthday: str | None = None
        if rng.random() < 0.85:
            birthday = (
                f"{rng.randint(1968, 2007)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            )
        family_of = self._family_of
        self._family_of = None
        if family_of is not None:
            # Same household as the previous person: same address, same family tablet,
            # often the same family name (a parent and a child).
            city, district, address = family_of.city, family_of.district, family_of.address
            device, device_shared = family_of.device, True
            if rng.random() < 0.5:
                family = family_of.family
        else:
            city = CITIES[self._pick(self._city_cum)]
            district = rng.choice(city.districts)
            address = street_address(rng)
            device = self._device(rng)
            device_shared = rng.random() < SHARED_DEVICE_RATE
        city_index = CITIES.index(city)
        local_stores = self._stores_by_city.get(city_index)
        store_index = rng.choice(local_stores) if local_stores else rng.randrange(len(STORES))
        person = Person(
            pid=f"T{index + 1:06d}",
            family=family,
            given=given,
            gender=gender,
            birthday=birthday,
            city=city,
            district=district,
            address=address,
            phone=self.new_phone(),
            email=self._email(rng) if rng.random() < 0.3 else None,
            device=device,
            device_shared=device_shared,
            unionid="o" + token(rng, 20)[:27],
            member_no="M" + self._members.next(),
            store=STORES[store_index],
            guide=rng.choice(self._guides[store_index]),
            fav_category=self._pick(self._cat_cum),
            sources=self._sources(rng),
        )
        if device_shared and family_of is None:
            self._family_of = person
        return person

    def other_name(self) -> str:
        """Somebody else's name (a gift's recipient)."""
        rng = self._rng
        family = self._families[self._pick(self._family_cum)]
        chars = FEMALE_GIVEN if rng.random() < 0.6 else MALE_GIVEN
        return family + rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.7 else "")

    @staticmethod
    def _device(rng: random.Random) -> str:
        hex32 = f"{rng.getrandbits(128):032x}"
        uuid = f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"
        # iOS IDFAs are upper case, Android OAIDs lower case.
        return uuid.upper() if rng.random() < 0.35 else uuid
