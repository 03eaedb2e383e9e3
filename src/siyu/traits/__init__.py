"""Traits: per-person purchase traits, favourites, RFM and lifecycle, computed in the engine."""

from siyu.traits.compute import TRAITS_SCHEMA, sales
from siyu.traits.online import refresh_purchase_traits
from siyu.traits.schemas import LIFECYCLE_STAGES, ComputeReport, PersonTraitsView
from siyu.traits.service import get_traits, list_traits, run_compute, traits_of_persons
from siyu.traits.storage import iter_previous as iter_trait_facts

__all__ = [
    "LIFECYCLE_STAGES",
    "TRAITS_SCHEMA",
    "ComputeReport",
    "PersonTraitsView",
    "get_traits",
    "iter_trait_facts",
    "list_traits",
    "refresh_purchase_traits",
    "run_compute",
    "sales",
    "traits_of_persons",
]
