"""The console's sections, in menu order, with the roles that see each."""

from __future__ import annotations

from dataclasses import dataclass

ALL = ("admin", "operator", "analyst", "guide")
STAFF = ("admin", "operator", "analyst")


@dataclass(frozen=True)
class Section:
    path: str
    label: str  # English message id; translated in the template
    roles: tuple[str, ...]


SECTIONS = (
    Section("/overview", "Consumer assets", STAFF),
    Section("/persons", "Persons", ALL),
    Section("/audiences", "Tags & audiences", STAFF),
    Section("/loyalty", "Membership", STAFF),
    Section("/journeys", "Journeys", STAFF),
    Section("/imports", "Imports & identity", ("admin", "operator")),
    Section("/settings", "Settings", ("admin",)),
)


def sections_for(role: str) -> list[Section]:
    """The sections `role` may open."""
    return [section for section in SECTIONS if role in section.roles]


def home_for(role: str) -> str:
    """Where a user lands after signing in."""
    return sections_for(role)[0].path
