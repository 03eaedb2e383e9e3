"""The rule language: what parses, how it is stored, and the errors bad rules get."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from siyu.rules import RuleError, check_references, dump_rule, parse_rule
from siyu.rules.schemas import BoughtCondition, TraitCondition


def test_parses_and_round_trips() -> None:
    data = {
        "all": [
            {"trait": "lifecycle_stage", "value": "active"},
            {"trait": "net_spend", "op": ">=", "value": 1000},
            {"trait": "rfm_r", "op": "in", "value": [4, 5]},
            {"any": [{"tag": "肤质=干"}, {"not": {"has_identifier": "phone"}}]},
            {"bought": {"category": "护肤"}, "within_days": 90, "min": 2},
            {"event": "message_clicked", "within_days": 7},
        ]
    }
    rule = parse_rule(data)
    assert parse_rule(dump_rule(rule)) == rule
    assert parse_rule('{"tag": "VIP"}') == parse_rule({"tag": "VIP"})
    stored = dump_rule(rule)
    assert stored["all"][1] == {"trait": "net_spend", "op": ">=", "value": "1000"}
    assert stored["all"][4] == {"bought": {"category": ["护肤"]}, "within_days": 90, "min": 2}


def test_values_take_the_fields_type() -> None:
    money = parse_rule({"trait": "aov", "op": "<", "value": "99.9"})
    assert isinstance(money, TraitCondition) and money.value == Decimal("99.90")
    listed = parse_rule({"trait": "rfm_m", "op": "not_in", "value": [1, 2]})
    assert isinstance(listed, TraitCondition) and listed.value == (1, 2)
    at_most = parse_rule({"bought": {}, "max": 0})
    assert isinstance(at_most, BoughtCondition) and (at_most.min, at_most.max) == (0, 0)
    at_least = parse_rule({"bought": {}})
    assert isinstance(at_least, BoughtCondition) and (at_least.min, at_least.max) == (1, None)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("{not json", "rule: not valid JSON"),
        ([{"tag": "x"}], "rule: a rule node is an object with one of the keys all, any"),
        ({"all": []}, "all: List should have at least 1 item"),
        ({"all": [{"colour": "red"}]}, "all[0]: a rule node is an object with one of the keys"),
        (
            {"trait": "vip_level", "value": 1},
            "rule: unknown trait 'vip_level'; traits: order_count",
        ),
        ({"attribute": "shoe_size", "value": 1}, "rule: unknown attribute 'shoe_size'"),
        ({"trait": "order_count", "value": "3"}, "rule: order_count needs an int value, got '3'"),
        ({"trait": "order_count", "value": True}, "rule: order_count needs an int value"),
        ({"trait": "net_spend", "value": "1.005"}, "at most 2 decimals, got '1.005'"),
        ({"trait": "net_spend", "value": "lots"}, "rule: net_spend needs a money value"),
        ({"trait": "first_order_day", "op": ">", "value": "June"}, "needs a date (YYYY-MM-DD)"),
        ({"trait": "lifecycle_stage", "value": "vip"}, "lifecycle_stage is one of prospect"),
        ({"attribute": "birthday_month", "value": 13}, "birthday_month is one of 1, 2"),
        ({"attribute": "city", "op": ">", "value": "a"}, "city is a str field; op '>' is not"),
        ({"trait": "is_member", "op": "in", "value": [True]}, "op 'in' is not one of"),
        ({"trait": "rfm_r", "op": "in", "value": []}, "op 'in' needs a non-empty list"),
        ({"trait": "rfm_r", "op": "is_null", "value": 1}, "op 'is_null' takes no value"),
        ({"trait": "rfm_r", "op": "~", "value": 1}, "op: Input should be '='"),
        ({"not": {"tag": "a=b=c"}}, "not.tag: 'a=b=c' is not a tag key"),
        ({"tag": " VIP"}, "' VIP' is not a tag key"),
        ({"tag_group": "肤质", "values": []}, "values: List should have at least 1"),
        ({"has_identifier": "Phone!"}, "has_identifier: String should match pattern"),
        ({"bought": {}, "min": 0}, "min 0 without max is true for everyone"),
        ({"bought": {}, "min": 3, "max": 2}, "max (2) is below min (3)"),
        ({"bought": {}, "within_days": 0}, "within_days: Input should be greater than"),
        ({"any": [{"bought": {"colour": "red"}}]}, "any[0].bought.colour: Extra inputs"),
        ({"event": [], "within_days": 7}, "event: List should have at least 1 item"),
        ({"all": [{"tag": "x"}], "any": [{"tag": "y"}]}, "any: Extra inputs are not"),
    ],
)
def test_errors_name_the_place(data: Any, problem: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(data)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_several_problems_are_all_reported() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule({"all": [{"trait": "x"}, {"tag": "ok"}, {"bought": {}, "min": 0}]})
    assert [p.split(":")[0] for p in caught.value.problems] == ["all[0]", "all[2]"]


def test_references_must_exist() -> None:
    rule = parse_rule(
        {
            "all": [
                {"tag": "VIP"},
                {"tag_group": "发质"},
                {"tag_group": "肤质", "values": ["干"]},
                {"has_identifier": "line_id"},
            ]
        }
    )
    with pytest.raises(RuleError) as caught:
        check_references(rule, tag_keys={"VIP"}, tag_groups={"肤质"}, identifier_types={"phone"})
    assert caught.value.problems == [
        "unknown tag '肤质=干'",
        "unknown tag group '发质'",
        "unknown identifier type 'line_id' (known: phone)",
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"trait": "lifecycle_stage", "op": "in", "value": ["new", "active"]},
        {"attribute": "birthday_month", "op": "not_in", "value": [5, 6]},
    ],
)
def test_a_top_level_list_comparison_dumps(data: Any) -> None:
    # A checked `in` value is a tuple; dumping must not validate the rule a second time.
    assert dump_rule(parse_rule(data)) == data
