"""The rule language tags and audiences share: parsing, batch compilation, online evaluation."""

from siyu.rules.batch import matching
from siyu.rules.facts import (
    TAGS_SCHEMA,
    RuleFacts,
    current_facts,
    derive_facts,
    prepared_facts,
)
from siyu.rules.online import (
    FACT_PARTS,
    PersonFacts,
    evaluate,
    facts_needed,
    load_person_facts,
)
from siyu.rules.schemas import (
    ATTRIBUTE_FIELDS,
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
    record_kinds,
    split_tag_key,
    tag_references,
    walk,
)

__all__ = [
    "ATTRIBUTE_FIELDS",
    "FACT_PARTS",
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
    "facts_needed",
    "load_person_facts",
    "matching",
    "parse_rule",
    "prepared_facts",
    "record_kinds",
    "split_tag_key",
    "tag_references",
    "walk",
]
