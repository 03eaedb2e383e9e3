"""Naming the new persons: the OneID of the old person a group overlaps most (ties: the
older old person), fresh OneIDs otherwise, retired OneIDs pointing at their successor."""

from __future__ import annotations

import tempfile
from itertools import count
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity.batch.graphs import Graph, graphs, rules_strategy, write_graph
from siyu.engine import open_engine
from siyu.identity.batch import name_partition, partition
from siyu.identity.batch.naming import Naming, name_persons
from siyu.identity.oneid import PENDING
from siyu.tenants import IdentityRules

P, Q, R = ("phone_sha256", "p"), ("phone_sha256", "q"), ("email", "r")


def named(tmp_path: Path, graph: Graph, old: dict[int, str], rules: IdentityRules) -> Naming:
    fresh = count(1)
    engine = open_engine("duckdb", snapshot=write_graph(tmp_path, graph, oneids=old))
    try:
        found = partition(engine, rules=rules, constraints=graph.constraints, method="fast")
        return name_persons(engine, found.groups, new_oneid=lambda: f"NEW{next(fresh)}")
    finally:
        engine.close()


def test_equal_overlaps_go_to_the_older_person(tmp_path: Path) -> None:
    # Y's record arrived first, so Y is older although "X" sorts first.
    graph = Graph(((1, "customer", (P,)), (2, "customer", (P,))))
    naming = named(tmp_path, graph, {1: "Y", 2: "X"}, IdentityRules())
    assert naming.names == {1: "Y"}
    assert naming.retired == {"X": "Y"}
    assert (naming.persons, naming.unchanged, naming.fresh, naming.split) == (1, 0, [], 0)
    assert naming.changes == [
        {"action": "merge", "kept_oneid": "Y", "retired_oneid": "X", "detail": {"records": 1}}
    ]


def test_a_split_keeps_the_oneid_with_the_larger_part(tmp_path: Path) -> None:
    # One old person; the guard now allows one phone: record 2 (phone q) is kept apart,
    # records 1 and 3 (phone p) stay together and keep the OneID.
    graph = Graph(((1, "customer", (P,)), (2, "customer", (Q, R)), (3, "order", (R, P))))
    naming = named(
        tmp_path, graph, {1: "X", 2: "X", 3: "X"}, IdentityRules(max_per_type={"phone_sha256": 1})
    )
    assert naming.names == {1: "X", 2: "NEW1"}
    assert (naming.fresh, naming.retired, naming.split) == (["NEW1"], {}, 1)
    assert naming.changes == [
        {
            "action": "split",
            "kept_oneid": "NEW1",
            "retired_oneid": "X",
            "detail": {"records_from": {"X": 1}},
        }
    ]


def test_records_moving_between_living_persons_are_recorded(tmp_path: Path) -> None:
    # Old: X = {1, 2}, Y = {3, 4}; now record 2 belongs with Y's records.
    graph = Graph(
        ((1, "customer", (P,)), (2, "order", (R,)), (3, "customer", (R,)), (4, "order", (R,)))
    )
    naming = named(tmp_path, graph, {1: "X", 2: "X", 3: "Y", 4: "Y"}, IdentityRules())
    assert naming.names == {1: "X", 2: "Y"}
    assert (naming.fresh, naming.retired, naming.split, naming.unchanged) == ([], {}, 1, 0)
    assert naming.changes == [
        {"action": "move", "kept_oneid": "Y", "retired_oneid": "X", "detail": {"records": 1}}
    ]


def test_persons_exactly_as_before_keep_their_oneids_untouched(tmp_path: Path) -> None:
    graph = Graph(((1, "customer", (P,)), (2, "order", (P,)), (3, "customer", (Q,))))
    naming = named(tmp_path, graph, {1: "X", 2: "X", 3: "Z"}, IdentityRules())
    assert (naming.persons, naming.unchanged, naming.names, naming.changes) == (2, 2, {}, [])


def _named_both_ways(
    root: Path, graph: Graph, old: dict[int, str], rules: IdentityRules
) -> tuple[Naming, Naming]:
    engine = open_engine("duckdb", snapshot=write_graph(root, graph, oneids=old))
    try:
        found = partition(engine, rules=rules, constraints=graph.constraints, method="fast")
        assert found.records is not None
        fresh_sql, fresh_arrays = count(1), count(1)
        in_sql = name_persons(engine, found.groups, new_oneid=lambda: f"N{next(fresh_sql)}")
        in_arrays = name_partition(engine, found, new_oneid=lambda: f"N{next(fresh_arrays)}")
        return in_sql, in_arrays
    finally:
        engine.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), rules_strategy(), st.data())
def test_naming_on_arrays_is_the_engine_naming(
    graph: Graph, rules: IdentityRules, data: st.DataObject
) -> None:
    # Old persons from a small pool (they merge and split), some records still pending.
    pool = st.sampled_from(["X", "Y", "Z", PENDING])
    old = {seq: data.draw(pool) for seq, _kind, _keys in graph.records}
    with tempfile.TemporaryDirectory() as tmp:
        in_sql, in_arrays = _named_both_ways(Path(tmp), graph, old, rules)
    assert in_arrays == in_sql
