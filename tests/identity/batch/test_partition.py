"""The batch partition equals the definition (the Resolver over every record in arrival
order) on random graphs with guards, weak identifiers and cannot-links; the fast path
(DuckDB + scipy) and the portable one (Ibis label propagation) agree on DuckDB and Spark."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from identity.batch.graphs import (
    Graph,
    Resolution,
    disjoint_union,
    graphs,
    random_graph,
    reference,
    rules_strategy,
    write_graph,
)
from siyu.engine import Engine, open_engine
from siyu.identity.batch import Partition, partition
from siyu.tenants import IdentityRules

# The module, not the function `siyu.identity.batch.replay` its package exports.
replay_module = importlib.import_module("siyu.identity.batch.replay")
EXAMPLES = int(os.environ.get("SIYU_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run(
    engine: Engine, graph: Graph, rules: IdentityRules, method: str
) -> tuple[Partition, Resolution]:
    found = partition(engine, rules=rules, constraints=graph.constraints, method=method)
    rows = engine.to_arrow(found.groups).to_pylist()
    result = Resolution({row["seq"]: row["grp"] for row in rows})
    if found.records is not None:  # the same groups, in memory and in seq order
        in_memory = found.records.select(["seq", "grp"]).to_pylist()
        assert in_memory == sorted(rows, key=lambda row: row["seq"])
    result.blocked = {(b.seq, b.grp, b.other_grp, b.key, b.guard) for b in found.replayed.blocked}
    return found, result


def components_of(engine: Engine, found: Partition) -> list[dict[str, Any]]:
    table = found.components.table
    return sorted(engine.to_arrow(table).to_pylist(), key=lambda r: r["seq"])


def check(engine_name: str, graph: Graph, rules: IdentityRules, *methods: str) -> None:
    """Each method gives the reference's persons and blocked merges; methods agree."""
    expected = reference(graph, rules)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(engine_name, snapshot=write_graph(Path(tmp), graph))
        try:
            tables = []
            for method in methods:
                found, result = run(engine, graph, rules, method)
                assert result.groups == expected.groups, method
                assert result.blocked == expected.blocked, method
                tables.append(components_of(engine, found))
                event(f"replayed {found.components.replay_records > 0}")
                event(f"blocked {bool(expected.blocked)}")
            assert all(table == tables[0] for table in tables)
        finally:
            engine.close()


@SETTINGS
@given(graphs(), rules_strategy())
def test_fast_partition_is_the_arrival_order_resolution(graph: Graph, rules: IdentityRules) -> None:
    check("duckdb", graph, rules, "fast")


@settings(SETTINGS, max_examples=max(5, EXAMPLES // 6))
@given(st.lists(graphs(), min_size=1, max_size=12), rules_strategy())
def test_portable_and_fast_agree_on_duckdb(parts: list[Graph], rules: IdentityRules) -> None:
    check("duckdb", disjoint_union(parts), rules, "fast", "portable")


def test_without_guards_and_weak_keys_nothing_is_replayed(tmp_path: Path) -> None:
    graph = Graph(
        (
            (1, "customer", (("phone_sha256", "a"), ("email", "x"))),
            (2, "order", (("email", "x"),)),
            (3, "customer", (("phone_sha256", "b"),)),
            (4, "event", ()),
            (5, "customer", (("phone_sha256", "b"), ("phone_sha256", "a"))),
            (6, "event", (("wechat_unionid", "u"),)),
        )
    )
    rules = IdentityRules(max_per_type={}, max_customer_records=10)
    engine = open_engine("duckdb", snapshot=write_graph(tmp_path, graph))
    try:
        for method in ("fast", "portable"):
            found, result = run(engine, graph, rules, method)
            assert found.components.replay_records == 0
            assert result.groups == {1: 1, 2: 1, 3: 1, 4: 4, 5: 1, 6: 6}
            assert found.components.strong_components == 3
    finally:
        engine.close()


def test_a_guard_splits_a_component_and_lists_the_blocked_merge(tmp_path: Path) -> None:
    # Three phones in one component, two allowed: the third record stays apart.
    graph = Graph(
        (
            (1, "customer", (("phone_sha256", "a"),)),
            (2, "customer", (("phone_sha256", "a"), ("phone_sha256", "b"))),
            (3, "customer", (("phone_sha256", "b"), ("phone_sha256", "c"))),
            (4, "customer", (("phone_sha256", "z"),)),  # elsewhere: not replayed
        )
    )
    rules = IdentityRules(max_per_type={"phone_sha256": 2})
    engine = open_engine("duckdb", snapshot=write_graph(tmp_path, graph))
    try:
        for method in ("fast", "portable"):
            found, result = run(engine, graph, rules, method)
            assert found.components.replay_records == 3
            assert result.groups == {1: 1, 2: 1, 3: 3, 4: 4}
            assert result.blocked == {(3, 3, 1, ("phone_sha256", "b"), "max_per_type:phone_sha256")}
    finally:
        engine.close()


def test_anonymous_records_join_their_device_holder_without_replay(tmp_path: Path) -> None:
    # Before and after the identified record that carries the device: one person either way.
    graph = Graph(
        (
            (1, "event", (("device_id", "d"),)),
            (2, "customer", (("phone_sha256", "a"), ("device_id", "d"))),
            (3, "event", (("device_id", "d"),)),
            (4, "order", (("phone_sha256", "a"),)),
            (5, "event", (("device_id", "lonely"),)),
        )
    )
    engine = open_engine("duckdb", snapshot=write_graph(tmp_path, graph))
    try:
        for method in ("fast", "portable"):
            found, result = run(engine, graph, IdentityRules(), method)
            assert found.components.replay_records == 0
            assert result.groups == {1: 1, 2: 1, 3: 1, 4: 1, 5: 5}
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("records", "replayed", "groups"),
    [
        # A later carrier of the device absorbs the anonymous record: no replay.
        (
            (
                (1, "customer", (("phone_sha256", "a"), ("device_id", "d"))),
                (2, "event", (("device_id", "d"),)),
                (3, "order", (("phone_sha256", "b"),)),
                (4, "order", (("phone_sha256", "a"), ("phone_sha256", "b"), ("device_id", "d"))),
            ),
            0,
            {1: 1, 2: 1, 3: 1, 4: 1},
        ),
        # After every identified record: the carriers are one person by then. No replay.
        (
            (
                (1, "customer", (("phone_sha256", "a"), ("device_id", "d"))),
                (2, "order", (("phone_sha256", "a"), ("device_id", "d"))),
                (3, "event", (("device_id", "d"),)),
            ),
            0,
            {1: 1, 2: 1, 3: 1},
        ),
        # Between: the two carriers are still two persons, and no carrier comes later.
        (
            (
                (1, "customer", (("phone_sha256", "a"), ("device_id", "d"))),
                (2, "order", (("phone_sha256", "b"), ("device_id", "d"))),
                (3, "event", (("device_id", "d"),)),
                (4, "order", (("phone_sha256", "a"), ("phone_sha256", "b"))),
            ),
            4,
            {1: 1, 2: 1, 3: 3, 4: 1},
        ),
    ],
    ids=["carrier-later", "after-all", "between"],
)
def test_an_anonymous_record_on_a_device_of_several_records(
    records: tuple[tuple[int, str, tuple[tuple[str, str], ...]], ...],
    replayed: int,
    groups: dict[int, int],
    tmp_path: Path,
) -> None:
    graph = Graph(records)
    assert reference(graph, IdentityRules()).groups == groups
    engine = open_engine("duckdb", snapshot=write_graph(tmp_path, graph))
    try:
        for method in ("fast", "portable"):
            found, result = run(engine, graph, IdentityRules(), method)
            assert found.components.replay_records == replayed, method
            assert result.groups == groups, method
    finally:
        engine.close()


P1, U1, P2 = ("phone_sha256", "p1"), ("wechat_unionid", "u1"), ("phone_sha256", "p2")


def dev(name: str) -> tuple[str, str]:
    return ("device_id", name)


# Each case needs one clause of the replay rule (graph.py): without it, the decided
# persons would differ from the arrival-order resolution given here.
REPLAY_CASES = {
    "two identified persons share a device": (
        Graph(
            (
                (1, "customer", (P1, dev("d1"))),
                (2, "customer", (P2, dev("d2"))),
                (3, "order", (P1, dev("shared"))),
                (4, "order", (P2, dev("shared"))),
                (5, "event", (dev("d1"),)),  # each session's device is on one record
                (6, "event", (dev("d2"),)),
            )
        ),
        IdentityRules(),
        {1: 1, 2: 2, 3: 1, 4: 2, 5: 1, 6: 2},
    ),
    "a session on two devices of a person not yet joined up": (
        Graph(
            (
                (1, "customer", (P1, dev("d1"))),
                (2, "customer", (U1, dev("d2"))),
                (3, "event", (dev("d1"), dev("d2"))),  # two holders: a person of its own
                (4, "order", (P1, U1)),
            )
        ),
        IdentityRules(),
        {1: 1, 2: 1, 3: 3, 4: 1},
    ),
    "a session on a device two records of a person carry, not yet joined up": (
        Graph(
            (
                (1, "customer", (P1, dev("d"))),
                (2, "customer", (U1, dev("d"))),
                (3, "event", (dev("d"),)),
                (4, "order", (P1, U1)),
            )
        ),
        IdentityRules(),
        {1: 1, 2: 1, 3: 3, 4: 1},
    ),
    "an anonymous customer record over the size cap": (
        Graph(((1, "customer", (P1, dev("d"))), (2, "customer", (dev("d"),)))),
        IdentityRules(max_customer_records=1),
        {1: 1, 2: 2},
    ),
    "a cannot-link": (
        Graph(((1, "customer", (P1,)), (2, "order", (P1,))), constraints=((1, 2),)),
        IdentityRules(),
        {1: 1, 2: 2},
    ),
    "the customer-record cap": (
        Graph(((1, "customer", (P1,)), (2, "customer", (P1,)))),
        IdentityRules(max_customer_records=1),
        {1: 1, 2: 2},
    ),
}


@pytest.mark.parametrize("case", list(REPLAY_CASES))
def test_components_a_rule_could_affect_are_replayed(case: str, tmp_path: Path) -> None:
    graph, rules, expected = REPLAY_CASES[case]
    assert reference(graph, rules).groups == expected
    engine = open_engine("duckdb", snapshot=write_graph(tmp_path, graph))
    try:
        for method in ("fast", "portable"):
            found, result = run(engine, graph, rules, method)
            assert found.components.replay_records == len(graph.records), method
            assert result.groups == expected, method
    finally:
        engine.close()


@pytest.mark.spark
@pytest.mark.usefixtures("spark_ready")
def test_portable_on_spark_agrees_with_fast_on_duckdb() -> None:
    graph = random_graph(7, parts=60)
    rules = IdentityRules(
        max_per_type={"phone_sha256": 2, "wechat_unionid": 1}, max_customer_records=3
    )
    expected = reference(graph, rules)
    assert any(len(set(expected.groups.values())) < len(graph.records) for _ in [0])
    with tempfile.TemporaryDirectory() as tmp:
        duck = open_engine("duckdb", snapshot=write_graph(Path(tmp) / "d", graph))
        spark = open_engine("spark", snapshot=write_graph(Path(tmp) / "s", graph))
        try:
            fast, fast_result = run(duck, graph, rules, "fast")
            portable, portable_result = run(spark, graph, rules, "portable")
            assert fast_result.groups == portable_result.groups == expected.groups
            assert fast_result.blocked == portable_result.blocked == expected.blocked
            assert components_of(duck, fast) == components_of(spark, portable)
            assert fast.components.replay_records > 0 and expected.blocked
        finally:
            duck.close()
            spark.close()


@pytest.mark.parametrize("method", ["fast", "portable"])
def test_a_replay_split_over_worker_processes_is_the_same(
    method: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Many independent components, guards biting in several: forked workers each resolve
    # whole components, and their persons and blocked merges are the reference's.
    graph = random_graph(11, parts=80)
    rules = IdentityRules(
        max_per_type={"phone_sha256": 2, "wechat_unionid": 1}, max_customer_records=3
    )
    monkeypatch.setattr(replay_module, "FORK_FROM", 1)
    parts = replay_module._split
    split_sizes: list[int] = []

    def counting_split(records: pa.Table, rows: pa.Table, workers: int) -> Any:
        found = parts(records, rows, workers)
        split_sizes.extend(r.num_rows for r, _ in found)
        return found

    monkeypatch.setattr(replay_module, "_split", counting_split)
    expected = reference(graph, rules)
    engine = open_engine("duckdb", snapshot=write_graph(tmp_path, graph))
    try:
        found, result = run(engine, graph, rules, method)
    finally:
        engine.close()
    assert result.groups == expected.groups
    assert result.blocked == expected.blocked and expected.blocked
    assert len(split_sizes) == 2 and min(split_sizes) > 0
    assert sum(split_sizes) == found.components.replay_records
