"""Random link graphs written straight into engine facts, and the reference resolution.

The reference is the definition: the pure `Resolver` over every record in arrival order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from hypothesis import strategies as st

from siyu.engine import Snapshot, write_fact
from siyu.identity.batch.facts import (
    HOLDERS,
    HOLDING_SCHEMA,
    KEY_SCHEMA,
    KEYS,
    LINK_SCHEMA,
    LINKS,
    OWNERS,
)
from siyu.identity.resolver import Incoming, Key, Resolver
from siyu.tenants import IdentityRules

KINDS = ("customer", "order", "event")
# Few values, so keys collide: persons form, guards bite, devices are shared.
POOL: tuple[Key, ...] = (
    *(("phone_sha256", f"p{i}") for i in range(4)),
    ("email", "e0"),
    *(("wechat_unionid", f"u{i}") for i in range(2)),
    *(("source_customer", f"tmall/c{i}") for i in range(2)),
    *(("device_id", f"d{i}") for i in range(3)),
)
DEVICES = tuple(k for k in POOL if k[0] == "device_id")


@dataclass(frozen=True)
class Graph:
    """Records (seq, kind, keys) in arrival order and cannot-link pairs of seqs."""

    records: tuple[tuple[int, str, tuple[Key, ...]], ...]
    constraints: tuple[tuple[int, int], ...] = ()


@dataclass
class Resolution:
    groups: dict[int, int]  # seq -> first seq of its person
    blocked: set[tuple[int, int, int, Key, str]] = field(default_factory=set)


_SHARED_STRONG: tuple[Key, ...] = (("phone_sha256", "family"), ("email", "shop"))
_TABLET: Key = ("device_id", "tablet")


@st.composite
def _uniform_keys(draw: st.DrawFn) -> tuple[Key, ...]:
    """Keys from one small pool, so they collide at random."""
    if draw(st.integers(0, 2)) == 0:  # an anonymous record: devices only
        return tuple(draw(st.lists(st.sampled_from(DEVICES), min_size=1, max_size=2, unique=True)))
    return tuple(draw(st.lists(st.sampled_from(POOL), max_size=3, unique=True)))


@st.composite
def _household_keys(draw: st.DrawFn, persons: int, devices: int) -> tuple[Key, ...]:
    """Keys of one of a few persons with several devices each, who sometimes share a phone,
    an e-mail or a tablet: identified persons joined through devices, and anonymous
    sessions on a device seen on one, several or no identified records."""
    i = draw(st.integers(0, persons - 1))
    owned = [("device_id", f"d{i}{j}") for j in range(devices)]
    owned += [_TABLET] * draw(st.integers(0, 1))
    if draw(st.integers(0, 2)) == 0:
        return tuple(draw(st.lists(st.sampled_from(owned), min_size=1, max_size=2, unique=True)))
    strong = [("phone_sha256", f"p{i}a"), ("phone_sha256", f"p{i}b"), ("wechat_unionid", f"u{i}")]
    strong += list(_SHARED_STRONG) * draw(st.integers(0, 1))
    keys = draw(st.lists(st.sampled_from(strong), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 2)) == 0:
        keys.append(draw(st.sampled_from(owned)))
    return tuple(keys)


@st.composite
def _session_keys(draw: st.DrawFn, persons: int) -> tuple[Key, ...]:
    """Sessions: devices mostly seen on one identified record each (anonymous records on
    them need no replay), a shared tablet, persons whose records join only later."""
    i = draw(st.integers(0, persons - 1))
    device = draw(st.sampled_from([*(("device_id", f"s{i}{j}") for j in range(4)), _TABLET]))
    if draw(st.integers(0, 2)) == 0:
        return (device,)
    strong = draw(
        st.lists(
            st.sampled_from([("phone_sha256", f"q{i}"), ("member_no", f"m{i}")]),
            min_size=1,
            unique=True,
        )
    )
    return (*strong, device) if draw(st.booleans()) else tuple(strong)


@st.composite
def graphs(draw: st.DrawFn, *, max_records: int = 24) -> Graph:
    """Random records in arrival order (uniform keys or households) and cannot-links."""
    keys = draw(
        st.one_of(
            st.just(_uniform_keys()),
            st.builds(_household_keys, st.integers(1, 4), st.integers(1, 3)),
            st.builds(_session_keys, st.integers(1, 3)),
        )
    )
    records = []
    seqs = sorted(draw(st.sets(st.integers(1, 10 * max_records), min_size=1, max_size=max_records)))
    for seq in seqs:
        records.append((seq, draw(st.sampled_from(KINDS)), draw(keys)))
    pairs = draw(st.lists(st.tuples(st.sampled_from(seqs), st.sampled_from(seqs)), max_size=2))
    constraints = tuple(sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b}))
    return Graph(tuple(records), constraints)


def rules_strategy() -> st.SearchStrategy[IdentityRules]:
    return st.builds(
        lambda phones, unions, customers: IdentityRules(
            max_per_type={"phone_sha256": phones, "wechat_unionid": unions, "email": 5},
            max_customer_records=customers,
        ),
        st.integers(1, 3),
        st.integers(1, 2),
        st.sampled_from([1, 2, 3, 50]),
    )


def disjoint_union(parts: Sequence[Graph]) -> Graph:
    """One graph made of independent copies (own keys, shifted seqs)."""
    records: list[tuple[int, str, tuple[Key, ...]]] = []
    constraints: list[tuple[int, int]] = []
    offset = 0
    for i, part in enumerate(parts):
        for seq, kind, keys in part.records:
            records.append((seq + offset, kind, tuple((t, f"g{i}:{v}") for t, v in keys)))
        constraints += [(a + offset, b + offset) for a, b in part.constraints]
        offset += max(seq for seq, _k, _ks in part.records) + 1
    return Graph(tuple(records), tuple(constraints))


def random_graph(seed: int, *, parts: int) -> Graph:
    """A reproducible disjoint union of random graphs (hypothesis's strategy, seeded)."""
    rng = random.Random(seed)
    made = []
    for _ in range(parts):
        seqs = sorted(rng.sample(range(1, 200), rng.randint(1, 20)))
        records = []
        for seq in seqs:
            if rng.random() < 0.25:
                keys = rng.sample(DEVICES, rng.randint(1, 2))
            else:
                keys = rng.sample(POOL, rng.randint(0, 3))
            records.append((seq, rng.choice(KINDS), tuple(keys)))
        pairs = [(rng.choice(seqs), rng.choice(seqs)) for _ in range(rng.randint(0, 2))]
        made.append(
            Graph(tuple(records), tuple(sorted({(min(p), max(p)) for p in pairs if p[0] != p[1]})))
        )
    return disjoint_union(made)


def write_graph(root: Path, graph: Graph, *, oneids: dict[int, str] | None = None) -> Snapshot:
    """The graph as the rebuild's facts (old OneIDs default to one per record)."""
    snapshot = Snapshot(root=root, zone="UTC")
    seqs = [seq for seq, _kind, _keys in graph.records]
    write_fact(
        snapshot,
        LINKS,
        LINK_SCHEMA,
        [
            {
                "seq": seqs,
                "kind": [kind for _s, kind, _k in graph.records],
                "oneid": [(oneids or {}).get(seq, f"old-{seq}") for seq in seqs],
            }
        ],
    )
    rows: dict[str, list[object]] = {"seq": [], "pos": [], "id_type": [], "value": []}
    for seq, _kind, keys in graph.records:
        for pos, (id_type, value) in enumerate(keys):
            rows["seq"].append(seq)
            rows["pos"].append(pos)
            rows["id_type"].append(id_type)
            rows["value"].append(value)
    write_fact(snapshot, KEYS, KEY_SCHEMA, [rows])
    empty = {"id_type": [], "value": [], "oneid": []}
    write_fact(snapshot, OWNERS, HOLDING_SCHEMA, [empty])
    write_fact(snapshot, HOLDERS, HOLDING_SCHEMA, [empty])
    return snapshot


def reference(graph: Graph, rules: IdentityRules) -> Resolution:
    """The definition: every record through the Resolver in arrival order."""
    counter = count(1)
    resolver = Resolver(
        rules=rules, new_oneid=lambda: f"~{next(counter)}", constraints=graph.constraints
    )
    temp = {seq: resolver.add(Incoming(seq, kind, keys)) for seq, kind, keys in graph.records}
    first: dict[str, int] = {}
    groups = {seq: first.setdefault(resolver.current(t), seq) for seq, t in temp.items()}
    result = Resolution(groups)
    for b in resolver.blocked:
        mine, other = groups[b.seq], first[resolver.current(b.other)]
        if mine != other:
            result.blocked.add((b.seq, mine, other, b.key, b.guard))
    return result
