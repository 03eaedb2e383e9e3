"""The rule language tags and audiences share: parsing, batch compilation, online evaluation."""

from siyu.rules.batch import matching
from siyu.rules.facts import (
    TAGS_SCHEMA,
    RuleFacts,
    current_facts,
    derive_facts,
    prepared_facts,
)
from siyu.rules.online import PersonFacts, evaluate, load_person_facts
from siyu.rules.schemas import (
    ATTRIBUTE_FIELDS,
    CHOICES,
    TAG_GROUP,
    TAG_KEY,
    TRAIT_FIELDS,
    Rule,
    RuleError,
    TagCondition,
    TagGroupCondition,
    check_references,
    dump_rule,
    parse_rule,
    split_tag_key,
    tag_references,
    walk,
)

__all__ = [
    "ATTRIBUTE_FIELDS",
    "CHOICES",
    "TAGS_SCHEMA",
    "TAG_GROUP",
    "TAG_KEY",
    "TRAIT_FIELDS",
    "PersonFacts",
    "Rule",
    "RuleError",
    "RuleFacts",
    "TagCondition",
    "TagGroupCondition",
    "check_references",
    "current_facts",
    "derive_facts",
    "dump_rule",
    "evaluate",
    "load_person_facts",
    "matching",
    "parse_rule",
    "prepared_facts",
    "split_tag_key",
    "tag_references",
    "walk",
]
