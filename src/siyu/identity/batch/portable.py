"""Components in any engine (Ibis): iterative min-label propagation, for Spark on a cluster.

Each key links its records to its first record (a star), so the record graph's edges are
(record, first record of a shared key). Every record starts labelled with its own seq; a
step takes the smallest label among itself and its neighbours, then jumps to its label's
label (pointer jumping, which shortens long chains to a few steps); steps repeat until no
label changes. The fixed point labels each component with its smallest seq, the same
labels the fast path computes. Each step is checkpointed to Parquet, so plans stay small.
The replay rule of `graph.py` is then a handful of group-bys.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import count

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from siyu.engine import Engine
from siyu.identity.batch.facts import KEYS, LINKS
from siyu.identity.batch.graph import Components, guarded_types
from siyu.tenants import IdentityRules

MAX_STEPS = 200  # pointer jumping converges in a few dozen steps on any real identity graph
_scratch = count(1)


class ConvergenceError(RuntimeError):
    """Label propagation did not settle (it always does on a finite graph: a bug)."""


def portable_components(
    engine: Engine, *, rules: IdentityRules, constrained: Collection[int]
) -> Components:
    """Strong and full components and the replay rule, as Ibis expressions."""
    links = engine.fact(LINKS)
    keys = engine.fact(KEYS)
    stats = keys.group_by(["id_type", "value"]).aggregate(first=keys.seq.min(), n=keys.count())
    joined = keys.join(stats, ["id_type", "value"])
    weak = joined.id_type.isin(list(rules.weak_types)) if rules.weak_types else ibis.literal(False)
    rows = engine.checkpoint(
        _name("rows"), joined.select("seq", "id_type", "value", "first", "n", weak=weak)
    )
    shared = rows.filter((rows.n > 1) & (rows.seq != rows.first))

    strong = min_labels(
        engine,
        links.select(node=links.seq),
        shared.filter(~shared.weak).select(a=shared.seq, b=shared.first),
    )
    weak_edges = shared.filter(shared.weak)
    s_a = strong.select(a_node=strong.node, a=strong.label)
    s_b = strong.select(b_node=strong.node, b=strong.label)
    lifted = (
        weak_edges.join(s_a, weak_edges.seq == s_a.a_node)
        .join(s_b, weak_edges.first == s_b.b_node)
        .select("a", "b")
    )
    full = min_labels(
        engine,
        strong.select(node=strong.label).distinct(),
        lifted.filter(lifted.a != lifted.b),
    )
    table = _classify(engine, rows, _records(links, rows, strong, full), rules, constrained)
    table = engine.checkpoint(_name("components"), table)
    totals = engine.to_arrow(
        table.aggregate(
            records=table.count(),
            strong_components=table.strong.nunique(),
            full_components=table.full.nunique(),
            replay_components=table.full.nunique(where=table.replay),
            replay_records=table.replay.cast("int64").sum(),
        )
    ).to_pylist()[0]
    counts = {k: int(v or 0) for k, v in totals.items()}
    return Components(
        table=table,
        records=counts["records"],
        strong_components=counts["strong_components"],
        full_components=counts["full_components"],
        replay_components=counts["replay_components"],
        replay_records=counts["replay_records"],
    )


def min_labels(engine: Engine, nodes: ir.Table, edges: ir.Table) -> ir.Table:
    """node, label: the smallest node of each node's connected component (edges a—b)."""
    both = engine.checkpoint(
        _name("edges"), edges.select("a", "b").union(edges.select(a=edges.b, b=edges.a))
    )
    labels = engine.checkpoint(_name("labels"), nodes.select("node", label=nodes.node))
    for _step in range(MAX_STEPS):
        seen = both.join(labels, both.b == labels.node)
        near = seen.group_by(seen.a).aggregate(low=seen.label.min())
        spread = labels.left_join(near, labels.node == near.a)
        spread = spread.select(
            "node", label=ibis.least(spread.label, spread.low.fill_null(spread.label))
        )
        # Renamed, not `.view()`: Ibis 12 mis-resolves columns of a self-join of views.
        spread = spread.view()
        hop = spread.select(hop=spread.node, hop_label=spread.label)
        jumped = spread.join(hop, spread.label == hop.hop)
        jumped = jumped.select("node", label=ibis.least(jumped.label, jumped.hop_label))
        stepped = engine.checkpoint(_name("labels"), jumped)
        moved = stepped.join(labels, "node").filter(lambda t: t.label != t.label_right)
        labels, changed = stepped, engine.count(moved)
        if changed == 0:
            return labels
    raise ConvergenceError(f"component labels still changing after {MAX_STEPS} steps")


def _records(links: ir.Table, rows: ir.Table, strong: ir.Table, full: ir.Table) -> ir.Table:
    """Per record: seq, customer, strong/full label and strong/weak key counts."""
    counts = rows.group_by("seq").aggregate(
        strong_keys=ibis.ifelse(rows.weak, 0, 1).sum(), weak_keys=ibis.ifelse(rows.weak, 1, 0).sum()
    )
    rec = (
        links.join(strong, links.seq == strong.node)
        .join(full, strong.label == full.node)
        .select(
            links.seq,
            customer=links.kind == "customer",
            strong=strong.label,
            full=full.label,
        )
    )
    rec = rec.left_join(counts, "seq")
    return rec.select(
        "seq",
        "customer",
        "strong",
        "full",
        strong_keys=rec.strong_keys.fill_null(0),
        weak_keys=rec.weak_keys.fill_null(0),
    ).mutate(
        identified=lambda t: t.strong_keys > 0,
        anonymous=lambda t: (t.strong_keys == 0) & (t.weak_keys > 0),
    )


def _classify(
    engine: Engine,
    rows: ir.Table,
    rec: ir.Table,
    rules: IdentityRules,
    constrained: Collection[int],
) -> ir.Table:
    """The replay rule (see graph.py) and each decided record's group."""
    limits = guarded_types(rules)
    guards = engine.memtable(
        _name("guards"),
        pa.table(
            {"id_type": [t for t, _ in limits], "limit": [n for _, n in limits]},
            schema=pa.schema([("id_type", pa.string()), ("limit", pa.int64())]),
        ),
    )
    # Distinct guarded values per strong component: count each key at its first record.
    firsts = rows.filter(rows.seq == rows.first).join(guards, "id_type").join(rec, "seq")
    over = (
        firsts.group_by(["strong", "id_type", "limit"])
        .aggregate(values=firsts.count())
        .filter(lambda t: t["values"] > t["limit"])
        .select("strong")
    )
    per_strong = rec.group_by("strong").aggregate(
        customers=rec.customer.cast("int64").sum(), identified=rec.identified.any()
    )
    risky = per_strong.filter(per_strong.customers > rules.max_customer_records).select("strong")
    risky = risky.union(over).distinct().mutate(risky=ibis.literal(True))

    weak_rows = rows.filter(rows.weak)
    known = rec.filter(rec.identified)
    carried = weak_rows.join(known, "seq")
    carriers = carried.group_by(["id_type", "value"]).aggregate(
        carriers=carried.count(), last_carrier=carried.seq.max()
    )
    last = known.group_by("full").aggregate(last_identified=known.seq.max())
    anon = (
        weak_rows.join(rec.filter(rec.anonymous), "seq")
        .join(carriers, ["id_type", "value"])
        .left_join(last, "full")
    )
    settled = (anon.carriers == 1) | (
        (anon.carriers > 1)
        & ((anon.seq < anon.last_carrier) | (anon.seq > anon.last_identified.fill_null(0)))
    )
    simple = anon.filter((anon.weak_keys == 1) & settled).select("seq", simple=ibis.literal(True))
    bound = engine.memtable(
        _name("constrained"),
        pa.table({"seq": pa.array(sorted(constrained), pa.int64())}),
    ).mutate(constrained=ibis.literal(True))

    flags = rec.left_join(risky, "strong").left_join(simple, "seq").left_join(bound, "seq")
    flags = flags.select(
        "seq",
        "strong",
        "full",
        "anonymous",
        anon_customer=flags.anonymous & flags.customer,
        anon_bad=flags.anonymous & ~flags.simple.fill_null(False),
        risky=flags.risky.fill_null(False),
        constrained=flags.constrained.fill_null(False),
    )
    idents = per_strong.join(rec.select("strong", "full").distinct(), "strong")
    per_full = idents.group_by("full").aggregate(identified=idents.identified.cast("int64").sum())
    verdict = flags.group_by("full").aggregate(
        anonymous=flags.anonymous.any(),
        anon_customer=flags.anon_customer.any(),
        anon_bad=flags.anon_bad.any(),
        risky=flags.risky.any(),
        constrained=flags.constrained.any(),
    )
    verdict = verdict.join(per_full, "full")
    replay = (
        verdict.risky
        | verdict.constrained
        | verdict.anon_customer
        | (
            verdict.anonymous
            & (verdict.identified >= 1)
            & ((verdict.identified > 1) | verdict.anon_bad)
        )
    )
    verdict = verdict.select("full", replay=replay, one_person=verdict.anonymous)
    out = rec.join(verdict, "full")
    # A decided full component with anonymous records is one person; else each strong one.
    grp = ibis.ifelse(out.one_person, out.full, out.strong)
    return out.select(
        "seq",
        "strong",
        "full",
        "replay",
        grp=ibis.ifelse(out.replay, ibis.null("int64"), grp).cast("int64"),
    )


def _name(kind: str) -> str:
    return f"identity-{kind}-{next(_scratch)}"
