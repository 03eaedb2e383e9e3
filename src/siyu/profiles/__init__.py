"""Profiles: the 360° person view, merged attributes, basic traits, person search."""

from siyu.profiles.contacts import contact_cards, persons_on_day
from siyu.profiles.schemas import ContactCard, PersonSummary, PersonView, Traits
from siyu.profiles.service import (
    IDENTIFIER_FIELDS,
    MERGED_FIELDS,
    UNPAID,
    PersonNotFoundError,
    basic_traits,
    get_person,
    is_customer_of,
    merge_attributes,
    merge_consent,
    persons_of_staff,
    search_persons,
)

__all__ = [
    "IDENTIFIER_FIELDS",
    "MERGED_FIELDS",
    "UNPAID",
    "ContactCard",
    "PersonNotFoundError",
    "PersonSummary",
    "PersonView",
    "Traits",
    "basic_traits",
    "contact_cards",
    "get_person",
    "is_customer_of",
    "merge_attributes",
    "merge_consent",
    "persons_of_staff",
    "persons_on_day",
    "search_persons",
]
