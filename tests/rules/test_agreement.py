"""Online evaluation agrees with the batch compiler on random rules (hypothesis, DuckDB)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from rules.dataset import AS_OF, build
from siyu import rules, tags
from siyu.rules.schemas import CHOICES
from siyu.tenants import TenantContext

_VALUES: dict[str, list[Any]] = {
    "int": [0, 1, 2, 3, 5, 90, 121],
    "money": [0, 80, "120.00", 150, 300, "450.00", "1000.5"],
    "date": ["1985-11-03", "1990-05-12", "2024-03-01", "2024-04-02", "2024-06-10"],
    "str": ["护肤", "彩妆", "tmall", "pos", "S1", "S2", "上海", "杭州", "f", "m", "active"],
    "bool": [True, False],
}
WINDOWS = sorted({n + d for n in (1, 2, 6, 7, 10, 15, 20, 60, 89, 90, 121, 172) for d in (0, 1)})
_OPS = ["=", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null"]


@st.composite
def comparison(draw: st.DrawFn, kind: str, fields: dict[str, str]) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(fields)))
    pool = list(CHOICES.get(field, _VALUES[fields[field]]))
    op = draw(st.sampled_from(_OPS))
    node: dict[str, Any] = {kind: field, "op": op}
    if op in ("in", "not_in"):
        node["value"] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    elif op not in ("is_null", "not_null"):
        node["value"] = draw(st.sampled_from(pool))
    return node


def counted(draw: st.DrawFn) -> dict[str, Any]:
    node: dict[str, Any] = {}
    # Windows ending exactly at, and one day past, the records' ages on AS_OF.
    window = draw(st.sampled_from([None, *WINDOWS]))
    if window is not None:
        node["within_days"] = window
    low = draw(st.sampled_from([None, 0, 1, 2]))
    high = draw(st.sampled_from([None, 0, 1, 2, 3]))
    if low is not None:
        node["min"] = low
    if high is not None:
        node["max"] = high
    return node


@st.composite
def bought(draw: st.DrawFn) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for field, pool in (
        ("category", ["护肤", "彩妆", "香水"]),
        ("sku", ["SKU-护肤", "SKU-彩妆"]),
        ("source", ["tmall", "pos", "jd", "wechat_mp"]),
        ("store_id", ["S1", "S2"]),
    ):
        if draw(st.integers(0, 3)) == 0:
            wanted[field] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2))
    return {"bought": wanted, **counted(draw)}


@st.composite
def event(draw: st.DrawFn) -> dict[str, Any]:
    types = ["message_clicked", "member_joined", "page_view"]
    node: dict[str, Any] = {"event": draw(st.lists(st.sampled_from(types), min_size=1))}
    if draw(st.booleans()):
        node["source"] = draw(st.sampled_from(["jd", "douyin", "wechat_mp", "pos"]))
    return {**node, **counted(draw)}


LEAVES = st.one_of(
    comparison("trait", rules.TRAIT_FIELDS),
    comparison("attribute", rules.ATTRIBUTE_FIELDS),
    st.sampled_from(["VIP", "肤质=干", "肤质=油"]).map(lambda k: {"tag": k}),
    st.sampled_from([{"tag_group": "肤质"}, {"tag_group": "肤质", "values": ["油", "混合"]}]),
    st.sampled_from(["phone", "wechat_unionid", "member_no", "email"]).map(
        lambda t: {"has_identifier": t}
    ),
    bought(),
    event(),
)
RULES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
    ),
    max_leaves=6,
)
# Most often AS_OF, where the dataset's records sit on window boundaries; else any day.
DAYS = st.one_of(st.just(AS_OF), st.integers(-200, 10).map(lambda n: AS_OF + timedelta(days=n)))


def test_online_agrees_with_batch(session: Session, tenant: TenantContext, tmp_path: Path) -> None:
    oneid = build(session, tenant, tmp_path)
    held = tags.tag_keys_of_persons(session=session, tenant=tenant, oneids=list(oneid.values()))
    people = rules.load_person_facts(
        session=session, tenant=tenant, oneids=list(oneid.values()), tags=held
    )
    seen = {"valid": 0, "nonempty": 0, "partial": 0}
    with rules.prepared_facts(
        session=session,
        tenant=tenant,
        engine_dir=tmp_path,
        tags=tags.tag_fact(session=session, tenant=tenant),
    ) as facts:

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(data=RULES, day=DAYS)
        def check(data: dict[str, Any], day: date) -> None:
            try:
                rule = rules.parse_rule(data)
            except rules.RuleError:
                assume(False)
                return
            found = facts.engine.to_arrow(rules.matching(rule, facts, as_of=day))
            batch = set(found.column("oneid").to_pylist())
            online = {o for o, p in people.items() if rules.evaluate(rule, p, as_of=day)}
            assert batch == online, rules.dump_rule(rule)
            seen["valid"] += 1
            seen["nonempty"] += bool(batch)
            seen["partial"] += 0 < len(batch) < len(people)

        check()
    # The random rules must actually separate persons, or agreement would mean little.
    assert seen["partial"] > seen["valid"] // 4, seen
