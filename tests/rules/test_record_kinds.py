"""Which arriving records can change a rule (the online path skips the others), and which
fact parts a rule reads."""

from __future__ import annotations

from siyu import rules


def test_record_kinds_and_fact_parts() -> None:
    rule = rules.parse_rule(
        {
            "all": [
                {"any": [{"tag": "VIP"}, {"trait": "net_spend", "op": ">=", "value": 100}]},
                {"not": {"event": "message_clicked", "within_days": 7}},
            ]
        }
    )
    assert rules.record_kinds(rule) == {"order", "refund", "event"}
    assert rules.facts_needed(rule) == {"tags", "traits", "events"}
    only_tags = rules.parse_rule({"tag": "VIP"})
    assert rules.record_kinds(only_tags) == frozenset()
    assert rules.record_kinds(rules.parse_rule({"attribute": "city", "value": "上海"})) == {
        "customer"
    }
    assert rules.record_kinds(rules.parse_rule({"has_identifier": "phone"})) == {
        "customer",
        "order",
        "event",
    }
    assert rules.record_kinds(rules.parse_rule({"bought": {}, "min": 2})) == {"order"}
    assert rules.facts_needed(rules.parse_rule({"bought": {}, "min": 2})) == {"sales"}
