"""Tags: manual, imported and rule tags, tag groups, and who holds which tag since when."""

from siyu.tags.compute import compute_rule_tags
from siyu.tags.facts import tag_fact, tag_keys_of_persons
from siyu.tags.importer import import_tags
from siyu.tags.schemas import (
    BadRow,
    GiveReport,
    ImportReport,
    PersonTag,
    TagComputed,
    TagComputeReport,
    TagGroupView,
    TagIn,
    TagInterval,
    TagView,
)
from siyu.tags.service import (
    TagError,
    apply_tags,
    check_rule,
    create_group,
    create_tag,
    get_tag,
    give_tag,
    list_groups,
    list_tags,
    remove_tag,
    tag_history,
    tags_of_person,
    update_rule,
)

__all__ = [
    "BadRow",
    "GiveReport",
    "ImportReport",
    "PersonTag",
    "TagComputeReport",
    "TagComputed",
    "TagError",
    "TagGroupView",
    "TagIn",
    "TagInterval",
    "TagView",
    "apply_tags",
    "check_rule",
    "compute_rule_tags",
    "create_group",
    "create_tag",
    "get_tag",
    "give_tag",
    "import_tags",
    "list_groups",
    "list_tags",
    "remove_tag",
    "tag_fact",
    "tag_history",
    "tag_keys_of_persons",
    "tags_of_person",
    "update_rule",
]
