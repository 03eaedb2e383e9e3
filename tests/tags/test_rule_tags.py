"""Rule tags in batch: holders follow the rule, with history; dependencies, exclusive
groups, cycles and the due-check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from rules.dataset import AS_OF, build
from siyu import rules, tags
from siyu.tags import TagIn
from siyu.tenants import TenantContext


def _holders(session: Session, tenant: TenantContext, key: str, oneid: dict[str, str]) -> str:
    name_of = {v: k for k, v in oneid.items()}
    found = {
        name_of[o]
        for o in oneid.values()
        for t in tags.tags_of_person(session=session, tenant=tenant, oneid=o)
        if t.key == key
    }
    return "".join(sorted(found))


def test_rule_tags_in_batch(
    session: Session, tenant: TenantContext, engine_name: str, tmp_path: Path
) -> None:
    oneid = build(session, tenant, tmp_path)

    def create(key: str, rule: dict[str, object]) -> None:
        tags.create_tag(session=session, tenant=tenant, tag=TagIn(key=key, rule=rule), by="ops")

    create("近30天购买", {"bought": {}, "within_days": 30})
    create("近30天购买VIP", {"all": [{"tag": "近30天购买"}, {"tag": "VIP"}]})
    # Exclusive rule group: the first matching value (by creation order) wins.
    create("频次=高", {"trait": "order_count", "op": ">=", "value": 2})
    create("频次=低", {"trait": "order_count", "op": ">=", "value": 1})

    def compute(day: object, *keys: str) -> dict[str, tuple[int, int, int]]:
        report = tags.compute_rule_tags(
            session=session,
            tenant=tenant,
            engine_dir=tmp_path,
            keys=list(keys) or None,
            engine=engine_name,
            as_of=day,  # type: ignore[arg-type]
        )
        return {t.key: (t.holders, t.given, t.removed) for t in report.tags}

    first = compute(AS_OF)
    assert first == {
        "近30天购买": (2, 2, 0),  # A (20 days ago), B (yesterday)
        "近30天购买VIP": (1, 1, 0),  # A: fresh holders of 近30天购买 in the same run
        "频次=高": (2, 2, 0),  # A, E
        "频次=低": (2, 2, 0),  # B, C: A and E have 频次=高 already
    }
    assert _holders(session, tenant, "近30天购买", oneid) == "AB"
    assert _holders(session, tenant, "近30天购买VIP", oneid) == "A"
    assert _holders(session, tenant, "频次=低", oneid) == "BC"
    [given] = [
        t
        for t in tags.tags_of_person(session=session, tenant=tenant, oneid=oneid["A"])
        if t.key == "近30天购买"
    ]
    assert (given.kind, given.given_by_kind, given.given_by) == ("rule", "rule", "近30天购买")

    # Fifteen days later A's last purchase is 35 days old: A loses both tags.
    later = compute(AS_OF + timedelta(days=15), "近30天购买", "近30天购买VIP")
    assert later == {"近30天购买": (1, 0, 1), "近30天购买VIP": (0, 0, 1)}
    assert _holders(session, tenant, "近30天购买", oneid) == "B"
    history = tags.tag_history(session=session, tenant=tenant, oneid=oneid["A"], key="近30天购买")
    [interval] = history
    assert (interval.removed_by_kind, interval.removed_by) == ("rule", "近30天购买")
    # Nothing changed: a rerun writes nothing.
    assert compute(AS_OF + timedelta(days=15), "近30天购买") == {"近30天购买": (1, 0, 0)}


def test_cycles_are_refused(session: Session, tenant: TenantContext) -> None:
    tags.create_tag(session=session, tenant=tenant, tag=TagIn(key="VIP"), by="ops")
    tags.create_tag(
        session=session, tenant=tenant, tag=TagIn(key="甲", rule={"tag": "VIP"}), by="ops"
    )
    tags.create_tag(
        session=session, tenant=tenant, tag=TagIn(key="乙", rule={"tag": "甲"}), by="ops"
    )
    with pytest.raises(rules.RuleError, match="depend on themselves"):
        tags.update_rule(session=session, tenant=tenant, key="甲", rule={"tag": "乙"})
    with pytest.raises(rules.RuleError, match="depend on themselves"):
        tags.update_rule(session=session, tenant=tenant, key="甲", rule={"tag": "甲"})
    updated = tags.update_rule(
        session=session, tenant=tenant, key="甲", rule={"not": {"tag": "VIP"}}
    )
    assert updated.rule == {"not": {"tag": "VIP"}}


def test_run_due(session: Session, tenant: TenantContext, tmp_path: Path) -> None:
    build(session, tenant, tmp_path)
    for key, minutes in (("hourly", 60), ("manual-only", None)):
        tags.create_tag(
            session=session,
            tenant=tenant,
            tag=TagIn(key=key, rule={"tag": "VIP"}, refresh_minutes=minutes),
            by="ops",
        )
    first = tags.compute_rule_tags(
        session=session, tenant=tenant, engine_dir=tmp_path, due_only=True
    )
    assert [(t.key, t.holders) for t in first.tags] == [("hourly", 2)]
    # Just computed: not due again for an hour.
    assert (
        tags.compute_rule_tags(
            session=session, tenant=tenant, engine_dir=tmp_path, due_only=True
        ).tags
        == []
    )
    assert tags.get_tag(session=session, tenant=tenant, key="hourly").computed_at is not None
    assert tags.get_tag(session=session, tenant=tenant, key="manual-only").computed_at is None
