"""Stable OneIDs: each new person keeps the OneID of the old person it overlaps most.

Persons are compared in the engine by (new group, old OneID) overlaps. A group whose
records are exactly one old person's keeps its OneID without further thought (almost all,
normally); only the others are named in Python, greedily by overlap: largest first, ties
to the older old person (its first record), then the older group. An old OneID left
without a group retires into the group most of its records went to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from siyu.engine import Engine
from siyu.identity.batch.facts import HOLDERS, KEYS, LINKS, OWNERS
from siyu.identity.batch.replay import BlockedLink
from siyu.identity.oneid import PENDING
from siyu.tenants import IdentityRules

_NAMES = pa.schema([("grp", pa.int64()), ("name", pa.string())])


@dataclass
class Naming:
    """Who is who after the rebuild, and every row the store must change to get there."""

    persons: int = 0
    unchanged: int = 0
    names: dict[int, str] = field(default_factory=dict)  # changed groups -> OneID
    fresh: list[str] = field(default_factory=list)  # OneIDs issued by this run
    retired: dict[str, str] = field(default_factory=dict)  # old OneID -> successor
    split: int = 0  # old persons whose records now belong to several persons
    changes: list[dict[str, Any]] = field(default_factory=list)  # identity_changes rows
    link_moves: pa.Table | None = None  # seq, oneid
    owner_upserts: pa.Table | None = None  # id_type, value, oneid
    owner_removals: pa.Table | None = None  # id_type, value
    weak_added: pa.Table | None = None  # id_type, value, oneid
    weak_dropped: pa.Table | None = None  # id_type, value, oneid
    blocked: list[dict[str, Any]] = field(default_factory=list)  # blocked_merges rows


def name_persons(engine: Engine, groups: ir.Table, *, new_oneid: Callable[[], str]) -> Naming:
    """Name the new persons: unchanged ones in the engine, the others greedily here."""
    links = engine.fact(LINKS)
    joined = links.join(groups, "seq").select("seq", "oneid", "grp")
    # Pending links (a bulk import's records) belong to no old person: a group of only
    # those is a new person, and one mixing them with an old person's records is changed.
    known = joined.filter(joined.oneid != PENDING)
    pairs = known.group_by(["grp", "oneid"]).aggregate(n=known.count())
    old = known.group_by("oneid").aggregate(old_first=known.seq.min(), old_n=known.count())
    new = joined.group_by("grp").aggregate(new_n=joined.count())
    overlaps = pairs.join(old, "oneid").join(new, "grp")
    clean = (overlaps.n == overlaps.old_n) & (overlaps.n == overlaps.new_n)
    naming = Naming()
    with overlaps.mutate(clean=clean).cache() as table:
        unchanged = engine.to_arrow(table.aggregate(unchanged=table.clean.sum())).to_pylist()[0]
        naming.unchanged = int(unchanged["unchanged"] or 0)
        changed = engine.to_arrow(
            table.filter(~table.clean).select("grp", "oneid", "n", "old_first")
        ).to_pylist()
    naming.persons = int(
        engine.to_arrow(new.aggregate(persons=new.count())).to_pylist()[0]["persons"]
    )
    unknown = new.anti_join(known, "grp").select("grp").order_by("grp")
    name_changed(naming, changed, new_oneid)
    for grp in engine.to_arrow(unknown).column("grp").to_pylist():
        naming.names[grp] = oneid = new_oneid()
        naming.fresh.append(oneid)
    return naming


def diff_store(
    engine: Engine,
    groups: ir.Table,
    naming: Naming,
    *,
    rules: IdentityRules,
    blocked: list[BlockedLink],
) -> None:
    """Fill in the rows the store must change: links, owners, holders, blocked merges."""
    joined = engine.fact(LINKS).join(groups, "seq").select("seq", "oneid", "grp")
    names = engine.memtable(
        "identity_names",
        pa.table({"grp": list(naming.names), "name": list(naming.names.values())}, schema=_NAMES),
    )
    renamed = joined.left_join(names, "grp")
    current = renamed.select("seq", old=renamed.oneid, oneid=renamed.name.fill_null(renamed.oneid))
    with current.cache() as now:
        moves = now.filter(now.oneid != now.old).select("seq", "oneid")
        naming.link_moves = engine.to_arrow(moves.order_by("seq"))
        _diff_identifiers(engine, naming, now, rules)
        naming.blocked = _blocked_rows(engine, now, blocked)


def name_changed(naming: Naming, rows: list[dict[str, Any]], new_oneid: Callable[[], str]) -> None:
    """Greedy naming of the groups that are not exactly one old person (rows: grp, oneid,
    n = their overlap, old_first = the old person's first seq)."""
    rows.sort(key=lambda r: (-r["n"], r["old_first"], r["grp"]))
    used: set[str] = set()
    for row in rows:
        if row["grp"] not in naming.names and row["oneid"] not in used:
            naming.names[row["grp"]] = row["oneid"]
            used.add(row["oneid"])
    for grp in sorted({r["grp"] for r in rows} - naming.names.keys()):
        naming.names[grp] = oneid = new_oneid()
        naming.fresh.append(oneid)
    spread: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:  # still sorted: each old person's largest destination first
        spread[row["oneid"]].append(row)
    naming.split = sum(1 for parts in spread.values() if len(parts) > 1)
    fresh = set(naming.fresh)
    for old, parts in spread.items():
        if old not in used:
            successor = naming.retired[old] = naming.names[parts[0]["grp"]]
            naming.changes.append(_change("merge", successor, old, {"records": parts[0]["n"]}))
            continue
        for part in parts:  # records moved from a person that lives on to another one
            target = naming.names[part["grp"]]
            if target != old and target not in fresh:
                naming.changes.append(_change("move", target, old, {"records": part["n"]}))
    by_group: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[row["grp"]].append(row)
    for grp, parts in sorted(by_group.items()):
        name = naming.names[grp]
        if name in fresh:  # a new person split off old ones: name the main source
            sources = {p["oneid"]: p["n"] for p in parts}
            naming.changes.append(
                _change("split", name, parts[0]["oneid"], {"records_from": sources})
            )


def _change(action: str, kept: str, retired: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "kept_oneid": kept, "retired_oneid": retired, "detail": detail}


def _diff_identifiers(engine: Engine, naming: Naming, now: ir.Table, rules: IdentityRules) -> None:
    """Owners: each strong key's first carrier's person; holders: every carrier's person."""
    keys = engine.fact(KEYS)
    weak = keys.id_type.isin(list(rules.weak_types)) if rules.weak_types else ibis.literal(False)
    first = keys.filter(~weak).group_by(["id_type", "value"]).aggregate(seq=keys.seq.min())
    owners = first.join(now, "seq").select("id_type", "value", "oneid")
    stored = engine.fact(OWNERS)
    naming.owner_upserts = engine.to_arrow(owners.anti_join(stored, ["id_type", "value", "oneid"]))
    naming.owner_removals = engine.to_arrow(
        stored.anti_join(owners, ["id_type", "value"]).select("id_type", "value")
    )
    carried = keys.filter(weak).join(now, "seq")
    holders = carried.select("id_type", "value", "oneid").distinct()
    held = engine.fact(HOLDERS)
    both = ["id_type", "value", "oneid"]
    naming.weak_added = engine.to_arrow(holders.anti_join(held, both))
    naming.weak_dropped = engine.to_arrow(held.anti_join(holders, both))


def _blocked_rows(
    engine: Engine, now: ir.Table, blocked: list[BlockedLink]
) -> list[dict[str, Any]]:
    """Blocked merges with both persons' final OneIDs (a group's first record names it)."""
    if not blocked:
        return []
    wanted = sorted({b.grp for b in blocked} | {b.other_grp for b in blocked})
    probe = engine.memtable(
        "identity_blocked_groups", pa.table({"seq": pa.array(wanted, pa.int64())})
    )
    found = engine.to_arrow(now.semi_join(probe, "seq").select("seq", "oneid")).to_pylist()
    name = {row["seq"]: row["oneid"] for row in found}
    return [
        {
            "link_seq": b.seq,
            "oneid": name[b.grp],
            "other_oneid": name[b.other_grp],
            "id_type": b.key[0],
            "id_value": b.key[1],
            "guard": b.guard,
        }
        for b in blocked
    ]
