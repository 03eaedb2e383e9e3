"""Profiles: the 360° person view, merged attributes, basic traits, person search."""

from siyu.profiles.schemas import PersonSummary, PersonView, Traits
from siyu.profiles.service import (
    IDENTIFIER_FIELDS,
    MERGED_FIELDS,
    UNPAID,
    PersonNotFoundError,
    basic_traits,
    get_person,
    merge_attributes,
    merge_consent,
    search_persons,
)

__all__ = [
    "IDENTIFIER_FIELDS",
    "MERGED_FIELDS",
    "UNPAID",
    "PersonNotFoundError",
    "PersonSummary",
    "PersonView",
    "Traits",
    "basic_traits",
    "get_person",
    "merge_attributes",
    "merge_consent",
    "search_persons",
]
